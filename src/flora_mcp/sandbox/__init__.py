"""A local, in-memory FLORA-compatible API, for trying flora-mcp without a key and for tests.

`Sandbox` is the ASGI app and its state, `SandboxConfig` what it is told, `Fault` a scripted
misbehaviour (`sandbox.faults.push(route, fault)`), `serve` runs one with uvicorn.

Runs advance on the injected clock, computed when read (see state.py); `progress` is a
0.0-1.0 fraction. Outputs are real PNG / WAV / MP4 files served under /media/ (see media.py).
"""

from flora_mcp.sandbox.app import Sandbox
from flora_mcp.sandbox.config import SandboxConfig
from flora_mcp.sandbox.faults import Fault, FaultQueue
from flora_mcp.sandbox.server import serve, serving
from flora_mcp.sandbox.transport import ConnectionDropped, SandboxTransport

__all__ = [
    "ConnectionDropped",
    "Fault",
    "FaultQueue",
    "Sandbox",
    "SandboxConfig",
    "SandboxTransport",
    "serve",
    "serving",
]

"""Serving a sandbox over a real socket with uvicorn: for the CLI and for wire-level tests.

The socket is bound here, before uvicorn starts, so the port (port 0 = any free one) is known
and a bind failure is a plain OSError; `ready(base_url)` is called once uvicorn is accepting.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

import anyio
import uvicorn
from starlette.types import ASGIApp

from flora_mcp.sandbox.config import SandboxConfig

if TYPE_CHECKING:
    from flora_mcp.sandbox.app import Sandbox


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
    # so, and with Nagle on every keep-alive answer waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _origin(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the program it runs in.

    Inside another server (the MCP server's --sandbox mode, a test), uvicorn's own Ctrl-C
    handling would stop only the sandbox and leave its host running without it.
    """

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _server(app: ASGIApp, *, embedded: bool, lifespan: bool = False) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        # No logging config of uvicorn's own: it would add a stdout handler, and stdout may be
        # the MCP wire of the program hosting the sandbox. Its records go to the host's handlers.
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on" if lifespan else "off",
        timeout_graceful_shutdown=1,
    )
    return _EmbeddedServer(config) if embedded else uvicorn.Server(config)


async def _wait_started(server: uvicorn.Server) -> None:
    while not server.started:
        if server.should_exit:
            raise RuntimeError("the sandbox server stopped before it started")
        await anyio.sleep(0.01)


@asynccontextmanager
async def serving_app(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, lifespan: bool = False
) -> AsyncIterator[str]:
    """Serve any ASGI app in the current event loop while the block runs; yields its origin.

    `lifespan`: run the app's lifespan (an MCP HTTP app needs it; the sandbox has none).
    """
    sock = _bind(host, port)
    server = _server(app, embedded=True, lifespan=lifespan)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve, [sock])
            await _wait_started(server)
            try:
                yield _origin(host, sock)
            finally:
                server.should_exit = True
    finally:
        sock.close()


@asynccontextmanager
async def serving(sandbox: Sandbox, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve `sandbox` in the current event loop while the block runs; yields its base URL."""
    async with serving_app(sandbox.app, host=host, port=port) as origin:
        yield sandbox.base_url(origin)


def serve(
    port: int = 0,
    host: str = "127.0.0.1",
    config: SandboxConfig | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run a sandbox until interrupted (the `flora-mcp sandbox` command); ready(base_url) once up."""
    from flora_mcp.sandbox.app import Sandbox

    sandbox = Sandbox(config)
    sock = _bind(host, port)
    server = _server(sandbox.app, embedded=False)

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve, [sock])
            await _wait_started(server)
            if ready is not None:
                ready(sandbox.base_url(_origin(host, sock)))

    try:
        anyio.run(main)
    except KeyboardInterrupt:
        # Ctrl-C is how a user stops the sandbox: uvicorn has already shut down cleanly.
        pass
    finally:
        sock.close()

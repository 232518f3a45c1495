"""Where a cold start goes, phase by phase, in a fresh interpreter: imports, building the server,
opening the FLORA HTTP client (ours), the first tools/list.

Run as `python -m benchmarks.phases ours|bare`; prints one JSON line.

The imports are the ones the stdio command makes before serving (flora_mcp.cli's path for ours,
`mcp.server` for the bare floor); the list is produced in process, without a transport.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402  (imports are the thing being timed: the clock starts first)
import sys  # noqa: E402
from typing import Any  # noqa: E402


def _ours() -> tuple[float, Any]:
    from flora_mcp import cli  # noqa: F401  (the stdio command's own module, imported first)
    from flora_mcp.logs import configure_logging

    configure_logging("WARNING")  # as the CLI does before serving (it also keeps rich out)
    from flora_mcp.config import Settings
    from flora_mcp.server import create_server
    from flora_mcp.server.wire.transports import run_stdio  # noqa: F401  (the stdio command imports it too)

    imported = time.perf_counter()
    return imported, create_server(Settings(api_key="sk-sandbox", base_url="http://127.0.0.1:9/api/v1"))


def _bare() -> tuple[float, Any]:
    from benchmarks.bare_server import build_server

    imported = time.perf_counter()
    return imported, build_server()


def main() -> None:
    which = sys.argv[1]
    imported, server = _ours() if which == "ours" else _bare()
    built = time.perf_counter()
    if which == "ours":
        # flora-mcp's lifespan opens its FLORA client before the first message is read, the way
        # flora_http builds it: the pool and its TLS context wait for the first FLORA call.
        from flora_mcp.server.flora_http import flora_http_client

        flora_http_client(trust_env=True)
    clients = time.perf_counter()

    import anyio

    anyio.run(server.list_tools)
    listed = time.perf_counter()
    sys.stdout.write(
        json.dumps(
            {
                "imports_ms": (imported - STARTED) * 1000,
                "build_ms": (built - imported) * 1000,
                "http_client_ms": (clients - built) * 1000,
                "first_tools_list_ms": (listed - clients) * 1000,
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()

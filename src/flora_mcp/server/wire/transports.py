"""Serving the server: stdio, Streamable HTTP (stateless) and legacy SSE.

HTTP serving always keeps Host and Origin checking on (DNS-rebinding protection): loopback
names are allowed, plus the hosts named with `allowed_hosts` for a deployment behind a real
name. Binding a public address without naming its hosts therefore answers 421 to remote
callers rather than silently dropping the check. Streamable HTTP runs stateless, so any number
of processes can serve behind a load balancer.

An HTTP request meets, in this order: the Host/Origin check (421/403, http_limits.py), the
Bearer-key gate (401, http_auth.py), the body size limit (413, http_limits.py), then MCP.
Over stdio, broken and oversized lines are answered instead of dropped (wire/stdio.py). The
size limit is the same for both: `max_request_bytes` (FLORA_MAX_REQUEST_BYTES, 1 MiB by default).
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from typing import Any, Literal

import anyio
import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp

from flora_mcp.config import Settings
from flora_mcp.server.wire.http_auth import BearerKeyGate, is_loopback
from flora_mcp.server.wire.http_limits import DEFAULT_MAX_REQUEST_BYTES, BodyLimit, HostOriginCheck
from flora_mcp.server.wire.stdio import serve_stdio

logger = logging.getLogger("flora_mcp.server")

HttpTransport = Literal["streamable-http", "sse"]
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def event_loop_options() -> dict[str, Any]:
    """anyio's asyncio options: uvloop when installed (`pip install 'flora-mcp[uvloop]'`).

    uvloop takes about 0.4 ms of CPU off each stdio tool call (benchmarks item 3) for 4 ms of
    import; uvicorn picks it up by itself for HTTP. Without it, the standard asyncio loop.
    """
    if sys.platform == "win32" or importlib.util.find_spec("uvloop") is None:
        return {}
    return {"use_uvloop": True}


def run_stdio(server: MCPServer[Any], settings: Settings) -> None:
    """Serve MCP over stdin/stdout until the client closes it."""
    anyio.run(
        lambda: serve_stdio(server, max_line_bytes=settings.max_request_bytes), backend_options=event_loop_options()
    )


def transport_security(allowed_hosts: list[str] | None) -> TransportSecuritySettings:
    """Host/Origin checking: loopback names with any port, plus each allowed host."""
    hosts: list[str] = []
    for host in [*LOOPBACK_HOSTS, *(allowed_hosts or [])]:
        host = host.strip().lower()
        if not host:
            continue
        hosts.append(host)
        if not host.endswith("]") and ":" in host.rsplit("]", 1)[-1]:
            continue  # a port is given: exactly that
        hosts.append(f"{host}:*")
    origins = [f"{scheme}://{host}" for host in hosts for scheme in ("http", "https")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=list(dict.fromkeys(hosts)),
        allowed_origins=list(dict.fromkeys(origins)),
    )


def http_app(
    server: MCPServer[Any],
    *,
    host: str,
    transport: HttpTransport,
    allowed_hosts: list[str] | None = None,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
) -> ASGIApp:
    """The ASGI app serving `server` over HTTP, behind the door checks (see the module docstring).

    The server's own key may serve requests that bring none only on a loopback bind.
    """
    security = transport_security(allowed_hosts)
    if transport == "streamable-http":
        app: ASGIApp = server.streamable_http_app(
            streamable_http_path="/mcp",
            stateless_http=True,
            transport_security=security,
            host=host,
            max_request_body_size=max_request_bytes,
        )
    else:
        app = server.sse_app(transport_security=security, host=host, max_request_body_size=max_request_bytes)
    has_own_key = bool(getattr(server, "has_default_key", False))
    lends_key = is_loopback(host) and has_own_key
    if not lends_key:
        why = "not bound to a loopback address" if has_own_key else "no FLORA_API_KEY set"
        logger.info("HTTP requests must bring 'Authorization: Bearer <key>' (%s)", why)
    gated = BearerKeyGate(BodyLimit(app, max_bytes=max_request_bytes), server_key_allowed=lends_key)
    return HostOriginCheck(gated, allowed_hosts=security.allowed_hosts, allowed_origins=security.allowed_origins)


def run_http(
    server: MCPServer[Any],
    settings: Settings,
    host: str,
    port: int,
    transport: HttpTransport,
    allowed_hosts: list[str] | None,
) -> None:
    """Serve MCP over Streamable HTTP (at /mcp) or SSE (at /sse) with uvicorn until interrupted."""
    if not is_loopback(host) and not allowed_hosts:
        logger.warning(
            "serving on %s without --allowed-host: only loopback Host headers are accepted; name the "
            "host(s) clients use to reach this server",
            host,
        )
    app = http_app(
        server,
        host=host,
        transport=transport,
        allowed_hosts=allowed_hosts,
        max_request_bytes=settings.max_request_bytes,
    )
    # log_config=None: uvicorn's loggers propagate to ours (JSON on stderr) instead of its defaults.
    config = uvicorn.Config(app, host=host, port=port, log_config=None, log_level=settings.log_level.lower())
    uvicorn.Server(config).run()

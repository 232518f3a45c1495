"""Serving the server: stdio, Streamable HTTP (stateless) and legacy SSE.

HTTP serving always keeps Host and Origin checking on (DNS-rebinding protection): loopback
names are allowed, plus the hosts named with `allowed_hosts` for a deployment behind a real
name. Binding a public address without naming its hosts therefore answers 421 to remote
callers rather than silently dropping the check. Streamable HTTP runs stateless, so any number
of processes can serve behind a load balancer.

An HTTP connection meets the connection rules first (a deadline for the request head, a cap
on open connections, idle ones dropped first, large answers written piece by piece to clients
that read them: http_connections.py). A request then meets, in
this order: the Host/Origin check (421/403, http_limits.py), the Bearer-key gate (401 without a key
unless --lend-server-key, http_auth.py), the body limits (413 too large, 408 too slow, 503 too many slow ones:
http_limits.py), for a `resources/read` over Streamable HTTP a large-read slot (at most 1 such answer
made and written at once; 503 with a JSON-RPC "busy" error after a wait: http_large_reads.py), the
concurrency limit (503 after a short wait), then MCP.
Over stdio, broken and oversized lines are answered instead of dropped (stdio.py). The
size limit is the same for both: `max_request_bytes` (FLORA_MAX_REQUEST_BYTES, 1 MiB by default).
"""

from __future__ import annotations

import logging
import math
import socket
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, Literal

import anyio
import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp

from flora_mcp.config import Settings
from flora_mcp.server.wire.http_auth import BearerKeyGate, KeyLending, is_loopback
from flora_mcp.server.wire.http_large_reads import DEFAULT_MAX_LARGE_READS, LargeReadLimit
from flora_mcp.server.wire.http_limits import DEFAULT_MAX_REQUEST_BYTES, BodyLimit, ConcurrencyLimit, HostOriginCheck
from flora_mcp.server.wire.http_strict_json import StrictJsonBody
from flora_mcp.server.wire.stdio import serve_stdio

logger = logging.getLogger("flora_mcp.server")

HttpTransport = Literal["streamable-http", "sse"]
ServerFactory = Callable[[str | None], MCPServer[Any]]
"""Makes the server to serve, given the URL of what is served beside it (the sandbox's), if anything.

The command line decides what is served (the sandbox or FLORA, which store): every transport
gets this factory and builds the server once it is about to serve."""
ServedBeside = Callable[[], AbstractAsyncContextManager[str]]
"""Something served in the same event loop for the whole process, yielding its URL (the sandbox)."""
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def run_stdio(make_server: ServerFactory, settings: Settings) -> None:
    """Serve MCP over stdin/stdout until the client closes it."""
    server = make_server(None)
    # The standard asyncio loop: with stdin and stdout watched by it directly (wire/pipes.py),
    # uvloop no longer made calls faster (measured side by side), and cost 3-4 ms of every start.
    anyio.run(lambda: serve_stdio(server, max_line_bytes=settings.max_request_bytes))


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
    lend_server_key: bool = False,
    max_concurrency: int | None = None,
    max_slow_bodies: int | None = None,
    body_timeout: float = math.inf,
    max_large_reads: int = DEFAULT_MAX_LARGE_READS,
) -> ASGIApp:
    """The ASGI app serving `server` over HTTP, behind the door checks (see the module docstring).

    The server's own key serves requests that bring none only with `lend_server_key`
    (http_auth.py). `max_concurrency`, `max_slow_bodies` and `body_timeout` are off unless given (tests
    build bare apps; `run_http` gives them from the settings).
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
    lending = KeyLending(has_server_key=bool(getattr(server, "has_default_key", False)), lend=lend_server_key)
    if max_concurrency is not None:
        app = ConcurrencyLimit(app, max_concurrency=max_concurrency)
    if transport == "streamable-http":
        # Outside the concurrency limit: a read waiting for a slot holds no request turn. Inside
        # BodyLimit: the body it reads is already bounded and whole.
        app = LargeReadLimit(app, max_reads=max_large_reads)
    # Inside BodyLimit, so the body it reads is bounded: no NaN, Infinity or repeated key gets through.
    app = StrictJsonBody(app)
    limited = BodyLimit(app, max_bytes=max_request_bytes, body_timeout=body_timeout, max_slow_bodies=max_slow_bodies)
    gated = BearerKeyGate(limited, lending=lending)
    return HostOriginCheck(gated, allowed_hosts=security.allowed_hosts, allowed_origins=security.allowed_origins)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (0: any free port). Raises OSError (port in use...) before serving."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # IPPROTO_TCP named: asyncio turns Nagle off only on sockets that say so (see sandbox/server.py).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(host: str, sock: socket.socket, path: str) -> str:
    shown = host.strip("[]")
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{sock.getsockname()[1]}{path}"


def run_http(
    make_server: ServerFactory,
    settings: Settings,
    *,
    host: str,
    port: int,
    transport: HttpTransport,
    allowed_hosts: list[str] | None,
    lending: KeyLending,
    beside: ServedBeside | None = None,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Serve MCP over Streamable HTTP (at /mcp) or SSE (at /sse) with uvicorn until interrupted.

    The port is bound first, so a port in use is an OSError here (the CLI's one-line error), and
    `--port 0` is known. `beside` (the sandbox) is served once for the whole process, and its URL
    handed to `make_server`. `lending` says whether the server's own key serves requests that bring
    none. Once both accept connections, `announce` gets one line: where MCP is (and the sandbox).
    """
    if not is_loopback(host) and not allowed_hosts:
        logger.warning(
            "serving on %s without --allowed-host: only loopback Host headers are accepted; name the "
            "host(s) clients use to reach this server",
            host,
        )
    sock = bind(host, port)
    try:
        anyio.run(_serve_http, make_server, settings, host, sock, transport, allowed_hosts, lending, beside, announce)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how an operator stops the server; uvicorn has shut down cleanly
    finally:
        sock.close()


async def _serve_http(
    make_server: ServerFactory,
    settings: Settings,
    host: str,
    sock: socket.socket,
    transport: HttpTransport,
    allowed_hosts: list[str] | None,
    lending: KeyLending,
    beside: ServedBeside | None,
    announce: Callable[[str], None] | None,
) -> None:
    # Here, not at the top: the connection guard brings h11 (6 ms), which stdio never uses.
    from flora_mcp.server.wire.http_connections import (
        ACCEPT_BACKLOG,
        connection_cap,
        guarded_protocol,
        raise_open_file_limit,
    )

    async with AsyncExitStack() as stack:
        sandbox_url = await stack.enter_async_context(beside()) if beside is not None else None
        server = make_server(sandbox_url)
        app = http_app(
            server,
            host=host,
            transport=transport,
            allowed_hosts=allowed_hosts,
            max_request_bytes=settings.max_request_bytes,
            lend_server_key=lending.lend,
            max_concurrency=settings.http_max_concurrency,
            max_slow_bodies=settings.http_max_slow_bodies,
            body_timeout=settings.http_body_timeout,
            max_large_reads=settings.http_max_large_reads,
        )
        files = raise_open_file_limit()
        cap = connection_cap(
            settings.http_max_connections, max_concurrency=settings.http_max_concurrency, open_file_limit=files
        )
        protocol, _ = guarded_protocol(
            max_connections=cap, header_timeout=settings.http_header_timeout, write_timeout=settings.http_write_timeout
        )
        logger.info("HTTP door: at most %d connections (open-file limit %d)", cap, files)
        config = uvicorn.Config(
            app,
            http=protocol,
            # log_config=None: uvicorn's loggers propagate to ours (JSON on stderr) instead of its defaults.
            log_config=None,
            log_level=settings.log_level.lower(),
            timeout_keep_alive=max(1, math.ceil(settings.http_idle_timeout)),
            # The peer address is what it is: X-Forwarded-For must not make a proxied request look local
            # (http_auth lends the server's key by the real peer).
            proxy_headers=False,
            backlog=ACCEPT_BACKLOG,
            timeout_graceful_shutdown=5,
        )
        uv = uvicorn.Server(config)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(uv.serve, [sock])
            while not uv.started:
                if uv.should_exit:
                    return
                await anyio.sleep(0.02)
            if announce is not None:
                path = "/sse" if transport == "sse" else "/mcp"
                line = f"flora-mcp: MCP ({transport}) at {url_of(host, sock, path)}"
                if sandbox_url is not None:
                    line += f"; sandbox FLORA API at {sandbox_url}"
                announce(f"{line}; {lending.describe()}")

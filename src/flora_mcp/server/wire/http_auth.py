"""Whose FLORA key a request uses over HTTP, and refusing requests that bring none.

Rules (stdio has no headers and always uses the server's key):

- a request's own `Authorization: Bearer <key>` is used for that request only;
- a request without one uses the server's FLORA_API_KEY only when the server listens on a
  loopback address (the caller is on this machine, like a stdio client would be);
- otherwise the request is refused with HTTP 401 before it reaches MCP.

The key is never logged, and the 401 body never echoes what was sent.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from typing import Any, cast

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from flora_mcp.server.wire.http_limits import refuse

logger = logging.getLogger("flora_mcp.server")

_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; False for 0.0.0.0 and every other address."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def request_headers(ctx: Any) -> Mapping[str, str] | None:
    """The HTTP headers of the request `ctx` serves: a tool's Context or a method handler's request context."""
    headers = getattr(ctx, "headers", None)
    if headers is None:
        # A lowlevel ServerRequestContext (extension methods such as tasks/get) carries the request itself.
        headers = getattr(getattr(ctx, "request", None), "headers", None)
    return cast("Mapping[str, str] | None", headers)


def bearer_key(headers: Mapping[str, str] | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header, or None when there is none."""
    if not headers:
        return None
    value = headers.get("authorization") or headers.get("Authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        return None
    return token


class BearerKeyGate:
    """ASGI middleware: refuse (401) HTTP requests without a Bearer key unless the server's may serve them."""

    def __init__(self, app: ASGIApp, *, server_key_allowed: bool) -> None:
        self.app = app
        self.server_key_allowed = server_key_allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.server_key_allowed or bearer_key(Headers(scope=scope)):
            await self.app(scope, receive, send)
            return
        logger.info("refused an HTTP request without a Bearer key", extra={"path": scope.get("path")})
        await refuse(
            send,
            401,
            "unauthorized",
            "Send your FLORA API key as 'Authorization: Bearer <key>'. This server does not lend "
            "its own key to requests from other machines.",
            [(b"www-authenticate", b'Bearer realm="flora-mcp"')],
        )

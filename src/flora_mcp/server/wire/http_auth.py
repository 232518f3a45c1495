"""Whose FLORA key a request uses over HTTP, and refusing requests that bring none.

Rules (stdio has no headers and always uses the server's key: it is the stdio user's own):

- a request's own `Authorization: Bearer <key>` is used for that request only; a Bearer header
  whose key is malformed (spaces, control or non-ASCII characters) is refused, never replaced
  by the server's key;
- a request without one uses the server's FLORA_API_KEY only when the operator said so:
  `--lend-server-key` (FLORA_LEND_SERVER_KEY), or `--sandbox`, whose key spends nothing;
- otherwise the request is refused with HTTP 401 before it reaches MCP.

Why no "it comes from this machine" rule: a proxy on the same host (nginx with a bare
`proxy_pass`) delivers the internet's requests from 127.0.0.1, with a loopback Host header and
no forwarding header, so nothing in a request tells a local caller from a proxied one. Only the
operator knows whether the server's key may be spent by whoever reaches the port.

The key is never logged, and the 401 body never echoes what was sent.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from flora_mcp.keys import key_problem
from flora_mcp.server.wire.http_limits import refuse

logger = logging.getLogger("flora_mcp.server")

_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
HOW_TO_SEND = "Send your FLORA API key as 'Authorization: Bearer <FLORA key>'"
REQUEST_KEY = "flora_key"  # the request's own key (None: the server's is lent), in the ASGI scope's state


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
    """The key of an `Authorization: Bearer <key>` header, or None when there is no usable one."""
    if not headers:
        return None
    value = headers.get("authorization") or headers.get("Authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or key_problem(token) is not None:
        return None
    return token


def _says_bearer(headers: Headers) -> bool:
    """An Authorization header of the Bearer scheme (whatever its key)."""
    return headers.get("authorization", "").strip().partition(" ")[0].lower() == "bearer"


@dataclass(frozen=True)
class KeyLending:
    """Whether the server's own key serves HTTP requests that bring none (see the module docstring)."""

    has_server_key: bool
    lend: bool = False  # --lend-server-key, or the sandbox's key
    reason: str = "--lend-server-key"  # why it lends, for the start line

    def refusal(self) -> str | None:
        """The 401's message for a request without a key, or None when the server's key serves it."""
        if self.has_server_key and self.lend:
            return None
        if not self.has_server_key:
            return f"{HOW_TO_SEND}: this server has no key of its own."
        return (
            f"{HOW_TO_SEND}. This server does not spend its own key on requests without one; "
            "its operator can allow that by starting it with --lend-server-key."
        )

    def describe(self) -> str:
        """A few words for the start line: what a request without a key gets."""
        if self.has_server_key and self.lend:
            return f"requests without a key use the server's key ({self.reason})"
        if not self.has_server_key:
            return "every request must send 'Authorization: Bearer <FLORA key>' (the server has no key)"
        return "every request must send 'Authorization: Bearer <FLORA key>' (--lend-server-key lends the server's)"


class BearerKeyGate:
    """ASGI middleware: refuse (401) HTTP requests without a Bearer key unless the server's may serve them."""

    def __init__(self, app: ASGIApp, *, lending: KeyLending) -> None:
        self.app = app
        self.lending = lending

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = bearer_key(headers)  # the one parse of the header for this request
        if key is None and _says_bearer(headers):  # a Bearer header whose key cannot be one
            logger.info("refused an HTTP request with a malformed Bearer key", extra={"path": scope.get("path")})
            await self._refuse(
                send,
                "The key in 'Authorization: Bearer <key>' is malformed (a space, control or non-ASCII character); "
                "send the FLORA API key exactly, as one word.",
            )
            return
        why = None if key else self.lending.refusal()
        if why is None:
            # Parsed here once: the MCP layer builds the request's caller from it (server/context.py).
            scope.setdefault("state", {})[REQUEST_KEY] = key
            await self.app(scope, receive, send)
            return
        logger.info("refused an HTTP request without a Bearer key", extra={"path": scope.get("path")})
        await self._refuse(send, why)

    @staticmethod
    async def _refuse(send: Send, message: str) -> None:
        await refuse(send, 401, "unauthorized", message, [(b"www-authenticate", b'Bearer realm="flora-mcp"')])

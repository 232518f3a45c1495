"""Whose FLORA key a request uses over HTTP, and refusing requests that bring none.

Rules (stdio has no headers and always uses the server's key):

- a request's own `Authorization: Bearer <key>` is used for that request only; a Bearer header
  whose key is malformed (spaces, control or non-ASCII characters) is refused, never replaced
  by the server's key;
- a request without one uses the server's FLORA_API_KEY only when it really comes from this
  machine, like a stdio client would: the server listens on a loopback address, every
  `--allowed-host` is a loopback name, the peer address is loopback, and the request carries no
  forwarding header (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `Via`). A proxy on the same host
  makes every request look local, and those headers are how it says it is one;
- the operator can lend the key to every request anyway (`--lend-server-key`,
  FLORA_LEND_SERVER_KEY) when a proxy in front authenticates its users;
- otherwise the request is refused with HTTP 401 before it reaches MCP.

The key is never logged, and the 401 body never echoes what was sent.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from flora_mcp.keys import key_problem
from flora_mcp.server.wire.http_limits import refuse

logger = logging.getLogger("flora_mcp.server")

LOCAL_ONLY = "this server lends its own key only to requests from this machine"
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-real-ip", "via")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; False for 0.0.0.0 and every other address."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(host_and_port: str) -> str:
    """The host of "name", "name:port", "[v6]" or "[v6]:port"."""
    value = host_and_port.strip()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


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


def _malformed_bearer(headers: Headers) -> bool:
    """A Bearer header is present but its key cannot be one (see flora_mcp.keys.key_problem)."""
    scheme = headers.get("authorization", "").strip().partition(" ")[0]
    return scheme.lower() == "bearer" and bearer_key(headers) is None


@dataclass(frozen=True)
class KeyLending:
    """When the server's own key may serve an HTTP request that brings none (see the module docstring)."""

    has_server_key: bool
    local_door: bool  # bound to loopback and answering only loopback Host names
    lend_always: bool = False  # --lend-server-key

    @classmethod
    def for_door(
        cls, *, has_server_key: bool, host: str, allowed_hosts: Iterable[str] | None, lend_always: bool = False
    ) -> KeyLending:
        local = is_loopback(host) and all(is_loopback(host_name(h)) for h in allowed_hosts or () if h.strip())
        return cls(has_server_key=has_server_key, local_door=local, lend_always=lend_always)

    def refusal(self, scope: Scope) -> str | None:
        """Why the server's key may not serve this request, or None when it may."""
        if not self.has_server_key:
            return "this server has no key of its own to lend"
        if self.lend_always:
            return None
        if not self.local_door:
            return LOCAL_ONLY
        headers = Headers(scope=scope)
        if any(name in headers for name in FORWARDING_HEADERS):
            return f"this request came through a proxy, and {LOCAL_ONLY}"
        client = scope.get("client")
        if not client or not is_loopback(str(client[0])):
            return LOCAL_ONLY
        return None

    def describe(self) -> str:
        """One line for the start-up log: who may use the server's key."""
        if not self.has_server_key:
            return "no FLORA_API_KEY set: every HTTP request must bring 'Authorization: Bearer <key>'"
        if self.lend_always:
            return "--lend-server-key: HTTP requests without a key use FLORA_API_KEY, from anywhere"
        if not self.local_door:
            return (
                "not a loopback-only door (--host or --allowed-host): every HTTP request must bring "
                "'Authorization: Bearer <key>' (--lend-server-key lends FLORA_API_KEY behind an authenticating proxy)"
            )
        return "HTTP requests from this machine without a key use FLORA_API_KEY; proxied requests must bring one"


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
        if _malformed_bearer(headers):
            logger.info("refused an HTTP request with a malformed Bearer key", extra={"path": scope.get("path")})
            await self._refuse(
                send,
                "The key in 'Authorization: Bearer <key>' is malformed (a space, control or non-ASCII character); "
                "send the FLORA API key exactly, as one word.",
            )
            return
        why = None if bearer_key(headers) else self.lending.refusal(scope)
        if why is None:
            await self.app(scope, receive, send)
            return
        logger.info("refused an HTTP request without a Bearer key", extra={"path": scope.get("path"), "why": why})
        await self._refuse(send, f"Send your FLORA API key as 'Authorization: Bearer <key>': {why}.")

    @staticmethod
    async def _refuse(send: Send, message: str) -> None:
        await refuse(send, 401, "unauthorized", message, [(b"www-authenticate", b'Bearer realm="flora-mcp"')])

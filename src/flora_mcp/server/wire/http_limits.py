"""Refusals at the HTTP door: foreign Host or Origin headers, bodies too big or too slow, too many requests.

The checks run before anything else sees the request, on every path and method:

- `HostOriginCheck` answers 421 to a Host header the server was not told to answer to, and 403
  to an Origin header outside the allowed origins (DNS-rebinding protection). The MCP SDK makes
  the same checks, but only on its own routes and only after its Content-Type check, so a page
  in a browser posting `text/plain` from a rebound name would get 400 instead; here the answer
  is always 421/403, before the Bearer-key gate and before the body is read.
- `BodyLimit` answers 413 to a body over `max_bytes`: when Content-Length says so, or as soon as
  the bytes read pass the limit. An oversized body is never held: the rest of it is read and
  dropped, so a client still sending gets to read the 413; past a bound (8 MiB, or 4 times the
  limit) the server stops reading and closes the connection instead. A body that has not fully
  arrived within `body_timeout` is answered 408, and at most `max_slow_bodies` bodies may be
  arriving at once (each holds at most `max_bytes`): a slow body past that gets 503. A body that
  is in within `SLOW_AFTER` seconds of its headers, as every normal call's is, needs no slot.
- `ConcurrencyLimit` lets at most `max_concurrency` POSTs (MCP messages) be handled at once; the
  next ones wait up to `queue_timeout` for a turn, then get 503 with Retry-After.

Connections themselves are limited in http_connections.py. The answers are small JSON objects
(`error`, `message`) that never echo what was sent.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("flora_mcp.server")

DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024  # 1 MiB: far above any real tool call (a prompt is ≤ 20,000 chars)
DRAIN_BYTES = 8 * 1024 * 1024
CLOSE = [(b"connection", b"close")]
# A body still arriving this long after its headers is a slow one, and needs one of the slots.
SLOW_AFTER = 0.5


async def refuse(
    send: Send, status: int, error: str, message: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Answer `status` with {"error", "message"} as JSON."""
    body = json.dumps({"error": error, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _matches(value: str, allowed: list[str]) -> bool:
    """`value` is in `allowed` exactly, or matches an entry "name:*" with a numeric port."""
    if value in allowed:
        return True
    base, colon, port = value.rpartition(":")
    return bool(colon) and port.isdigit() and f"{base}:*" in allowed


class HostOriginCheck:
    """ASGI middleware: 421 for a Host, 403 for an Origin the server does not answer to."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: list[str], allowed_origins: list[str]) -> None:
        self.app = app
        # Host names and URL schemes are case-insensitive; compare them in lower case.
        self.allowed_hosts = [h.lower() for h in allowed_hosts]
        self.allowed_origins = [o.lower() for o in allowed_origins]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "").strip().lower()
        if not host or not _matches(host, self.allowed_hosts):
            logger.warning("refused a request for a host this server does not answer to", extra={"status": 421})
            await refuse(
                send,
                421,
                "misdirected_request",
                "This server does not answer to that Host. Reach it by a loopback name (127.0.0.1, localhost) "
                "or start it with --allowed-host naming the host clients use.",
            )
            return
        origin = headers.get("origin")
        if origin is not None and not _matches(origin.strip().lower(), self.allowed_origins):
            logger.warning("refused a request from a foreign origin", extra={"status": 403})
            await refuse(
                send,
                403,
                "forbidden_origin",
                "Requests from this web origin are not accepted (DNS-rebinding protection).",
            )
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: 413 for a request body over `max_bytes`, 408 for one too slow; the app gets it only whole."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        body_timeout: float = math.inf,
        max_slow_bodies: int | None = None,
    ) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout = body_timeout
        # Bodies that did not arrive with their headers; each may hold up to max_bytes here.
        self.slow_bodies = anyio.CapacityLimiter(max_slow_bodies) if max_slow_bodies else None
        # How much of a refused body is read (and dropped) so the client, still sending, is not
        # cut off by a reset before it reads the 413. Past this the connection is simply closed.
        self.drain_bytes = max(4 * max_bytes, DRAIN_BYTES)

    async def _too_large(self, send: Send, *, drained: bool) -> None:
        logger.warning("refused a request body over %d bytes", self.max_bytes, extra={"status": 413})
        await refuse(
            send,
            413,
            "request_too_large",
            f"The request body is over this server's limit of {self.max_bytes} bytes. Send less (a tool call "
            "is normally a few kilobytes), or raise the limit with FLORA_MAX_REQUEST_BYTES.",
            # A body not read to its end leaves the connection unusable for another request.
            [] if drained else CLOSE,
        )

    async def _drain(self, receive: Receive, more_body: bool, budget: int) -> bool:
        """Read and drop the rest of the body, at most `budget` bytes; True when it ended within that."""
        with anyio.move_on_after(self.body_timeout):
            while more_body:
                message = await receive()
                if message["type"] != "http.request":
                    return False
                budget -= len(message.get("body", b""))
                if budget < 0:
                    return False
                more_body = message.get("more_body", False)
            return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "").strip()
        if declared.isdigit() and int(declared) > self.max_bytes:
            drained = int(declared) <= self.drain_bytes and await self._drain(receive, True, self.drain_bytes)
            await self._too_large(send, drained=drained)
            return
        # Read the body up to the limit before the app runs, so the app never starts on a
        # request that is then refused half-way (and a lying Content-Length changes nothing).
        body = _Body(receive, self.max_bytes)
        deadline = anyio.current_time() + self.body_timeout
        with anyio.move_on_after(min(SLOW_AFTER, self.body_timeout)):
            await body.read()  # a normal body is in within moments, with its headers or just after
        if not body.ended and self.slow_bodies is not None:
            try:
                self.slow_bodies.acquire_nowait()
            except anyio.WouldBlock:
                await self._too_many_slow(send)
                return
            try:
                with anyio.move_on_at(deadline):
                    await body.read()
            finally:
                self.slow_bodies.release()
        elif not body.ended:
            with anyio.move_on_at(deadline):
                await body.read()
        if body.too_large:
            drained = await self._drain(receive, body.more, self.drain_bytes - body.size)
            await self._too_large(send, drained=drained)
        elif body.gone:
            return  # the client left before its body arrived: there is no one to answer
        elif not body.ended:
            await self._too_slow(send)
        else:
            whole: list[Message] = [{"type": "http.request", "body": b"".join(body.chunks), "more_body": False}]

            async def replay() -> Message:
                # The whole body once, then whatever comes next (a disconnect, while the app answers).
                return whole.pop() if whole else await receive()

            await self.app(scope, replay, send)

    async def _too_many_slow(self, send: Send) -> None:
        logger.warning("refused a slow request body: too many bodies arriving at once", extra={"status": 503})
        await refuse(
            send,
            503,
            "too_many_slow_requests",
            "Too many requests are still sending their bodies to this server; send the whole request at once, "
            "or try again in a few seconds.",
            [*CLOSE, (b"retry-after", b"5")],
        )

    async def _too_slow(self, send: Send) -> None:
        logger.warning("refused a request body that took over %g s", self.body_timeout, extra={"status": 408})
        await refuse(
            send,
            408,
            "request_timeout",
            f"The request body did not arrive within {self.body_timeout:g} s; send the whole request at once.",
            CLOSE,
        )


class _Body:
    """A request body being read, up to a limit; `read()` may be cancelled and called again."""

    def __init__(self, receive: Receive, max_bytes: int) -> None:
        self._receive = receive
        self.max_bytes = max_bytes
        self.chunks: list[bytes] = []
        self.size = 0
        self.more = True  # more body to come
        self.ended = False  # read whole, or stopped for a reason below
        self.too_large = False
        self.gone = False  # the client disconnected

    async def read(self) -> None:
        while not self.ended:
            message = await self._receive()
            # No await from here to the end of the loop: a cancellation cannot lose a chunk.
            if message["type"] != "http.request":
                self.gone = self.ended = True
                return
            chunk = message.get("body", b"")
            self.size += len(chunk)
            self.more = message.get("more_body", False)
            if self.size > self.max_bytes:
                self.too_large = self.ended = True
                return
            self.chunks.append(chunk)
            self.ended = not self.more


class ConcurrencyLimit:
    """ASGI middleware: at most `max_concurrency` POSTs handled at once; the rest wait `queue_timeout`, then 503.

    Only POSTs count: they carry MCP messages. A GET is an event stream that stays open for a
    whole session (legacy SSE) and must not hold a turn for as long as it lives.
    """

    def __init__(self, app: ASGIApp, *, max_concurrency: int, queue_timeout: float = 10.0) -> None:
        self.app = app
        self.turns = anyio.CapacityLimiter(max_concurrency)
        self.queue_timeout = queue_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        acquired = False
        with anyio.move_on_after(self.queue_timeout):
            await self.turns.acquire()
            acquired = True
        if acquired:
            try:
                await self.app(scope, receive, send)
            finally:
                self.turns.release()
            return
        logger.warning("refused a request: %d already being handled", self.turns.total_tokens, extra={"status": 503})
        await refuse(
            send,
            503,
            "server_busy",
            "This server is handling as many requests as it allows; try again in a few seconds.",
            [(b"retry-after", b"2")],
        )

"""Connections at the HTTP door: a deadline for headers, a cap on open connections, idle ones dropped first.

uvicorn waits as long as a client likes for a request's headers, and keeps every connection it
accepts; 200 clients that connect and send half a request line would hold 200 sockets forever,
and at the open-file limit every new caller is turned away (while asyncio logs each failed
accept). The protocol built by `guarded_protocol` (uvicorn's h11 protocol, plus):

- a connection must deliver a complete request head within `header_timeout` seconds of
  connecting, or of sending the first byte of its next request on a kept-alive connection;
  otherwise it is closed. Between requests, uvicorn's keep-alive timeout applies;
- at most `max_connections` connections are open, so a flood of idle clients cannot lock out
  callers that send requests: the one over the cap closes the connection that has waited
  longest without delivering a complete request: no request head
  yet (counted from connecting) or a body still arriving (counted from its head). A real client
  delivers within moments, so the longest waiter is the slow or idle one. Kept-alive connections
  idle between requests (proven clients) go only when there is no such waiter. When every
  open connection is busy with a request that has fully arrived, the newcomer itself is closed;
- `max_connections` is kept below the process's open-file limit (`connection_cap`), leaving
  room for FLORA calls and the server's own files, so accept() does not run out of descriptors;
- a large answer (a `resources/read` of an output is ~90 MB of base64) is handed to the socket
  in CHUNK-sized pieces, each only once the socket's buffer has drained (uvicorn waits at the
  transport's high-water mark between body messages, but one ~90 MB message went into the
  buffer whole, where a client that never reads pinned it). What a slow reader holds is then the
  rest of its answer, not copies of it, and two rules free it: a connection whose client
  reads nothing for `write_timeout` seconds is aborted (its buffers dropped), and when the
  answers held by stalled connections pass `stalled_answer_bytes` together, the longest-stalled
  is aborted first. A client that reads steadily, however slowly, is never stalled for long.

Body deadlines and request concurrency live in http_limits.py (ASGI middleware).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flora_mcp.server.sdk_internals import H11Protocol  # uvicorn's, internal: see that module

logger = logging.getLogger("flora_mcp.server")


# Descriptors kept for everything but incoming connections: stdio, logs, the sandbox, TLS
# contexts, one outbound FLORA connection per request handled at once, and one accept burst.
BASE_RESERVE = 32
# asyncio accepts up to `backlog` connections in one go before any of them is seen (and the cap
# can close one), so the listen backlog is also the size of a burst the reserve must absorb.
ACCEPT_BACKLOG = 64
MAX_SOFT_LIMIT = 65536


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one (at most 65,536); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_SOFT_LIMIT if hard == resource.RLIM_INFINITY else min(hard, MAX_SOFT_LIMIT)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):  # pragma: no cover - a platform that refuses
            pass
    return MAX_SOFT_LIMIT if soft == resource.RLIM_INFINITY else int(soft)


def connection_cap(configured: int, *, max_concurrency: int, open_file_limit: int) -> int:
    """The connections to allow: `configured`, kept below the open-file limit minus what the server needs."""
    room = open_file_limit - BASE_RESERVE - ACCEPT_BACKLOG - max_concurrency
    return max(8, min(configured, room))


@dataclass
class DoorStats:
    """What the door did, for logs and tests."""

    closed_slow: int = 0  # no complete request head in time
    evicted: int = 0  # closed to make room for a newer connection
    refused: int = 0  # arrived when every connection was busy
    slow_readers: int = 0  # aborted: read nothing of an answer in time, or held the most when over the budget


# Pieces a large answer body is written in; about uvicorn's write high-water mark (64 KiB).
CHUNK = 64 * 1024
DEFAULT_WRITE_TIMEOUT = 30.0
# Undelivered answer bytes that stalled connections may hold together: a few large answers.
DEFAULT_STALLED_ANSWER_BYTES = 256 * 1024 * 1024


def guarded_protocol(
    *,
    max_connections: int,
    header_timeout: float,
    write_timeout: float = DEFAULT_WRITE_TIMEOUT,
    stalled_answer_bytes: int = DEFAULT_STALLED_ANSWER_BYTES,
) -> tuple[type[H11Protocol], DoorStats]:
    """A uvicorn HTTP protocol class enforcing the rules of the module docstring, and its counters.

    Each call makes a new class, so the idle-connection book is per server.
    """
    stats = DoorStats()

    class GuardedH11Protocol(H11Protocol):
        # Connections with no request in progress, oldest first (dicts keep insertion order):
        # those that never completed a request, and kept-alive ones that did.
        never_served: ClassVar[dict[GuardedH11Protocol, None]] = {}
        kept_alive: ClassVar[dict[GuardedH11Protocol, None]] = {}
        # Connections whose socket buffer is full (the client is not reading), longest-stalled first.
        stalled: ClassVar[dict[GuardedH11Protocol, None]] = {}

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_deadline: asyncio.TimerHandle | None = None
            self._served = False
            self._born = self.loop.time()  # when the connection, then its current request, began
            self._write_deadline: asyncio.TimerHandle | None = None
            self._held = 0  # bytes of the answer being written not yet handed to the socket
            self.app = self._chunked(self.app)

        def _chunked(self, app: ASGIApp) -> ASGIApp:
            """`app`, with its large response bodies written CHUNK by CHUNK (see the module docstring)."""

            async def chunked(scope: Scope, receive: Receive, send: Send) -> None:
                async def send_chunked(message: Message) -> None:
                    body = message.get("body", b"") if message["type"] == "http.response.body" else b""
                    if len(body) <= CHUNK:
                        await send(message)
                        return
                    more = message.get("more_body", False)
                    try:
                        for start in range(0, len(body), CHUNK):
                            if self.transport.is_closing():
                                return  # aborted: the rest is dropped, and with it the answer
                            self._held = len(body) - start
                            piece = {"type": "http.response.body", "body": body[start : start + CHUNK]}
                            await send({**piece, "more_body": more or start + CHUNK < len(body)})
                    finally:
                        self._held = 0

                await app(scope, receive, send_chunked)

            return chunked

        def _busy(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _arm(self) -> None:
            if self._head_deadline is None:
                self._head_deadline = self.loop.call_later(header_timeout, self._head_too_slow)

        def _disarm(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _wait(self) -> None:
            self._unwait()
            (self.kept_alive if self._served else self.never_served)[self] = None

        def _unwait(self) -> None:
            self.never_served.pop(self, None)
            self.kept_alive.pop(self, None)

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._wait()
            self._arm()
            if len(self.connections) > max_connections:
                self._make_room()

        def _make_room(self) -> None:
            victim = self._victim()
            if victim is None:
                stats.refused += 1
                logger.debug("closed a new connection: every open connection is busy")
                victim = self
            else:
                stats.evicted += 1
            victim._unwait()
            victim._disarm()
            victim.transport.close()

        def _victim(self) -> GuardedH11Protocol | None:
            """The connection to close for a newcomer, by the rule of the module docstring."""
            fresh = next((c for c in self.never_served if c is not self), None)
            upload = self._oldest_upload()
            waiters = [c for c in (fresh, upload) if c is not None]
            if waiters:
                return min(waiters, key=lambda c: c._born)
            return next((c for c in self.kept_alive if c is not self), None)

        def _oldest_upload(self) -> GuardedH11Protocol | None:
            """The connection longest in a request whose body has not fully arrived, if any."""
            uploads = [
                c
                for c in self.connections
                if isinstance(c, GuardedH11Protocol)
                and c is not self
                and c._busy()
                and c.conn.their_state is h11.SEND_BODY
                and not c.transport.is_closing()
            ]
            return min(uploads, key=lambda c: c._born, default=None)

        def data_received(self, data: bytes) -> None:
            was_busy = self._busy()
            if not was_busy:
                self._arm()  # the first byte of a request: its head must follow in time
            super().data_received(data)
            if self._busy() and not was_busy:
                self._born = self.loop.time()  # a request began: a slow upload is aged from here
                self._unwait()
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._served = True
            if not self._busy() and not self.transport.is_closing():
                self._wait()  # idle under uvicorn's keep-alive timeout until the next request

        def connection_lost(self, exc: Exception | None) -> None:
            self._unwait()
            self._disarm()
            self._unstall()
            super().connection_lost(exc)

        def pause_writing(self) -> None:
            super().pause_writing()
            self.stalled[self] = None
            if self._write_deadline is None:
                self._write_deadline = self.loop.call_later(write_timeout, self._drop_reader)
            self._keep_stalled_within_budget()

        def resume_writing(self) -> None:
            super().resume_writing()
            self._unstall()

        def _unstall(self) -> None:
            self.stalled.pop(self, None)
            if self._write_deadline is not None:
                self._write_deadline.cancel()
                self._write_deadline = None

        def _keep_stalled_within_budget(self) -> None:
            while sum(c._held for c in self.stalled) > stalled_answer_bytes:
                next(iter(self.stalled))._drop_reader()

        def _drop_reader(self) -> None:
            """Abort a connection whose client does not read: abort, not close, drops its buffers now."""
            self._unstall()
            stats.slow_readers += 1
            logger.info("closed a connection whose client did not read its answer")
            self.transport.abort()

        def _head_too_slow(self) -> None:
            self._head_deadline = None
            if self._busy() or self.transport.is_closing():
                return
            stats.closed_slow += 1
            self._unwait()
            self.transport.close()

    return GuardedH11Protocol, stats

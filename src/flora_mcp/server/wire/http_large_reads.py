"""Large reads at the HTTP door: at most a few `resources/read` answers exist at once.

A `resources/read` of an output is answered with the output's bytes in base64 inside JSON: a
64 MiB output is a ~90 MB answer, and on its way out the MCP SDK holds it about three times
over (the base64 string, the JSON text, the encoded bytes). Writing it piece by piece
(http_connections.py) bounds what a slow reader holds in the socket, not what exists: 30
clients that ask at once and never read made 30 answers, several GB. So `LargeReadLimit` bounds
how many are made and written at once:

- a POST whose JSON-RPC body is a `resources/read` request needs one of `max_reads` slots. It
  holds the slot from before the answer is made until the app call for the request returns:
  the answer was written out, or the connection was dropped (the client closed it, or read
  nothing for the write timeout and was aborted). A reader that never reads therefore holds a
  slot for at most the write timeout, and never makes a second answer exist;
- the others wait up to `wait` seconds for a slot, then get 503 with Retry-After and a JSON-RPC
  error carrying their id ("busy: too many large reads at once, ..."), which an MCP client
  hands to the caller of that request. A waiting client that disconnects stops waiting: no
  answer is made for a client that is gone;
- every other request passes untouched: a tool call never waits behind a read.

The body is read once here and replayed to the app, so this must sit behind `BodyLimit`
(http_limits.py), which has already bounded it and reads it whole. It is parsed with the SDK's
own parser (pydantic_core), so whatever the SDK will read as `resources/read` (escaped
characters, a repeated "method" key) is counted as one here too. Over legacy SSE the answer
travels on the GET event stream after the POST has returned, so this limit is for Streamable
HTTP, where the answer is the POST's own response.
"""

from __future__ import annotations

import gc
import json
import logging

import anyio
import pydantic_core
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flora_mcp.server.wire.json_scan import RequestId, usable_id

logger = logging.getLogger("flora_mcp.server")

LARGE_READ = "resources/read"
# One at a time: an answer costs about three times its size until written (~270 MB for a 64 MiB
# output; 30 stalled readers measured +513-592 MB with two slots, against a 600 MB target, and
# +260 MB with one). A reader that never reads then holds the one slot for the write timeout,
# and other reads wait (or get "busy"): a slower resources/read beats a server out of memory.
# Operators with memory to spare raise it (--http-max-large-reads).
DEFAULT_MAX_LARGE_READS = 1
# As long as a FLORA call may take (FLORA_TIMEOUT's default): a read waiting for its turn is
# a call that takes a little longer, not a failure, unless the slots stay taken.
DEFAULT_LARGE_READ_WAIT = 30.0
BUSY_MESSAGE = "busy: too many large reads at once, try again in a few seconds"
# JSON-RPC's range for errors a server defines (-32000 to -32099).
BUSY_CODE = -32000
RETRY_AFTER = b"5"


def large_read_id(body: bytes) -> tuple[bool, RequestId | None]:
    """Whether `body` is a JSON-RPC `resources/read` request, and its id when it has a usable one.

    Anything else (another method, a notification, a batch, a body that is not JSON) is not:
    the SDK refuses what is not a single message with a small error, and answers only requests.
    """
    try:
        message = pydantic_core.from_json(body)
    except ValueError:
        return False, None
    if not isinstance(message, dict) or message.get("method") != LARGE_READ or "id" not in message:
        return False, None
    return True, usable_id(message["id"])


class LargeReadLimit:
    """ASGI middleware: at most `max_reads` `resources/read` POSTs in progress at once (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, *, max_reads: int = DEFAULT_MAX_LARGE_READS, wait: float = DEFAULT_LARGE_READ_WAIT
    ) -> None:
        if max_reads < 1:
            raise ValueError("max_reads must be at least 1")
        self.app = app
        self.max_reads = max_reads
        self.wait = wait
        self.slots = anyio.Semaphore(max_reads)
        # For logs and tests: reads in progress now, the most ever at once, and those refused.
        self.in_progress = 0
        self.peak = 0
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        messages = await _read_body(receive)
        replay = _replaying(messages, receive)
        is_read, request_id = large_read_id(messages[0]["body"])
        if not is_read:
            await self.app(scope, replay, send)
            return
        if len(messages) > 1:
            return  # the client left before its body ended: there is no one to answer
        acquired, gone = await self._take_slot(receive)
        if gone:
            if acquired:
                self.slots.release()
            return  # the client left while waiting: there is no one to make the answer for
        if not acquired:
            await self._busy(send, request_id)
            return
        self.in_progress += 1
        self.peak = max(self.peak, self.in_progress)
        completed = False

        async def watched_send(message: Message) -> None:
            nonlocal completed
            await send(message)
            completed = message["type"] == "http.response.body" and not message.get("more_body", False)

        try:
            await self.app(scope, replay, watched_send)
        finally:
            self.in_progress -= 1
            self.slots.release()
            if not completed:
                _free_abandoned_answer()

    async def _take_slot(self, receive: Receive) -> tuple[bool, bool]:
        """Wait up to `wait` for a slot, watching the client meanwhile: (a slot was taken, the client left)."""
        if self.slots.value > 0:
            self.slots.acquire_nowait()  # the usual case: no wait, so no watcher to start
            return True, False
        acquired = gone = False
        async with anyio.create_task_group() as tasks:

            async def watch() -> None:
                # The body has been read, so the next message is the client leaving.
                nonlocal gone
                await receive()
                gone = True
                tasks.cancel_scope.cancel()

            tasks.start_soon(watch)
            with anyio.move_on_after(self.wait):
                await self.slots.acquire()
                acquired = True
            tasks.cancel_scope.cancel()
        return acquired, gone

    async def _busy(self, send: Send, request_id: RequestId | None) -> None:
        self.refused += 1
        logger.warning(
            "refused a resources/read: %d large reads already in progress", self.max_reads, extra={"status": 503}
        )
        error = {"jsonrpc": "2.0", "id": request_id, "error": {"code": BUSY_CODE, "message": BUSY_MESSAGE}}
        body = json.dumps(error).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", RETRY_AFTER),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _free_abandoned_answer() -> None:
    """Free now the answer of a read cut short (the client left, or was dropped for not reading).

    The SDK streams the answer with sse_starlette, whose send loop is cancelled when the client
    goes; anyio's task group then keeps that CancelledError in a reference cycle (its done-callback
    frame holds the exception, whose traceback holds the send loop's frame, which holds the ~90 MB
    chunk). Only Python's cycle collector frees it, and it runs by object counts, not bytes: an
    idle server kept ~170 MB per abandoned read for as long as nothing else happened. A collection
    costs ~30 ms and happens once per abandoned large read (at most `max_reads` at once).
    """
    gc.collect()


async def _read_body(receive: Receive) -> list[Message]:
    """The request's messages, the whole body joined in the first: [body] or [body so far, the client leaving].

    Behind BodyLimit the body is already one message; the loop is for any other server.
    """
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # The client left before its body ended: the app sees that after what did arrive.
            return [{"type": "http.request", "body": b"".join(chunks), "more_body": True}, message]
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that returns `messages` in order, then whatever `receive` returns."""
    pending = list(reversed(messages))

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay

"""At most N `resources/read` answers are made and written at once over HTTP; the others wait or are refused.

Each test serves `LargeReadLimit` (behind `BodyLimit`, as `http_app` stacks them) with uvicorn on
127.0.0.1 in front of a stand-in for the MCP app that counts the reads it is answering. The
stand-in answers as the SDK does: a server-sent event stream (sse_starlette), whose send loop is
cancelled when the client goes, so a dropped reader takes the same path as with the real app.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from flora_mcp.server.wire.http_connections import guarded_protocol
from flora_mcp.server.wire.http_large_reads import BUSY_CODE, BUSY_MESSAGE, LargeReadLimit, large_read_id
from flora_mcp.server.wire.http_limits import BodyLimit
from flora_mcp.server.wire.transports import bind

pytestmark = pytest.mark.anyio

HEADERS = {"Accept": "application/json, text/event-stream"}


class StandIn:
    """An MCP app stand-in: answers each POST with one SSE event; a read's answer waits for `release`."""

    def __init__(self, answer_bytes: int = 1000) -> None:
        self.answer_bytes = answer_bytes
        self.reading = 0  # reads being answered now
        self.most = 0  # the most ever at once
        self.reads = 0  # reads that reached the app
        self.release = anyio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = json.loads((await receive())["body"])
        is_read = message["method"] == "resources/read"
        self.reading += is_read
        self.reads += is_read
        self.most = max(self.most, self.reading)
        try:
            if is_read:
                await self.release.wait()
            result = {"contents": [{"blob": "A" * self.answer_bytes}]} if is_read else {}

            async def events() -> AsyncIterator[dict[str, str]]:
                yield {
                    "event": "message",
                    "data": json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}),
                }

            await EventSourceResponse(events())(scope, receive, send)
        finally:
            self.reading -= is_read


class _Embedded(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # Ctrl-C stays pytest's


@asynccontextmanager
async def served(limit: LargeReadLimit, *, write_timeout: float = 30.0) -> AsyncIterator[int]:
    """`limit` behind BodyLimit, served by uvicorn with the door's connection rules; yields the port."""
    protocol, _ = guarded_protocol(max_connections=100, header_timeout=10, write_timeout=write_timeout)
    config = uvicorn.Config(
        BodyLimit(limit, max_bytes=1024 * 1024), http=protocol, log_config=None, lifespan="off", access_log=False
    )
    server = _Embedded(config)
    sock = bind("127.0.0.1", 0)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(server.serve, [sock])
            await until(lambda: server.started)
            try:
                yield sock.getsockname()[1]
            finally:
                server.should_exit = True
    finally:
        sock.close()


def message(method: str, request_id: int | str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {"uri": "flora://runs/r/outputs/o"}}


async def post(port: int, body: dict[str, Any], answers: dict[Any, httpx2.Response]) -> None:
    async with httpx2.AsyncClient(trust_env=False, timeout=30) as http:
        answers[body["id"]] = await http.post(f"http://127.0.0.1:{port}/mcp", json=body, headers=HEADERS)


async def until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until `condition()` holds (polled: the states watched here have no event to wait on)."""
    with anyio.fail_after(within):
        while True:
            if condition():
                return
            await anyio.sleep(0.01)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":7,"method":"resources/read","params":{}}', (True, 7)),
        (b'{"jsonrpc":"2.0","id":"r","method":"resources\\/read","params":{}}', (True, "r")),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"resources/read"}', (True, 1)),
        (b'{"jsonrpc":"2.0","id":null,"method":"resources/read"}', (True, None)),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"uri":"resources/read"}}', (False, None)),
        (b'{"jsonrpc":"2.0","method":"resources/read"}', (False, None)),
        (b'[{"jsonrpc":"2.0","id":1,"method":"resources/read"}]', (False, None)),
        (b"not json", (False, None)),
    ],
)
def test_a_read_is_recognised_as_the_sdk_will_parse_it(body: bytes, expected: tuple[bool, Any]) -> None:
    # Escapes and a repeated key: the SDK's parser (the same pydantic_core) reads both as resources/read.
    assert large_read_id(body) == expected


async def test_at_most_n_reads_are_answered_at_once_and_the_next_one_waits_for_a_slot() -> None:
    app = StandIn()
    limit = LargeReadLimit(app, max_reads=2, wait=10)
    answers: dict[Any, httpx2.Response] = {}
    async with served(limit) as port, anyio.create_task_group() as tasks:
        for n in range(3):
            tasks.start_soon(post, port, message("resources/read", n), answers)
        await until(lambda: app.reading == 2)
        await anyio.sleep(0.3)  # the third is waiting, not answered
        assert (app.reading, app.most, answers) == (2, 2, {})
        # A tool call never waits behind the reads.
        await post(port, message("tools/call", "call"), answers)
        assert answers["call"].status_code == 200
        app.release.set()
    assert [answers[n].status_code for n in range(3)] == [200, 200, 200]
    assert (app.most, limit.peak, limit.in_progress, limit.refused) == (2, 2, 0, 0)


async def test_a_read_that_waits_too_long_is_refused_with_its_id() -> None:
    app = StandIn()
    limit = LargeReadLimit(app, max_reads=1, wait=0.3)
    answers: dict[Any, httpx2.Response] = {}
    async with served(limit) as port, anyio.create_task_group() as tasks:
        tasks.start_soon(post, port, message("resources/read", "first"), answers)
        await until(lambda: app.reading == 1)
        await post(port, message("resources/read", "second"), answers)
        app.release.set()
    refused = answers["second"]
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert refused.json() == {"jsonrpc": "2.0", "id": "second", "error": {"code": BUSY_CODE, "message": BUSY_MESSAGE}}
    assert answers["first"].status_code == 200
    assert (app.most, limit.refused) == (1, 1)


async def test_a_read_whose_client_leaves_while_waiting_is_never_answered() -> None:
    app = StandIn()
    limit = LargeReadLimit(app, max_reads=1, wait=10)
    answers: dict[Any, httpx2.Response] = {}
    async with served(limit) as port, anyio.create_task_group() as tasks:
        tasks.start_soon(post, port, message("resources/read", "first"), answers)
        await until(lambda: app.reading == 1)
        with anyio.move_on_after(0.3):
            await post(port, message("resources/read", "gone"), answers)  # the client gives up
        await anyio.sleep(0.2)
        app.release.set()
        await until(lambda: "first" in answers)
        await anyio.sleep(0.2)
    # The read that left never reached the app, and took no slot.
    assert (app.reads, limit.peak, limit.in_progress, limit.refused) == (1, 1, 0, 0)


async def test_a_stalled_reader_dropped_by_the_write_timeout_gives_its_slot_back() -> None:
    app = StandIn(answer_bytes=16 * 1024 * 1024)  # far more than the socket buffers hold
    app.release.set()
    limit = LargeReadLimit(app, max_reads=1, wait=10)
    answers: dict[Any, httpx2.Response] = {}
    async with served(limit, write_timeout=0.5) as port:
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", port))
        body = json.dumps(message("resources/read", "stalled")).encode()
        stalled.sendall(
            b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        try:
            await until(lambda: limit.in_progress == 1)
            # It reads nothing; the write timeout aborts it, the app call returns, and the slot is free.
            await until(lambda: limit.in_progress == 0, within=5)
            with anyio.fail_after(5):
                await post(port, message("resources/read", "next"), answers)
        finally:
            stalled.close()
    assert answers["next"].status_code == 200
    assert len(answers["next"].content) > 16 * 1024 * 1024
    assert (limit.peak, limit.refused) == (1, 0)

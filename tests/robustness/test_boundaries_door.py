"""The HTTP door's connection rules over real sockets: deadlines, slow-body slots, the connection cap.

flora-mcp runs as a subprocess with short limits set by environment and flag, so each rule shows
within a second or two.
"""

from __future__ import annotations

import json
import time

import anyio
import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from flora_mcp.server.wire.http_limits import ConcurrencyLimit

from .hostile_support import ACCEPT, LEGACY_VERSION, McpProcess, child_env, decode_answer, mcp_process, rpc, tool_call

pytestmark = pytest.mark.anyio

ENV = child_env(
    FLORA_SANDBOX_TIME_SCALE="0",
    FLORA_HTTP_HEADER_TIMEOUT="0.5",
    FLORA_HTTP_BODY_TIMEOUT="1",
    FLORA_HTTP_MAX_SLOW_BODIES="2",
    FLORA_HTTP_IDLE_TIMEOUT="1",
)


async def _closed_after(stream: anyio.abc.SocketStream, limit: float) -> float:
    """Seconds until the server closes `stream` (reading whatever it sends), failing past `limit`."""
    started = time.perf_counter()
    with anyio.fail_after(limit):
        try:
            while await stream.receive():
                pass
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass
    return time.perf_counter() - started


async def _answer(stream: anyio.abc.SocketStream, limit: float = 5) -> bytes:
    """Everything the server sends until it closes the connection (each refusal here closes it)."""
    received = b""
    with anyio.fail_after(limit):
        try:
            while chunk := await stream.receive():
                received += chunk
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass
    return received


def _head(port: int, length: int) -> bytes:
    return (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nAccept: {ACCEPT}\r\n"
        f"MCP-Protocol-Version: {LEGACY_VERSION}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


async def _served(server: McpProcess) -> bool:
    async with httpx2.AsyncClient(trust_env=False, timeout=10) as http:
        answer = await rpc(http, server.url, "tools/call", tool_call("list_workspaces", {}))
    return answer.status_code == 200 and decode_answer(answer)["result"]["isError"] is False


async def test_a_connection_that_sends_no_complete_request_head_is_closed_at_the_header_deadline() -> None:
    async with mcp_process(ENV, "--sandbox") as server:
        idle = await anyio.connect_tcp("127.0.0.1", server.port)
        slowloris = await anyio.connect_tcp("127.0.0.1", server.port)
        await slowloris.send(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")

        async def trickle() -> None:
            for _ in range(20):
                await anyio.sleep(0.1)
                try:
                    await slowloris.send(b"X-Slow: 1\r\n")
                except (anyio.BrokenResourceError, OSError):
                    return

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(trickle)
            assert await _closed_after(idle, 5) < 3
            assert await _closed_after(slowloris, 5) < 3  # trickling headers does not extend the deadline
        assert await _served(server)


async def test_a_body_that_does_not_arrive_in_time_gets_408_and_slow_bodies_are_capped() -> None:
    async with mcp_process(ENV, "--sandbox") as server:
        held = []
        for _ in range(2):  # the two slow-body slots
            stream = await anyio.connect_tcp("127.0.0.1", server.port)
            await stream.send(_head(server.port, 100_000) + b'{"jsonrpc": "2.0"')
            held.append(stream)
        await anyio.sleep(0.2)
        third = await anyio.connect_tcp("127.0.0.1", server.port)
        await third.send(_head(server.port, 100_000) + b'{"jsonrpc": "2.0"')
        refused = await _answer(third)
        assert refused.startswith(b"HTTP/1.1 503") and b"too_many_slow_requests" in refused

        assert await _served(server)  # a whole request needs no slot: it is served meanwhile

        timed_out = await _answer(held[0])
        assert timed_out.startswith(b"HTTP/1.1 408")
        body = json.loads(timed_out.split(b"\r\n\r\n", 1)[1])
        assert body["error"] == "request_timeout" and "1 s" in body["message"]
        assert "Traceback" not in server.log()


async def test_over_the_connection_cap_the_oldest_idle_connections_make_room_for_callers() -> None:
    async with mcp_process(ENV, "--sandbox", "--http-max-connections", "16", "--http-header-timeout", "60") as server:
        crowd = [await anyio.connect_tcp("127.0.0.1", server.port) for _ in range(40)]
        await anyio.sleep(0.3)
        assert all([await _served(server) for _ in range(5)])
        assert server.open_fds() < 16 + 40  # the crowd was not all kept
        closed = 0
        for stream in crowd[:20]:  # the oldest ones went first
            with anyio.move_on_after(0.2):
                try:
                    await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    closed += 1
        assert closed >= 15
        for stream in crowd:
            await stream.aclose()


async def test_past_the_concurrency_limit_requests_wait_then_get_503() -> None:
    release = anyio.Event()

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = ConcurrencyLimit(slow_app, max_concurrency=1, queue_timeout=0.3)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        async with anyio.create_task_group() as tasks:
            first: list[httpx2.Response] = []

            async def hold() -> None:
                first.append(await http.post("/mcp", content=b"{}"))

            tasks.start_soon(hold)
            await anyio.sleep(0.05)
            busy = await http.post("/mcp", content=b"{}")
            release.set()
        assert busy.status_code == 503 and busy.headers["retry-after"] and busy.json()["error"] == "server_busy"
        assert first[0].status_code == 200

"""FLORA (or what stands in front of it) misbehaving: every failure reaches the agent as a clear next step.

Timeouts, refused connections, proxy error pages, cut-off and non-JSON bodies, endless bodies,
slow answers and runs that never end, each through the MCP tools. After each, the server keeps
serving the next call, and a thousand failing calls leave memory where it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from starlette.types import Receive, Scope, Send

from flora_mcp.sandbox import Fault, Sandbox, SandboxConfig
from flora_mcp.server import create_server

from .fault_campaign import failing_calls_memory_growth
from .fault_support import HTML_502, FakeClock, campaign_settings, connected, text_of
from .hostile_support import free_port, serving

pytestmark = pytest.mark.anyio

IMAGE = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"}


@asynccontextmanager
async def over_the_network(base_url: str, *, api_key: str = "sk-sandbox", **settings: Any) -> AsyncIterator[Client]:
    """flora-mcp talking to `base_url` over real sockets; its backoff sleeps are virtual."""
    clock = FakeClock()
    config = campaign_settings(base_url=base_url, api_key=api_key, **settings)
    async with httpx2.AsyncClient(trust_env=False) as http:
        server = create_server(config, http_client=http, sleep=clock.sleep, clock=clock.time, wall_clock=clock.time)
        async with Client(server) as client:
            yield client


async def still_serving(client: Client) -> None:
    result = await client.call_tool("list_workspaces", {})
    assert not result.is_error, text_of(result)


def error_of(result: Any) -> str:
    assert result.is_error, f"expected a tool error, got: {text_of(result)}"
    text = text_of(result)
    assert "Next step:" in text, text
    assert "Error executing tool" not in text and "Traceback" not in text
    return text


# --- no answer -----------------------------------------------------------------------------------
async def test_a_timeout_says_so_and_to_retry_and_the_server_keeps_serving() -> None:
    live = Sandbox(SandboxConfig(time_scale=0))
    live.faults.push("GET /workspaces", Fault.slow(0.6), times=2)
    async with live.serving() as base_url, over_the_network(base_url, timeout=0.2, max_retries=1) as client:
        text = error_of(await client.call_tool("list_workspaces", {}))
        await still_serving(client)
    assert "FLORA error timeout" in text and "within 0.2 s" in text and "tried 2 times" in text
    assert "call list_workspaces again" in text


def late_first_start(app: Any, delay: float, handled: anyio.Event) -> Any:
    """FLORA receiving the first POST whole, then acting on it only after `delay` seconds.

    The client has given up by then (its timeout is shorter), but the run is still created: the
    case where a timed-out start did start. `handled` is set once it has been.
    """
    late = [True]

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not late:
            await app(scope, receive, send)
            return
        late.clear()
        messages = [await receive()]
        while messages[-1]["type"] == "http.request" and messages[-1].get("more_body"):
            messages.append(await receive())
        await anyio.sleep(delay)
        replay = iter(messages)

        async def receive_again() -> Any:
            return next(replay, {"type": "http.disconnect"})

        await app(scope, receive_again, send)
        handled.set()

    return wrapped


async def test_a_start_that_timed_out_but_ran_is_found_by_retrying_with_its_key_never_run_twice() -> None:
    live = Sandbox(SandboxConfig(time_scale=0))
    handled = anyio.Event()
    async with (
        serving(late_first_start(live.app, 0.5, handled)) as origin,
        over_the_network(f"{origin}/api/v1", timeout=0.2, max_retries=0) as client,
    ):
        text = error_of(await client.call_tool("start_generation_run", {**IMAGE, "idempotency_key": "late-key-0001"}))
        with anyio.fail_after(10):
            await handled.wait()
        assert len(live.runs) == 1, "the timed-out start did run"
        again = await client.call_tool("start_generation_run", {**IMAGE, "idempotency_key": "late-key-0001"})
    assert "Start outcome: unknown" in text and "idempotency_key=late-key-0001" in text
    assert (again.structured_content or {})["outcome"] == "recovered"
    assert (again.structured_content or {})["run_id"] == live.runs[0].run_id
    assert len(live.runs) == 1


async def test_a_refused_connection_says_flora_cannot_be_reached_and_that_nothing_started() -> None:
    port = free_port()
    # Nothing listens on the port any more: every connection is refused.
    async with over_the_network(f"http://127.0.0.1:{port}/api/v1", api_key="sk-test-0000") as client:
        read = error_of(await client.call_tool("list_workspaces", {}))
        start = error_of(await client.call_tool("start_generation_run", IMAGE))
        spend = await client.call_tool("get_spend", {})
    assert "connection_error" in read and "Could not reach FLORA (127.0.0.1)" in read and "tried 3 times" in read
    assert "Start outcome: not started" in start
    assert not spend.is_error and (spend.structured_content or {})["runs"] == []


# --- broken answers -------------------------------------------------------------------------------
async def test_a_proxy_502_page_is_named_quoted_and_retried_later(sandbox: Sandbox, clock: FakeClock) -> None:
    sandbox.faults.push("GET /workspaces", Fault.raw(502, HTML_502), times=3)
    async with connected(sandbox, clock) as client:
        text = error_of(await client.call_tool("list_workspaces", {}))
        await still_serving(client)
    assert "HTTP 502" in text and "502 Bad Gateway" in text and "text/html" in text
    assert "wait 30 s, then call list_workspaces again" in text
    assert sandbox.requests["GET /workspaces"] == 4, "three attempts, then the call that worked"


@pytest.mark.parametrize(
    ("body", "content_type", "what"),
    [
        (b'{"workspaces": [{"workspace_id": "ws_sand', "application/json", "not JSON"),
        (b"Service temporarily unavailable, please try later", "text/plain", "not JSON"),
        (b"", "application/json", "an empty body"),
        (b'{"data": {"items": []}}', "application/json", "not a WorkspaceList"),
    ],
    ids=["truncated", "plain-text", "empty", "other-json"],
)
async def test_a_body_that_is_not_the_answer_is_reported_as_such(
    sandbox: Sandbox, clock: FakeClock, body: bytes, content_type: str, what: str
) -> None:
    sandbox.faults.push("GET /workspaces", Fault.raw(200, body, content_type))
    async with connected(sandbox, clock) as client:
        text = error_of(await client.call_tool("list_workspaces", {}))
        await still_serving(client)
    assert "unexpected_response" in text and what in text
    assert "HTTP 200" in text


async def test_a_cut_off_start_answer_is_reported_as_maybe_started_and_a_retry_starts_it_once(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.faults.push("POST /runs/generation", Fault.raw(200, b'{"run_id": "run_', "application/json"))
    async with connected(sandbox, clock) as client:
        text = error_of(await client.call_tool("start_generation_run", IMAGE))
        key = text.split("idempotency_key=")[1].split()[0]
        again = await client.call_tool("start_generation_run", {**IMAGE, "idempotency_key": key})
    assert "Start outcome: unknown" in text and "probably accepted" in text
    assert (again.structured_content or {})["outcome"] in ("started", "accepted_earlier")
    assert len(sandbox.runs) == 1


async def endless_json(scope: Scope, receive: Receive, send: Send) -> None:
    """An answer with no length that goes on far past any real one (64 MiB) unless the client hangs up."""
    headers = [(b"content-type", b"application/json"), (b"request-id", b"req_endless")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"workspaces": [', "more_body": True})
    chunk = b'{"workspace_id": "ws_x", "name": "' + b"x" * 65_000 + b'"},'
    for _ in range(1024):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"]}"})


async def test_an_endless_answer_is_cut_off_at_the_size_limit() -> None:
    async with serving(endless_json) as origin, over_the_network(f"{origin}/api/v1") as client:
        text = error_of(await client.call_tool("list_workspaces", {}))
        spend = await client.call_tool("get_spend", {})
    assert "larger than 8388608 bytes" in text and "req_endless" in text
    assert not spend.is_error


async def test_an_answer_that_declares_a_huge_length_is_refused_before_reading_it(
    sandbox: Sandbox, clock: FakeClock
) -> None:
    sandbox.faults.push("GET /workspaces", Fault.raw(200, b" " * (9 * 1024 * 1024), "application/json"))
    async with connected(sandbox, clock) as client:
        text = error_of(await client.call_tool("list_workspaces", {}))
        await still_serving(client)
    assert "larger than 8388608 bytes" in text


# --- slow and endless runs ------------------------------------------------------------------------
async def test_a_slow_answer_within_the_timeout_is_simply_the_answer() -> None:
    live = Sandbox(SandboxConfig(time_scale=0))
    live.faults.push("POST /runs/generation", Fault.slow(0.3))
    async with live.serving() as base_url, over_the_network(base_url, timeout=5) as client:
        result = await client.call_tool("start_generation_run", IMAGE)
    assert not result.is_error, text_of(result)
    assert (result.structured_content or {})["run_id"] == live.runs[0].run_id


async def test_a_run_that_never_finishes_ends_each_wait_with_a_hint_to_wait_again(clock: FakeClock) -> None:
    frozen = FakeClock()  # the sandbox's clock never moves: its runs stay where they started
    sandbox = Sandbox(SandboxConfig(time_scale=1), clock=frozen.time)
    async with connected(sandbox, clock) as client:
        started = await client.call_tool("start_generation_run", {**IMAGE, "type": "video"})
        run_id = (started.structured_content or {})["run_id"]
        waits = [await client.call_tool("wait_for_run", {"run_id": run_id, "timeout_seconds": 30}) for _ in range(3)]
        await still_serving(client)
    for wait in waits:
        result = wait.structured_content or {}
        assert not wait.is_error
        assert result["budget_exhausted"] is True and result["finished"] is False
        assert result["next"] == {"tool": "wait_for_run", "arguments": {"run_id": run_id}, "after_seconds": 0}
        assert "keeps running on FLORA" in text_of(wait)


# --- memory ---------------------------------------------------------------------------------------
@pytest.mark.slow  # about 4 s of measuring; .ci/run runs it (pytest -m slow)
async def test_a_thousand_failing_calls_leave_memory_bounded() -> None:
    growth = await failing_calls_memory_growth(1000)
    # Less than 64 bytes a call: a leak of even one short string per call would pass this.
    assert growth < 64 * 1024, f"memory grew by {growth} bytes over 1,000 failing calls"

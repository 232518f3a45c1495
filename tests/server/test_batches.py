"""Many runs in one call: start_generation_runs (one money decision, per-item keys) and wait_for_runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.server import MCPServer

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox
from flora_mcp.server import create_server
from tests.fake_clock import FakeClock

from .support import POSTER, PROJECT, WORKSPACE, call_error, call_ok, text_of

pytestmark = pytest.mark.anyio


def batch(*prompts: str, **shared: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {"workspace_id": WORKSPACE, "project_id": PROJECT, "type": "image"}
    arguments["items"] = [{"prompt": p, "name": f"v{i}"} for i, p in enumerate(prompts)]
    arguments.update(shared)
    return arguments


FOUR = ("a mug, warm light", "a mug, cold light", "a mug, top view", "a mug, on grass")


async def test_a_batch_of_four_starts_four_runs_and_sent_again_starts_none(client: Client, sandbox: Sandbox) -> None:
    first = (await call_ok(client, "start_generation_runs", batch(*FOUR))).structured_content or {}
    assert [item["outcome"] for item in first["items"]] == ["started"] * 4
    assert len(sandbox.runs) == 4
    assert sorted(run.prompt for run in sandbox.runs) == sorted(FOUR)
    run_ids = [item["run_id"] for item in first["items"]]
    assert len(set(run_ids)) == 4 and len({item["idempotency_key"] for item in first["items"]}) == 4
    assert first["next"] == {
        "tool": "wait_for_runs",
        "arguments": {"runs": [{"run_id": r} for r in run_ids]},
        "after_seconds": 0,
    }
    again = await call_ok(client, "start_generation_runs", batch(*FOUR))
    second = again.structured_content or {}
    assert len(sandbox.runs) == 4  # nothing started twice
    assert [item["outcome"] for item in second["items"]] == ["repeat"] * 4
    assert [item["run_id"] for item in second["items"]] == run_ids
    assert "not charged again" in text_of(again)


async def test_the_batch_key_gives_every_item_its_own_key_and_repeat_starts_a_new_batch(
    client: Client, sandbox: Sandbox
) -> None:
    keyed = await call_ok(client, "start_generation_runs", batch(*FOUR[:2], idempotency_key="batch-key-001"))
    keys = [item["idempotency_key"] for item in (keyed.structured_content or {})["items"]]
    assert all(key.startswith("flora-mcp-") for key in keys) and len(set(keys)) == 2
    await call_ok(client, "start_generation_runs", batch(*FOUR[:2], idempotency_key="batch-key-001"))
    assert len(sandbox.runs) == 2
    await call_ok(client, "start_generation_runs", batch(*FOUR[:2], repeat=True))
    assert len(sandbox.runs) == 4


async def test_items_override_the_shared_model_and_params(client: Client, sandbox: Sandbox) -> None:
    arguments = batch("a", "b", params={"aspect_ratio": "16:9"})
    arguments["items"][1]["params"] = {"aspect_ratio": "1:1"}
    await call_ok(client, "start_generation_runs", arguments)
    by_prompt = {run.prompt: run for run in sandbox.runs}
    assert by_prompt["a"].params == {"aspect_ratio": "16:9"}
    assert by_prompt["b"].params == {"aspect_ratio": "1:1"}


async def test_one_bad_item_refuses_the_whole_batch_before_anything_is_sent(client: Client, sandbox: Sandbox) -> None:
    arguments = batch("a", "b", "c")
    arguments["items"][2]["params"] = {"aspect_ratio": "banana"}
    text = await call_error(client, "start_generation_runs", arguments)  # the catalog is read, no run started
    assert "Item 2" in text and "aspect_ratio" in text and "Nothing was sent" in text
    assert sandbox.runs == []


async def test_wait_for_runs_follows_generation_and_technique_runs_to_the_end_with_n_of_m_progress(
    client: Client, sandbox: Sandbox
) -> None:
    started = (await call_ok(client, "start_generation_runs", batch(*FOUR[:3]))).structured_content or {}
    technique = await call_ok(
        client,
        "start_technique_run",
        {"technique_id": POSTER, "inputs": [{"id": "subject", "type": "text", "value": "a cat"}]},
    )
    refs = [{"run_id": item["run_id"]} for item in started["items"]]
    refs.append({"run_id": technique.structured_content["run_id"], "technique_id": POSTER})  # type: ignore[index]
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    result = await call_ok(
        client, "wait_for_runs", {"runs": refs, "timeout_seconds": 600}, progress_callback=on_progress
    )
    waited = result.structured_content or {}
    assert waited["done"] == waited["total"] == 4 and waited["budget_exhausted"] is False
    assert [run["status"] for run in waited["runs"]] == ["completed"] * 4
    assert all(run["outputs"] for run in waited["runs"])
    assert progress[0][0] == 0 and progress[-1][:2] == (4, 4)
    assert progress[-1][2] is not None and progress[-1][2].startswith("4 of 4 done")
    assert "All 4 runs ended" in text_of(result)


async def test_wait_for_runs_returns_when_the_budget_runs_out_naming_the_runs_still_going(
    client: Client, sandbox: Sandbox
) -> None:
    started = (await call_ok(client, "start_generation_runs", batch("a", "b", type="video"))).structured_content
    refs = [{"run_id": item["run_id"]} for item in (started or {})["items"]]
    result = await call_ok(client, "wait_for_runs", {"runs": refs, "timeout_seconds": 2})
    waited = result.structured_content or {}
    assert waited["budget_exhausted"] is True and waited["done"] == 0
    assert waited["next"]["tool"] == "wait_for_runs" and waited["next"]["arguments"]["runs"] == refs


async def test_wait_for_runs_refuses_a_run_listed_twice(client: Client) -> None:
    result = await client.call_tool("wait_for_runs", {"runs": [{"run_id": "run_abc123"}, {"run_id": "run_abc123"}]})
    assert result.is_error and "listed twice" in text_of(result)


class CountingTransport(httpx2.AsyncBaseTransport):
    """The sandbox's transport, counting the run reads in flight at once (each takes a real moment)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.reading = 0
        self.most = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        read = request.method == "GET" and "/runs/" in request.url.path
        if read:
            self.reading += 1
            self.most = max(self.most, self.reading)
            await anyio.sleep(0.02)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            if read:
                self.reading -= 1


@pytest.fixture
async def counted(sandbox: Sandbox, fake_time: FakeClock) -> AsyncIterator[tuple[MCPServer, CountingTransport]]:
    transport = CountingTransport(sandbox.transport())
    async with httpx2.AsyncClient(transport=transport) as http:
        server = create_server(
            Settings(max_retries=2), http_client=http, sandbox=sandbox, sleep=fake_time.sleep, clock=fake_time.time
        )
        yield server, transport


async def test_reads_of_many_runs_never_exceed_three_at_once(
    counted: tuple[MCPServer, CountingTransport], sandbox: Sandbox
) -> None:
    server, transport = counted
    async with Client(server) as client:
        prompts = [f"variation {i}" for i in range(12)]
        started = (await call_ok(client, "start_generation_runs", batch(*prompts))).structured_content or {}
        refs = [{"run_id": item["run_id"]} for item in started["items"]]
        waited = (await call_ok(client, "wait_for_runs", {"runs": refs, "timeout_seconds": 600})).structured_content
    assert (waited or {})["done"] == 12
    assert 1 < transport.most <= 3


async def test_the_cap_holds_for_the_batch_as_a_whole(sandbox: Sandbox, fake_time: FakeClock) -> None:
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        server = create_server(
            Settings(max_retries=2, max_spend_usd=0.1),
            http_client=http,
            sandbox=sandbox,
            sleep=fake_time.sleep,
            clock=fake_time.time,
            wall_clock=fake_time.time,
        )
        async with Client(server) as client:
            text = await call_error(client, "start_generation_runs", batch(*FOUR))  # 4 x 0.04 USD > 0.1
            assert "cap" in text.lower() and sandbox.runs == []
            two = (await call_ok(client, "start_generation_runs", batch(*FOUR[:2]))).structured_content or {}
            assert [item["outcome"] for item in two["items"]] == ["started", "started"]

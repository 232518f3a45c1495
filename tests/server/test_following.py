"""Following runs: get_* results, wait_for_run's progress, budget and cancellation."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from flora_mcp.sandbox import Fault, Sandbox
from tests.fake_clock import FakeClock

from .support import POSTER, WORKSPACE, call_error, call_ok, generation, links_of, text_of

pytestmark = pytest.mark.anyio


async def start(client: Client, **overrides: Any) -> dict[str, Any]:
    return (await call_ok(client, "start_generation_run", generation(**overrides))).structured_content or {}


async def test_a_running_run_reports_status_progress_and_when_to_look_again(
    client: Client, fake_time: FakeClock
) -> None:
    run = await start(client)
    fake_time.now += 3  # half of the image's 6 s
    result = await call_ok(client, "get_run", {"run_id": run["run_id"]})
    state = result.structured_content or {}
    assert state["status"] == "running"
    assert not state["finished"]
    assert 0 < state["progress_percent"] < 100
    assert state["next"]["tool"] == "get_run"
    assert 1 <= state["next"]["after_seconds"] <= 10
    assert "outputs" not in state
    assert run["run_id"] in text_of(result)


async def test_a_completed_run_gives_its_media_as_resource_links(client: Client, fake_time: FakeClock) -> None:
    run = await start(client)
    fake_time.now += 60
    result = await call_ok(client, "get_run", {"run_id": run["run_id"]})
    state = result.structured_content or {}
    assert state["status"] == "completed" and state["finished"]
    assert "next" not in state
    [link] = links_of(result)
    assert str(link.uri) == state["outputs"][0]["url"]
    assert link.mime_type == "image/png"
    assert str(link.uri) in text_of(result)


async def test_a_text_output_is_returned_as_text(client: Client, fake_time: FakeClock) -> None:
    run = await start(client, type="text", prompt="a haiku about mugs")
    fake_time.now += 60
    result = await call_ok(client, "get_run", {"run_id": run["run_id"]})
    [output] = (result.structured_content or {})["outputs"]
    assert output["type"] == "text"
    assert not links_of(result)
    assert output["url"] in text_of(result)


async def test_a_failed_run_shows_its_error_and_what_to_do(client: Client, fake_time: FakeClock) -> None:
    run = await start(client, prompt="a mug [fail]")
    fake_time.now += 60
    result = await call_ok(client, "get_run", {"run_id": run["run_id"]})
    state = result.structured_content or {}
    assert state["status"] == "failed"
    assert state["error_code"] == "provider_error"
    assert state["error_message"]
    assert "ask the user" in state["advice"]
    text = text_of(result)
    assert "provider_error" in text and "Next step" in text


async def test_a_technique_run_is_read_under_its_technique(
    client: Client, sandbox: Sandbox, fake_time: FakeClock
) -> None:
    started = await call_ok(
        client,
        "start_technique_run",
        {"technique_id": "poster-maker", "inputs": [{"id": "subject", "type": "text", "value": "a cat"}]},
    )
    run_id = (started.structured_content or {})["run_id"]
    fake_time.now += 120
    result = await call_ok(client, "get_technique_run", {"technique_id": "poster-maker", "run_id": run_id})
    assert (result.structured_content or {})["status"] == "completed"
    assert sandbox.requests["GET /techniques/{technique_id}/runs/{run_id}"] == 1
    assert len(links_of(result)) == 1


async def test_waiting_returns_the_outputs_and_reports_progress_on_every_poll(client: Client, sandbox: Sandbox) -> None:
    run = await start(client)
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        updates.append((value, total, message))

    result = await call_ok(client, "wait_for_run", {"run_id": run["run_id"]}, progress_callback=on_progress)
    state = result.structured_content or {}
    assert state["status"] == "completed" and not state["budget_exhausted"]
    assert len(links_of(result)) == 1
    polls = sandbox.requests["GET /runs/{run_id}"]
    assert state["polls"] == polls >= 1
    # One notification per poll, after an opening one from the start's estimate (the run this
    # server just started cannot be done yet, so the wait does not read it at once).
    assert len(updates) == polls + 1
    assert "estimate" in (updates[0][2] or "")
    values = [value for value, _, _ in updates]
    assert values == sorted(values) and len(set(values)) == len(values), "progress must strictly increase"
    assert values[-1] == 100
    assert all(total == 100 and message and run["run_id"] in message for _, total, message in updates)


async def test_waiting_polls_between_one_and_ten_seconds_apart(client: Client, fake_time: FakeClock) -> None:
    run = await start(client, type="video", prompt="a drone shot")  # 45 s
    fake_time.sleeps.clear()
    await call_ok(client, "wait_for_run", {"run_id": run["run_id"], "timeout_seconds": 120})
    assert fake_time.sleeps
    assert all(1 <= pause <= 10 for pause in fake_time.sleeps), fake_time.sleeps


async def test_waiting_past_the_budget_returns_the_current_state_and_to_wait_again(
    client: Client, fake_time: FakeClock
) -> None:
    run = await start(client, type="video", prompt="a drone shot")  # 45 s
    result = await call_ok(client, "wait_for_run", {"run_id": run["run_id"], "timeout_seconds": 10})
    state = result.structured_content or {}
    assert state["budget_exhausted"] and not state["finished"]
    assert state["status"] in ("pending", "running")
    assert state["waited_seconds"] <= 10
    assert state["next"] == {"tool": "wait_for_run", "arguments": {"run_id": run["run_id"]}, "after_seconds": 0}
    again = await call_ok(client, "wait_for_run", state["next"]["arguments"] | {"timeout_seconds": 120})
    assert (again.structured_content or {})["status"] == "completed"


async def test_waiting_for_a_technique_run_polls_its_technique_route(client: Client, sandbox: Sandbox) -> None:
    started = await call_ok(
        client,
        "start_technique_run",
        {
            "technique_id": POSTER,
            "workspace_id": WORKSPACE,
            "inputs": [{"id": "subject", "type": "text", "value": "x"}],
        },
    )
    follow = (started.structured_content or {})["next"]
    result = await call_ok(client, follow["tool"], follow["arguments"] | {"timeout_seconds": 300})
    assert (result.structured_content or {})["status"] == "completed"
    assert (result.structured_content or {})["technique_id"] == POSTER


async def test_a_passing_server_error_does_not_end_a_wait(client: Client, sandbox: Sandbox) -> None:
    run = await start(client)
    sandbox.faults.push("GET /runs/{run_id}", Fault.status_(503), times=3)  # beats the client's 2 retries
    result = await call_ok(client, "wait_for_run", {"run_id": run["run_id"]})
    assert (result.structured_content or {})["status"] == "completed"


async def test_waiting_for_an_unknown_run_is_an_error_naming_the_code(client: Client) -> None:
    text = await call_error(client, "wait_for_run", {"run_id": "run_doesnotexist"})
    assert "not_found" in text and "Next step" in text


async def test_cancelling_a_wait_stops_polling_at_once(client: Client, sandbox: Sandbox, fake_time: FakeClock) -> None:
    run = await start(client, type="video", prompt="a drone shot")
    fake_time.hold, fake_time.cancelled = anyio.Event(), anyio.Event()
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(client.call_tool, "wait_for_run", {"run_id": run["run_id"]})
            await fake_time.hold.wait()  # the wait is pausing until the run can be done
            polls = sandbox.requests["GET /runs/{run_id}"]
            scope.cancel()
    with anyio.fail_after(5):
        await fake_time.cancelled.wait()  # the server-side pause was cancelled, not left running
    assert sandbox.requests["GET /runs/{run_id}"] == polls


async def test_cancelling_a_wait_between_polls_stops_it_at_once(
    client: Client, sandbox: Sandbox, fake_time: FakeClock
) -> None:
    run = await start(client, type="video", prompt="a drone shot")  # 45 s
    await call_ok(client, "wait_for_run", {"run_id": run["run_id"], "timeout_seconds": 12})  # polls a few times
    polls = sandbox.requests["GET /runs/{run_id}"]
    assert polls >= 1
    fake_time.hold, fake_time.cancelled = anyio.Event(), anyio.Event()
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(client.call_tool, "wait_for_run", {"run_id": run["run_id"]})
            await fake_time.hold.wait()
            scope.cancel()
    with anyio.fail_after(5):
        await fake_time.cancelled.wait()
    assert sandbox.requests["GET /runs/{run_id}"] == polls


async def test_waiting_again_on_a_run_just_seen_finished_answers_at_once(
    client: Client, fake_time: FakeClock, sandbox: Sandbox
) -> None:
    run = await start(client)
    fake_time.now += 60
    await call_ok(client, "get_run", {"run_id": run["run_id"]})
    sleeps_before, reads_before = len(fake_time.sleeps), sandbox.requests["GET /runs/{run_id}"]
    waited = await call_ok(client, "wait_for_run", {"run_id": run["run_id"]})
    assert (waited.structured_content or {})["status"] == "completed"
    assert fake_time.sleeps[sleeps_before:] == [], "a run already seen ended is read at once, not after a pause"
    assert sandbox.requests["GET /runs/{run_id}"] == reads_before + 1

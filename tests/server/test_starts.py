"""Starting runs through the tools: what a start returns, how it routes, and lost answers."""

from __future__ import annotations

import pytest
from mcp import Client

from flora_mcp.sandbox import Fault, Sandbox

from .support import POSTER, WORKSPACE, call_error, call_ok, call_refused_unsent, generation, text_of

pytestmark = pytest.mark.anyio


async def test_a_generation_start_returns_the_run_a_cost_quote_and_what_to_call_next(
    client: Client, sandbox: Sandbox
) -> None:
    result = await call_ok(client, "start_generation_run", generation(params={"aspect_ratio": "16:9"}))
    start = result.structured_content or {}
    run = sandbox.runs[-1]
    assert start["outcome"] == "started"
    assert start["run_id"] == run.run_id
    assert start["quote_usd"] == pytest.approx(0.04)
    assert "charged_cost" not in start, "a start's cost is a quote, and is named so"
    assert start["estimated_seconds"] == pytest.approx(6)
    assert start["poll_url"].endswith(f"/runs/{run.run_id}")
    assert start["idempotency_key"].startswith("flora-mcp-")
    assert start["next"] == {"tool": "wait_for_run", "arguments": {"run_id": run.run_id}, "after_seconds": 0}
    text = text_of(result)
    assert run.run_id in text and "quote" in text and "wait_for_run" in text


async def test_a_generation_start_sends_the_callers_idempotency_key(client: Client, sandbox: Sandbox) -> None:
    result = await call_ok(client, "start_generation_run", generation(idempotency_key="my-key-0001"))
    assert (result.structured_content or {})["idempotency_key"] == "my-key-0001"
    assert len(sandbox.runs) == 1


async def test_repeating_a_start_with_the_same_key_answers_the_first_run_not_a_second(
    client: Client, sandbox: Sandbox
) -> None:
    first = await call_ok(client, "start_generation_run", generation(idempotency_key="same-key-0001"))
    again = await call_ok(client, "start_generation_run", generation(idempotency_key="same-key-0001"))
    assert (again.structured_content or {})["outcome"] == "repeat"
    assert (again.structured_content or {})["run_id"] == (first.structured_content or {})["run_id"]
    assert len(sandbox.runs) == 1
    assert "repeat=true" in text_of(again)


async def test_a_start_whose_answer_was_lost_is_recovered_by_the_server_with_its_run_id(
    client: Client, sandbox: Sandbox
) -> None:
    sandbox.faults.push("POST /runs/technique", Fault.dropped_after_create())
    arguments = {
        "technique_id": POSTER,
        "workspace_id": WORKSPACE,
        "inputs": [{"id": "subject", "type": "text", "value": "a cat"}],
    }
    result = await call_ok(client, "start_technique_run", arguments)
    start = result.structured_content or {}
    assert len(sandbox.runs) == 1, "the retry must not start a second run"
    assert start["outcome"] == "recovered"
    assert start["run_id"] == sandbox.runs[0].run_id
    assert start["run_id"] in text_of(result)
    assert start["next"] == {
        "tool": "wait_for_run",
        "arguments": {"run_id": start["run_id"], "technique_id": POSTER},
        "after_seconds": 0,
    }


async def test_a_generation_whose_answer_was_lost_is_recovered_and_can_be_followed(
    client: Client, sandbox: Sandbox
) -> None:
    sandbox.faults.push("POST /runs/generation", Fault.dropped_after_create())
    result = await call_ok(client, "start_generation_run", generation())
    start = result.structured_content or {}
    assert len(sandbox.runs) == 1, "the retry must not start a second run"
    assert start["outcome"] == "recovered"
    assert start["run_id"] == sandbox.runs[0].run_id
    waited = await call_ok(client, "wait_for_run", {"run_id": start["run_id"]})
    assert (waited.structured_content or {})["status"] == "completed"


async def test_a_technique_with_a_workspace_and_tech_id_uses_the_top_level_route(
    client: Client, sandbox: Sandbox
) -> None:
    arguments = {
        "technique_id": POSTER,
        "workspace_id": WORKSPACE,
        "inputs": [{"id": "subject", "type": "text", "value": "a cat"}],
    }
    result = await call_ok(client, "start_technique_run", arguments)
    assert sandbox.requests["POST /runs/technique"] == 1
    start = result.structured_content or {}
    assert start["quote_usd"] == pytest.approx(0.12)
    assert start["next"]["arguments"] == {"run_id": start["run_id"], "technique_id": POSTER}


@pytest.mark.parametrize(
    "extra",
    [
        {"technique_id": "poster-maker"},
        {"technique_id": POSTER},
        {"technique_id": POSTER, "callback_url": "https://hooks.example.com/flora"},
    ],
    ids=["slug", "no-workspace", "callback"],
)
async def test_other_technique_starts_use_the_nested_route_in_async_mode(
    client: Client, sandbox: Sandbox, extra: dict[str, str]
) -> None:
    arguments = {"inputs": [{"id": "subject", "type": "text", "value": "a cat"}], **extra}
    result = await call_ok(client, "start_technique_run", arguments)
    assert sandbox.requests["POST /techniques/{technique_id}/runs"] == 1
    assert sandbox.requests["POST /runs/technique"] == 0
    start = result.structured_content or {}
    assert start["status"] == "pending"
    assert start["technique_id"] == extra["technique_id"]
    assert start["next"]["arguments"]["technique_id"] == extra["technique_id"]


async def test_a_slug_with_a_workspace_is_resolved_and_started_in_that_workspace(
    client: Client, sandbox: Sandbox
) -> None:
    arguments = {
        "technique_id": "poster-maker",
        "workspace_id": WORKSPACE,
        "inputs": [{"id": "subject", "type": "text", "value": "a cat"}],
    }
    result = await call_ok(client, "start_technique_run", arguments)
    assert sandbox.requests["POST /runs/technique"] == 1
    assert sandbox.requests["POST /techniques/{technique_id}/runs"] == 0
    assert (result.structured_content or {})["technique_id"] == POSTER


async def test_a_callback_url_with_a_workspace_is_refused_since_no_route_honours_both(
    client: Client, sandbox: Sandbox
) -> None:
    text = await call_refused_unsent(
        client,
        sandbox,
        "start_technique_run",
        {
            "technique_id": POSTER,
            "workspace_id": WORKSPACE,
            "inputs": [{"id": "subject", "type": "text", "value": "a cat"}],
            "callback_url": "https://hooks.example.com/flora",
        },
    )
    assert "callback_url" in text and "workspace_id" in text


async def test_a_plain_http_callback_url_is_refused_before_anything_is_sent(client: Client, sandbox: Sandbox) -> None:
    text = await call_refused_unsent(
        client,
        sandbox,
        "start_technique_run",
        {
            "technique_id": POSTER,
            "inputs": [{"id": "subject", "type": "text", "value": "a cat"}],
            "callback_url": "http://hooks.example.com/flora",
        },
    )
    assert "callback_url" in text and "https" in text


async def test_an_input_given_twice_is_refused_without_a_start(client: Client, sandbox: Sandbox) -> None:
    # The technique's catalog entry is read (free) to learn that subject takes one value.
    text = await call_error(
        client,
        "start_technique_run",
        {
            "technique_id": POSTER,
            "workspace_id": WORKSPACE,
            "inputs": [
                {"id": "subject", "type": "text", "value": "a cat"},
                {"id": "subject", "type": "text", "value": "a dog"},
            ],
        },
    )
    assert "inputs.subject" in text and "allow_multiple" in text and "Nothing was sent" in text
    assert sandbox.requests["POST /runs/technique"] == 0 and not sandbox.runs


def test_only_a_technique_start_declares_technique_fields() -> None:
    from flora_mcp.server.results import StartResult, TechniqueStartResult

    technique_only = {"status", "technique_id", "outputs"}
    assert not technique_only & set(StartResult.model_fields), "a generation start never has them"
    assert technique_only <= set(TechniqueStartResult.model_fields)

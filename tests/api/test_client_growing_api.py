"""The client against a FLORA that grows: new enum values, nulls, bad list items, malformed errors, a retired route.

All against a scripted upstream (httpx2.MockTransport), never the sandbox: these are answers the
sandbox does not give.
"""

from __future__ import annotations

import logging

import httpx2
import pytest

from flora_mcp.api import (
    ConflictError,
    IdempotencyDuplicateError,
    InputValidationError,
    NotFoundError,
    ServerError,
    StartTechniqueRun,
    TechniqueInput,
    TechniqueRunListQuery,
    error_from_response,
)
from flora_mcp.api.client import AcceptedEarlier, Started
from flora_mcp.api.models import ModelList, RunState, StartResponse

from .support import GENERATION, MakeHarness, run_state, start_answer

pytestmark = pytest.mark.anyio


def ok(body: object) -> httpx2.Response:
    return httpx2.Response(200, json=body)


async def test_unknown_statuses_output_types_and_nulls_are_kept_as_sent(harness: MakeHarness) -> None:
    outputs = [
        {"output_id": "o1", "type": "modelUrl", "url": "https://cdn.example/m.glb"},
        {"output_id": "o2", "type": "imageUrl", "url": None},
    ]
    h = harness(ok(run_state(status="cancelled", progress=None, outputs=outputs)))
    run = await h.client.get_run("run_abc123")
    assert run.status == "cancelled" and not run.is_terminal and not run.status_known
    assert run.progress is None
    assert [(o.type, o.url) for o in run.outputs or []] == [
        ("modelUrl", "https://cdn.example/m.glb"),
        ("imageUrl", None),
    ]


async def test_an_unknown_start_type_is_still_a_started_run(harness: MakeHarness) -> None:
    h = harness(ok(start_answer(type="batch")))
    outcome = await h.client.start_generation_run(GENERATION)
    assert isinstance(outcome, Started) and outcome.response.type == "batch"


async def test_one_malformed_item_is_skipped_with_a_note_and_the_page_survives(harness: MakeHarness) -> None:
    page = {"technique_runs": [run_state(status="queued"), {"status": "running"}, run_state("run_2")], "meta": {}}
    h = harness(ok(page))
    answer = await h.client.list_technique_runs(TechniqueRunListQuery())
    assert [r.run_id for r in answer.technique_runs] == ["run_abc123", "run_2"]
    assert answer.skipped == ["item 1 of technique_runs skipped: run_id: Field required"]
    models = ModelList.model_validate({"models": [{"model_id": "m", "type": "3d"}, {"name": "no id"}]})
    assert [m.type for m in models.models] == ["3d"] and len(models.skipped) == 1


def test_response_models_take_any_string_for_their_enumerations() -> None:
    assert StartResponse.model_validate({"run_id": "r", "type": "workflow"}).type == "workflow"
    assert RunState.model_validate({"run_id": "r", "status": "archived"}).status == "archived"


def test_a_malformed_envelope_keeps_the_code_message_and_fields_that_parse() -> None:
    fields = b'[{"field": "params.x"}, {"message": "m"}, "prompt"]'
    body = b'{"error": {"code": null, "message": "bad params", "fields": ' + fields + b"}}"
    err = error_from_response(400, body)
    assert isinstance(err, InputValidationError)
    assert err.message == "bad params"
    assert [f.field for f in err.fields] == ["params.x", "prompt"]
    assert "FLORA gave no message" in str(err.fields[0])
    err = error_from_response(500, b'{"error": {"code": 42, "message": "boom"}}')
    assert isinstance(err, ServerError) and err.message == "boom" and err.enveloped


def test_only_idempotency_duplicate_is_a_duplicate_another_409_code_is_a_conflict() -> None:
    assert isinstance(error_from_response(409, b'{"error": {"code": "idempotency_duplicate", "message": "d"}}'),
                      IdempotencyDuplicateError)  # fmt: skip
    conflict = error_from_response(409, b'{"error": {"code": "project_locked", "message": "locked"}}')
    assert isinstance(conflict, ConflictError) and not isinstance(conflict, IdempotencyDuplicateError)
    assert conflict.code == "project_locked" and not conflict.may_have_been_processed


async def test_a_409_with_another_code_is_raised_not_reported_as_accepted_earlier(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(409, json={"error": {"code": "project_locked", "message": "locked"}}))
    with pytest.raises(ConflictError):
        await h.client.start_generation_run(GENERATION)
    h = harness(httpx2.Response(409, json={"error": {"code": "idempotency_duplicate", "message": "dup"}}))
    assert isinstance(await h.client.start_generation_run(GENERATION), AcceptedEarlier)


async def test_a_gone_generation_route_moves_to_generate_once_and_logs_it_once(
    harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    gone = httpx2.Response(404, text="<html>Not Found</html>", headers={"content-type": "text/html"})
    h = harness(gone, ok(start_answer("run_1")), ok(start_answer("run_2")), ok(start_answer("run_3")))
    with caplog.at_level(logging.WARNING, logger="flora_mcp.api"):
        first = await h.client.start_generation_run(GENERATION, idempotency_key="same-key-0001")
        await h.client.start_generation_run(GENERATION)
        await h.client.with_api_key("sk-other-key-0002").start_generation_run(GENERATION)
    assert isinstance(first, Started) and first.response.run_id == "run_1"
    paths = [r.url.path for r in h.flora.requests]
    assert paths == ["/api/v1/runs/generation", "/api/v1/generate", "/api/v1/generate", "/api/v1/generate"]
    # The retried start kept its key: FLORA can never run it twice.
    assert h.flora.requests[0].headers["idempotency-key"] == h.flora.requests[1].headers["idempotency-key"]
    assert sum("POST /generate from now on" in r.getMessage() for r in caplog.records) == 1
    assert h.client.generation_route == "/generate"


async def test_a_not_found_in_the_envelope_is_an_unknown_id_not_a_gone_route(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(404, json={"error": {"code": "not_found", "message": "project not found"}}))
    with pytest.raises(NotFoundError):
        await h.client.start_generation_run(GENERATION)
    assert [r.url.path for r in h.flora.requests] == ["/api/v1/runs/generation"]
    assert h.client.generation_route == "/runs/generation"


async def test_a_410_without_an_envelope_is_also_a_gone_route(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(410), ok(start_answer()))
    assert isinstance(await h.client.start_generation_run(GENERATION), Started)
    assert h.flora.requests[-1].url.path == "/api/v1/generate"


async def test_an_input_of_a_type_flora_added_travels_as_json_on_the_top_level_route(harness: MakeHarness) -> None:
    h = harness(ok(start_answer(type="technique")))
    inputs = [TechniqueInput(id="settings", type="text", value={"grid": [3, 3], "bleed": True})]
    await h.client.start_technique_run(
        StartTechniqueRun(technique_id="tech_abcd1234", workspace_id="ws_abc123", inputs=inputs)
    )
    assert h.flora.json_bodies()[0]["inputs"] == {"settings": {"grid": [3, 3], "bleed": True}}

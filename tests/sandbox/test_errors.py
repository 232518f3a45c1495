"""Every documented error, in FLORA's envelope, with the status and fields a client acts on."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from flora_mcp.api.models import ErrorEnvelope, RunState
from flora_mcp.sandbox import Sandbox, SandboxConfig
from tests.fake_clock import FakeClock

from .helpers import generation_body, nested_body

pytestmark = pytest.mark.anyio


def error_of(response: httpx2.Response) -> tuple[int, str, list[str]]:
    error = ErrorEnvelope.model_validate(response.json()).error
    assert error.message
    return response.status_code, error.code, [f.field for f in error.fields or ()]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"prompt": None}, ["prompt"]),
        ({"prompt": "  "}, ["prompt"]),
        ({"type": "t2i"}, ["type"]),
        ({"workspace_id": "abc123"}, ["workspace_id"]),
        ({"project_id": "abc123"}, ["project_id"]),
        ({"model": "Flux Pro"}, ["model"]),
        ({"model": "t2v-sandbox-video"}, ["model"]),
        ({"params": "16:9"}, ["params"]),
        ({"prompt": None, "type": "t2i", "project_id": "p1"}, ["project_id", "prompt", "type"]),
    ],
)
async def test_a_bad_generation_body_names_every_bad_field(
    client: httpx2.AsyncClient, sandbox: Sandbox, body: dict[str, Any], fields: list[str]
) -> None:
    response = await client.post("/runs/generation", json={**generation_body(), **body})

    status, code, named = error_of(response)
    assert (status, code) == (400, "input_validation_error")
    assert sorted(named) == fields
    assert sandbox.runs == []
    assert sandbox.credits_usd == 100


async def test_a_missing_prompt_reads_like_the_documented_example(client: httpx2.AsyncClient) -> None:
    body = generation_body()
    del body["prompt"]

    response = await client.post("/runs/generation", json=body)

    assert response.json() == {
        "error": {
            "code": "input_validation_error",
            "message": "prompt: Required",
            "fields": [{"field": "prompt", "message": "Required"}],
        }
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"technique_id": "sandboxposter"}, "technique_id"),
        ({"technique_id": "tech_nosuchthing"}, "technique_id"),
        ({"inputs": {}}, "inputs.subject"),
        ({"inputs": {"subject": "x", "colour": "red"}}, "inputs.colour"),
        ({"inputs": ["subject"]}, "inputs"),
        ({"workspace_id": "sandbox"}, "workspace_id"),
    ],
)
async def test_a_bad_top_level_technique_body_is_a_field_error(
    client: httpx2.AsyncClient, body: dict[str, Any], field: str
) -> None:
    base = {"technique_id": "tech_sandboxposter", "workspace_id": "ws_sandbox", "inputs": {"subject": "a fox"}}

    response = await client.post("/runs/technique", json={**base, **body})

    assert error_of(response) == (400, "input_validation_error", [field])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inputs": []}, "inputs.subject"),
        ({"inputs": [{"id": "subject", "type": "audioUrl", "value": "x"}]}, "inputs[0].type"),
        ({"inputs": [{"id": "subject", "type": "imageUrl", "value": "https://x.test/a.png"}]}, "inputs[0].type"),
        ({"mode": "sync"}, "mode"),
        ({"callback_url": "http://hooks.example.com/flora"}, "callback_url"),
    ],
)
async def test_a_bad_nested_technique_body_is_a_field_error(
    client: httpx2.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/techniques/poster-maker/runs", json={**nested_body(), **body})

    assert error_of(response) == (400, "input_validation_error", [field])


async def test_an_image_input_must_be_a_url(client: httpx2.AsyncClient) -> None:
    response = await client.post(
        "/techniques/caption-writer/runs",
        json={"inputs": [{"id": "image", "type": "imageUrl", "value": "a photo"}], "mode": "async"},
    )

    assert error_of(response) == (400, "input_validation_error", ["inputs.image"])


async def test_a_nested_start_on_an_unknown_technique_is_not_found(client: httpx2.AsyncClient) -> None:
    response = await client.post("/techniques/tech_nosuchthing/runs", json=nested_body())

    assert error_of(response)[:2] == (404, "not_found")


@pytest.mark.parametrize(("field", "value"), [("workspace_id", "ws_elsewhere"), ("project_id", "prj_elsewhere")])
async def test_a_workspace_or_project_the_key_cannot_see_is_not_found(
    client: httpx2.AsyncClient, sandbox: Sandbox, field: str, value: str
) -> None:
    response = await client.post("/runs/generation", json=generation_body(**{field: value}))

    assert error_of(response)[:2] == (404, "not_found")
    assert sandbox.runs == []


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]"])
async def test_a_body_that_is_not_a_json_object_is_invalid_json(client: httpx2.AsyncClient, raw: bytes) -> None:
    response = await client.post("/runs/generation", content=raw, headers={"Content-Type": "application/json"})

    assert error_of(response)[:2] == (400, "invalid_json")


@pytest.mark.parametrize("authorization", [None, "Bearer sk-wrong", "Basic sk-sandbox", "sk-sandbox"])
async def test_a_missing_or_wrong_key_is_unauthorized_everywhere(sandbox: Sandbox, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with httpx2.AsyncClient(transport=sandbox.transport(), base_url=sandbox.base_url(), headers=headers) as anon:
        answers = [
            await anon.post("/runs/generation", json=generation_body()),
            await anon.get("/workspaces"),
            await anon.get("/runs/run_abc"),
        ]

    assert [error_of(r)[:2] for r in answers] == [(401, "unauthorized")] * 3
    assert "sk-sandbox" not in "".join(r.text for r in answers)
    assert sandbox.runs == []


@pytest.mark.parametrize("config", [SandboxConfig(extra_api_keys=("sk-second",))])
async def test_extra_keys_are_accepted_too(sandbox: Sandbox) -> None:
    async with httpx2.AsyncClient(
        transport=sandbox.transport(), base_url=sandbox.base_url(), headers={"Authorization": "Bearer sk-second"}
    ) as second:
        response = await second.get("/workspaces")

    assert response.status_code == 200


@pytest.mark.parametrize("config", [SandboxConfig(credits_usd=0.1)])
async def test_a_start_the_credits_do_not_cover_is_refused_with_402_and_creates_no_run(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    answers = [await client.post("/runs/generation", json=generation_body()) for _ in range(3)]

    assert [r.status_code for r in answers] == [200, 200, 402]
    assert error_of(answers[2])[:2] == (402, "insufficient_credits")
    assert len(sandbox.runs) == 2
    assert sandbox.credits_usd == pytest.approx(0.02)


@pytest.mark.parametrize("config", [SandboxConfig(credits_usd=1.0)])
async def test_credits_cover_exactly_their_amount(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    answers = [await client.post("/runs/generation", json=generation_body()) for _ in range(26)]

    assert [r.status_code for r in answers].count(200) == 25
    assert answers[-1].status_code == 402
    assert sandbox.credits_usd == 0


async def test_an_unknown_path_is_not_found_in_the_envelope(client: httpx2.AsyncClient) -> None:
    response = await client.get("/no/such/route")

    assert error_of(response)[:2] == (404, "not_found")


# --- idempotency -----------------------------------------------------------------------------
async def test_an_idempotency_key_reused_on_a_start_answers_409_without_a_second_run(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    headers = {"Idempotency-Key": "key-0001"}
    first = await client.post("/runs/generation", json=generation_body(), headers=headers)
    again = await client.post("/runs/generation", json=generation_body(), headers=headers)

    assert first.status_code == 200
    assert error_of(again)[:2] == (409, "idempotency_duplicate")
    assert len(sandbox.runs) == 1
    assert sandbox.credits_usd == pytest.approx(100 - 0.04)


async def test_an_idempotency_key_is_shared_by_every_mutating_route(client: httpx2.AsyncClient) -> None:
    headers = {"Idempotency-Key": "key-0002"}
    await client.post("/runs/generation", json=generation_body(), headers=headers)

    technique = await client.post(
        "/runs/technique",
        json={"technique_id": "tech_sandboxposter", "workspace_id": "ws_sandbox", "inputs": {"subject": "x"}},
        headers=headers,
    )
    generate = await client.post("/generate", json=generation_body(), headers=headers)

    assert [technique.status_code, generate.status_code] == [409, 409]


async def test_an_idempotency_key_is_forgotten_after_two_hours(
    client: httpx2.AsyncClient, clock: FakeClock, sandbox: Sandbox
) -> None:
    headers = {"Idempotency-Key": "key-0003"}
    await client.post("/runs/generation", json=generation_body(), headers=headers)
    clock.advance(2 * 60 * 60 - 1)
    within = await client.post("/runs/generation", json=generation_body(), headers=headers)
    clock.advance(1)
    after = await client.post("/runs/generation", json=generation_body(), headers=headers)

    assert (within.status_code, after.status_code) == (409, 200)
    assert len(sandbox.runs) == 2


async def test_a_refused_start_does_not_use_up_its_idempotency_key(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    headers = {"Idempotency-Key": "key-0004"}
    refused = await client.post("/runs/generation", json=generation_body(prompt=""), headers=headers)
    accepted = await client.post("/runs/generation", json=generation_body(), headers=headers)

    assert (refused.status_code, accepted.status_code) == (400, 200)


async def test_a_repeated_nested_body_key_answers_the_existing_run_before_the_header_rule(
    client: httpx2.AsyncClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    body = nested_body(idempotency_key="body-key-1")
    headers = {"Idempotency-Key": "body-key-1"}
    first = RunState.model_validate(
        (await client.post("/techniques/poster-maker/runs", json=body, headers=headers)).json()
    )
    clock.advance(5)

    again = await client.post("/techniques/poster-maker/runs", json=body, headers=headers)

    assert again.status_code == 200
    state = RunState.model_validate(again.json())
    assert state.run_id == first.run_id
    assert state.status == "running"
    assert len(sandbox.runs) == 1
    assert sandbox.credits_usd == pytest.approx(100 - 0.12)


async def test_a_nested_start_with_a_new_body_key_but_a_used_header_key_is_409(client: httpx2.AsyncClient) -> None:
    await client.post("/techniques/poster-maker/runs", json=nested_body(), headers={"Idempotency-Key": "hdr-key-1"})

    again = await client.post(
        "/techniques/poster-maker/runs",
        json=nested_body(idempotency_key="fresh-key-1"),
        headers={"Idempotency-Key": "hdr-key-1"},
    )

    assert error_of(again)[:2] == (409, "idempotency_duplicate")


# --- rate limiting ---------------------------------------------------------------------------
@pytest.mark.parametrize("config", [SandboxConfig(rate_limit_per_second=2)])
async def test_requests_over_the_rate_limit_answer_429_with_retry_after(
    client: httpx2.AsyncClient, clock: FakeClock
) -> None:
    answers = [await client.get("/workspaces") for _ in range(3)]
    clock.advance(0.5)
    after_waiting = await client.get("/workspaces")

    assert [r.status_code for r in answers] == [200, 200, 429]
    limited = answers[2]
    assert error_of(limited)[:2] == (429, "rate_limited")
    assert limited.headers["Retry-After"] == "1"
    assert limited.headers["retry-after-ms"] == "500"
    assert after_waiting.status_code == 200


@pytest.mark.parametrize("config", [SandboxConfig(rate_limit_per_second=1, extra_api_keys=("sk-second",))])
async def test_the_rate_limit_is_per_key(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    await client.get("/workspaces")
    async with httpx2.AsyncClient(
        transport=sandbox.transport(), base_url=sandbox.base_url(), headers={"Authorization": "Bearer sk-second"}
    ) as second:
        other_key = await second.get("/workspaces")
    same_key = await client.get("/workspaces")

    assert (other_key.status_code, same_key.status_code) == (200, 429)


async def test_every_answer_carries_a_request_id(client: httpx2.AsyncClient) -> None:
    answers = [
        await client.get("/workspaces"),
        await client.get("/runs/run_missing"),
        await client.post("/runs/generation", content=b"nope"),
        await client.get("/no/such/route"),
    ]

    ids = [r.headers.get("request-id") for r in answers]
    assert all(i and i.startswith("req_") for i in ids)
    assert len(set(ids)) == len(ids)

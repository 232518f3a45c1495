"""Scripted faults: each kind looks to a client like the failure it stands for."""

from __future__ import annotations

import json

import httpx2
import pytest

from flora_mcp.api.models import ErrorEnvelope, StartResponse
from flora_mcp.sandbox import Fault, Sandbox
from tests.fake_clock import FakeClock

from .helpers import KEY, generation_body

pytestmark = pytest.mark.anyio

START = "POST /runs/generation"


async def test_a_status_fault_answers_that_status_in_the_envelope_once(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.push(START, Fault.status_(503))

    faulted = await client.post("/runs/generation", json=generation_body())
    normal = await client.post("/runs/generation", json=generation_body())

    assert faulted.status_code == 503
    assert ErrorEnvelope.model_validate(faulted.json()).error.code == "unknown_error"
    assert faulted.headers["request-id"].startswith("req_")
    assert normal.status_code == 200
    assert len(sandbox.runs) == 1
    assert sandbox.requests[START] == 2


async def test_a_fault_can_repeat_and_carry_extra_headers(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.faults.push(START, Fault("status", status=502, headers=(("x-should-retry", "false"),)), times=2)

    answers = [await client.post("/runs/generation", json=generation_body()) for _ in range(3)]

    assert [r.status_code for r in answers] == [502, 502, 200]
    assert answers[0].headers["x-should-retry"] == "false"


async def test_a_rate_limited_fault_gives_both_retry_hints(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.faults.push("GET /workspaces", Fault.rate_limited(retry_after=2.5))

    response = await client.get("/workspaces")

    assert response.status_code == 429
    assert ErrorEnvelope.model_validate(response.json()).error.code == "rate_limited"
    assert (response.headers["Retry-After"], response.headers["retry-after-ms"]) == ("3", "2500")


async def test_a_drop_fault_is_a_transport_error_and_nothing_happens(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.push(START, Fault.dropped())

    with pytest.raises(httpx2.RemoteProtocolError):
        await client.post("/runs/generation", json=generation_body())

    assert sandbox.runs == []
    assert sandbox.credits_usd == 100
    assert sandbox.requests[START] == 1


async def test_a_drop_after_create_fault_loses_the_answer_but_the_run_exists_and_is_charged(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.faults.push(START, Fault.dropped_after_create())

    with pytest.raises(httpx2.RemoteProtocolError):
        await client.post("/runs/generation", json=generation_body(), headers={"Idempotency-Key": "lost-0001"})
    retried = await client.post("/runs/generation", json=generation_body(), headers={"Idempotency-Key": "lost-0001"})

    assert len(sandbox.runs) == 1
    assert sandbox.credits_usd == pytest.approx(100 - 0.04)
    assert retried.status_code == 409


async def test_a_slow_fault_waits_then_answers_normally(clock: FakeClock) -> None:
    sandbox = Sandbox(clock=clock.time, sleep=clock.sleep)
    sandbox.faults.push(START, Fault.slow(7.5))
    async with httpx2.AsyncClient(
        transport=sandbox.transport(), base_url=sandbox.base_url(), headers={"Authorization": f"Bearer {KEY}"}
    ) as client:
        response = await client.post("/runs/generation", json=generation_body())

    assert clock.sleeps == [7.5]
    assert StartResponse.model_validate(response.json()).run_id == sandbox.runs[0].run_id


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
        (200, b'{"run_id": "run_abc', "application/json"),
        (200, b'{"padding": "' + b"x" * 2_000_000 + b'"}', "application/json"),
    ],
)
async def test_a_raw_body_fault_answers_exactly_those_bytes(
    client: httpx2.AsyncClient, sandbox: Sandbox, status: int, body: bytes, content_type: str
) -> None:
    sandbox.faults.push(START, Fault.raw(status, body, content_type))

    response = await client.post("/runs/generation", json=generation_body())

    assert response.status_code == status
    assert response.content == body
    assert response.headers["content-type"] == content_type
    assert sandbox.runs == []


async def test_a_star_fault_hits_the_next_api_route_but_not_media(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.faults.push("*", Fault.status_(500))

    media = await client.get("http://sandbox.test/media/run_x/output_1.png")
    api = await client.get("/models")

    assert (media.status_code, api.status_code) == (404, 500)


async def test_a_route_own_fault_comes_before_a_star_fault(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.faults.push("*", Fault.status_(500))
    sandbox.faults.push("GET /api/v1/models", Fault.status_(503))

    answers = [(await client.get("/models")).status_code for _ in range(3)]

    assert answers == [503, 500, 200]


async def test_faults_can_be_scripted_and_inspected_through_the_control_routes(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    origin = "http://sandbox.test"
    pushed = await client.post(
        f"{origin}/_sandbox/faults",
        json={"route": "GET /runs/{run_id}", "kind": "body", "status": 502, "body": "<html>bad</html>", "times": 2},
    )
    await client.post("/runs/generation", json=generation_body())
    run_id = sandbox.runs[0].run_id
    faulted = await client.get(f"/runs/{run_id}")
    state = (await client.get(f"{origin}/_sandbox/state")).json()

    assert pushed.status_code == 200
    assert (faulted.status_code, faulted.text) == (502, "<html>bad</html>")
    assert state["runs"] == 1
    assert state["run_ids"] == [run_id]
    assert state["credits_usd"] == pytest.approx(100 - 0.04)
    assert state["requests"] == {"POST /runs/generation": 1, "GET /runs/{run_id}": 1}
    assert state["faults_pending"] == 1


async def test_reset_forgets_runs_keys_counts_and_faults(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    await client.post("/runs/generation", json=generation_body(), headers={"Idempotency-Key": "reset-0001"})
    sandbox.faults.push(START, Fault.status_(503))

    # Relative to the API base URL: the control routes are served under /api/v1 too.
    reset = await client.post("/_sandbox/reset", json={"credits_usd": 1})
    again = await client.post("/runs/generation", json=generation_body(), headers={"Idempotency-Key": "reset-0001"})

    assert json.loads(reset.content)["runs"] == 0
    assert sandbox.requests == {"POST /runs/generation": 1}
    assert again.status_code == 200
    assert len(sandbox.runs) == 1
    assert sandbox.credits_usd == pytest.approx(0.96)


async def test_control_routes_need_the_key(sandbox: Sandbox) -> None:
    async with httpx2.AsyncClient(transport=sandbox.transport(), base_url="http://sandbox.test") as anon:
        answers = [
            await anon.get("/_sandbox/state"),
            await anon.post("/_sandbox/reset"),
            await anon.post("/_sandbox/faults", json={"route": "*", "kind": "drop"}),
        ]

    assert [r.status_code for r in answers] == [401, 401, 401]
    assert sandbox.faults.pending() == 0


async def test_a_bad_fault_request_names_its_fields(client: httpx2.AsyncClient) -> None:
    response = await client.post("http://sandbox.test/_sandbox/faults", json={"route": "", "kind": "explode"})

    assert response.status_code == 400
    assert sorted(f["field"] for f in response.json()["error"]["fields"]) == ["kind", "route"]

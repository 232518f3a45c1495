"""Starting and polling runs: answer shapes, the lazy lifecycle, failures and charges."""

from __future__ import annotations

import httpx2
import pytest

from flora_mcp.api.models import RunState, StartResponse
from flora_mcp.sandbox import Sandbox, SandboxConfig
from tests.fake_clock import FakeClock

from .helpers import generation_body, nested_body

pytestmark = pytest.mark.anyio


async def test_a_generation_start_answers_a_start_response_that_charges_the_model_cost(
    client: httpx2.AsyncClient, sandbox: Sandbox
) -> None:
    response = await client.post("/runs/generation", json=generation_body())

    assert response.status_code == 200
    start = StartResponse.model_validate(response.json())
    assert start.run_id.startswith("run_")
    assert start.type == "generation"
    assert start.charged_cost == 0.04
    assert start.estimated_seconds == 6
    assert start.model is not None and start.model.model_id == "t2i-sandbox-image"
    assert start.project_id == "prj_sandbox"
    assert start.poll_url == f"http://sandbox.test/api/v1/runs/{start.run_id}"
    assert sandbox.credits_usd == pytest.approx(100 - 0.04)
    assert [run.run_id for run in sandbox.runs] == [start.run_id]


async def test_the_current_generate_route_takes_the_same_body_and_answers_the_same_shape(
    client: httpx2.AsyncClient,
) -> None:
    response = await client.post("/generate", json=generation_body(type="video", model="t2v-sandbox-video"))

    start = StartResponse.model_validate(response.json())
    assert start.type == "generation"
    assert start.charged_cost == 0.5
    assert start.model is not None and start.model.model_id == "t2v-sandbox-video"


async def test_a_run_goes_from_pending_to_running_to_completed_with_rising_progress(
    client: httpx2.AsyncClient, clock: FakeClock
) -> None:
    run_id = (await client.post("/runs/generation", json=generation_body())).json()["run_id"]

    states = []
    for _ in range(8):
        states.append(RunState.model_validate((await client.get(f"/runs/{run_id}")).json()))
        clock.advance(1)

    statuses = [s.status for s in states]
    assert statuses[0] == "pending"
    assert "running" in statuses
    assert statuses[-1] == "completed"
    assert statuses.index("running") < statuses.index("completed")
    progress = [s.progress for s in states]
    assert progress == sorted(progress)
    assert 0 < progress[2] < 1
    assert progress[-1] == 1.0
    done = states[-1]
    assert done.started_at is not None and done.completed_at is not None
    assert done.created_at is not None and done.created_at <= done.started_at < done.completed_at
    assert done.outputs and done.outputs[0].type == "imageUrl"
    assert done.outputs[0].url.startswith("http://sandbox.test/media/")


async def test_timestamps_are_unix_milliseconds(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    run_id = (await client.post("/runs/generation", json=generation_body())).json()["run_id"]

    state = RunState.model_validate((await client.get(f"/runs/{run_id}")).json())

    assert state.created_at == clock.now * 1000


@pytest.mark.parametrize("config", [SandboxConfig(time_scale=0)])
async def test_with_time_scale_zero_a_run_is_completed_on_first_read(client: httpx2.AsyncClient) -> None:
    run_id = (await client.post("/runs/generation", json=generation_body(type="text"))).json()["run_id"]

    state = RunState.model_validate((await client.get(f"/runs/{run_id}")).json())

    assert state.status == "completed"
    assert state.outputs is not None
    assert state.outputs[0].type == "text"
    assert "A ceramic mug on a sunlit table" in state.outputs[0].url


async def test_a_prompt_with_the_fail_marker_fails_with_provider_error(
    client: httpx2.AsyncClient, clock: FakeClock
) -> None:
    run_id = (await client.post("/runs/generation", json=generation_body(prompt="a mug [fail]"))).json()["run_id"]
    clock.advance(60)

    state = RunState.model_validate((await client.get(f"/runs/{run_id}")).json())

    assert state.status == "failed"
    assert state.error_code == "provider_error"
    assert state.error_message
    assert state.outputs is None
    assert state.completed_at is not None


async def test_a_top_level_technique_start_answers_a_technique_start_response(
    client: httpx2.AsyncClient,
) -> None:
    response = await client.post(
        "/runs/technique",
        json={"technique_id": "tech_sandboxposter", "workspace_id": "ws_sandbox", "inputs": {"subject": "a fox"}},
    )

    start = StartResponse.model_validate(response.json())
    assert start.type == "technique"
    assert start.charged_cost == 0.12
    assert start.technique is not None
    assert (start.technique.technique_id, start.technique.name) == ("tech_sandboxposter", "Poster maker")
    assert start.poll_url == f"http://sandbox.test/api/v1/techniques/tech_sandboxposter/runs/{start.run_id}"


async def test_the_nested_technique_start_accepts_a_slug_and_answers_a_run_state(
    client: httpx2.AsyncClient,
) -> None:
    response = await client.post("/techniques/poster-maker/runs", json=nested_body())

    state = RunState.model_validate(response.json())
    assert state.status == "pending"
    assert state.progress == 0
    assert state.charged_cost == 0.12
    assert state.poll_url == f"http://sandbox.test/api/v1/techniques/tech_sandboxposter/runs/{state.run_id}"


async def test_a_technique_run_is_read_by_technique_id_or_slug_and_its_poll_url_works(
    client: httpx2.AsyncClient, clock: FakeClock
) -> None:
    started = RunState.model_validate((await client.post("/techniques/poster-maker/runs", json=nested_body())).json())
    clock.advance(25)

    by_slug = await client.get(f"/techniques/poster-maker/runs/{started.run_id}")
    assert started.poll_url is not None
    by_poll_url = await client.get(started.poll_url)

    assert RunState.model_validate(by_slug.json()).status == "completed"
    assert by_poll_url.json() == by_slug.json()


async def test_a_technique_run_read_under_another_technique_is_not_found(client: httpx2.AsyncClient) -> None:
    run_id = (await client.post("/techniques/poster-maker/runs", json=nested_body())).json()["run_id"]

    response = await client.get(f"/techniques/caption-writer/runs/{run_id}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_a_technique_input_with_the_fail_marker_fails_the_run(
    client: httpx2.AsyncClient, clock: FakeClock
) -> None:
    run_id = (await client.post("/techniques/poster-maker/runs", json=nested_body("[fail] fox"))).json()["run_id"]
    clock.advance(120)

    state = RunState.model_validate((await client.get(f"/techniques/poster-maker/runs/{run_id}")).json())

    assert (state.status, state.error_code) == ("failed", "provider_error")


@pytest.mark.parametrize("config", [SandboxConfig(time_scale=0)])
@pytest.mark.parametrize(
    ("technique", "inputs", "output_type"),
    [
        ("tech_sandboxposter", {"subject": "a fox"}, "imageUrl"),
        ("tech_sandboxclip", {"product_image": "https://example.com/p.png", "mood": "calm"}, "videoUrl"),
        ("tech_sandboxcaption", {"image": "https://example.com/p.png"}, "text"),
    ],
)
async def test_each_technique_completes_with_its_documented_output_type(
    client: httpx2.AsyncClient, technique: str, inputs: dict[str, str], output_type: str
) -> None:
    start = (
        await client.post(
            "/runs/technique", json={"technique_id": technique, "workspace_id": "ws_sandbox", "inputs": inputs}
        )
    ).json()

    state = RunState.model_validate((await client.get(start["poll_url"])).json())

    assert state.outputs is not None
    assert [o.type for o in state.outputs] == [output_type]


@pytest.mark.parametrize("config", [SandboxConfig(time_scale=0.5)])
async def test_time_scale_shortens_runs_and_their_estimates(client: httpx2.AsyncClient, clock: FakeClock) -> None:
    start = StartResponse.model_validate((await client.post("/runs/generation", json=generation_body())).json())
    clock.advance(3)

    state = RunState.model_validate((await client.get(f"/runs/{start.run_id}")).json())

    assert start.estimated_seconds == 3
    assert state.status == "completed"


async def test_poll_urls_are_on_the_origin_the_request_came_in_on(sandbox: Sandbox) -> None:
    async with httpx2.AsyncClient(
        transport=sandbox.transport(),
        base_url=sandbox.base_url("http://elsewhere.test:8123"),
        headers={"Authorization": "Bearer sk-sandbox"},
    ) as other:
        start = (await other.post("/runs/generation", json=generation_body())).json()

    assert start["poll_url"].startswith("http://elsewhere.test:8123/api/v1/runs/")


async def test_an_unknown_run_is_not_found(client: httpx2.AsyncClient) -> None:
    response = await client.get("/runs/run_doesnotexist")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

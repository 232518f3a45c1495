"""The client against the sandbox, in process and over a real socket: every endpoint, end to end.

Each test runs twice: through `Sandbox().transport()` (httpx2 in process) and through uvicorn on
127.0.0.1 port 0 (a real socket, where a dropped connection is a real disconnect).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest

from flora_mcp.api import (
    AcceptedEarlier,
    AuthenticationError,
    FloraClient,
    FloraConnectionError,
    GenerationListQuery,
    GenerationRunRequest,
    InputValidationError,
    InsufficientCreditsError,
    ModelListQuery,
    NestedTechniqueRunRequest,
    NotFoundError,
    ProjectListQuery,
    RetryPolicy,
    RunState,
    ServerError,
    Started,
    StartResponse,
    StartTechniqueRun,
    TechniqueInput,
    TechniqueListQuery,
    TechniqueRunListQuery,
    TechniqueRunRequest,
    UnexpectedResponseError,
)
from flora_mcp.sandbox import Fault, Sandbox, SandboxConfig
from tests.fake_clock import FakeClock

pytestmark = pytest.mark.anyio

KEY = "sk-sandbox-test-key"
WORKSPACE = "ws_sandbox"
PROJECT = "prj_sandbox"
POSTER = "tech_sandboxposter"


@dataclass
class Setup:
    sandbox: Sandbox
    client: FloraClient
    clock: FakeClock
    http: httpx2.AsyncClient


@pytest.fixture(params=["in_process", "socket"])
async def setup(request: pytest.FixtureRequest) -> AsyncIterator[Setup]:
    sandbox = Sandbox(SandboxConfig(api_key=KEY, time_scale=0))
    clock = FakeClock()

    def client_for(http: httpx2.AsyncClient, base_url: str) -> FloraClient:
        return FloraClient(http, base_url=base_url, api_key=KEY, sleep=clock.sleep, random=lambda: 0.0, timeout=10)

    if request.param == "in_process":
        async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
            yield Setup(sandbox, client_for(http, sandbox.base_url()), clock, http)
    else:
        async with sandbox.serving() as base_url, httpx2.AsyncClient() as http:
            assert base_url.startswith("http://127.0.0.1:")
            yield Setup(sandbox, client_for(http, base_url), clock, http)


def image(prompt: str = "A ceramic mug on a sunlit table") -> GenerationRunRequest:
    return GenerationRunRequest(workspace_id=WORKSPACE, project_id=PROJECT, prompt=prompt, type="image")


def poster_inputs(subject: str = "a mug") -> list[TechniqueInput]:
    return [TechniqueInput(id="subject", type="text", value=subject)]


# --- every endpoint ------------------------------------------------------------------------------
async def test_the_catalogue_endpoints_answer_the_seed(setup: Setup) -> None:
    client = setup.client
    workspaces = await client.list_workspaces()
    assert [w.workspace_id for w in workspaces.workspaces] == [WORKSPACE]
    projects = await client.list_projects(ProjectListQuery(workspace_id=WORKSPACE))
    assert PROJECT in [p.project_id for p in projects.projects]
    models = await client.list_models(ModelListQuery(type="image"))
    assert [m.model_id for m in models.models] == ["t2i-sandbox-image", "i2i-sandbox-edit"]
    aspect = next(p for p in models.models[0].params or [] if p.name == "aspect_ratio")
    assert [o["value"] for o in aspect.options or []] == ["1:1", "16:9", "9:16"]
    techniques = await client.list_techniques(TechniqueListQuery())
    assert POSTER in [t.technique_id for t in techniques.techniques]
    by_slug = await client.get_technique("poster-maker")
    assert by_slug.technique_id == POSTER
    assert [i.id for i in by_slug.inputs or []][:1] == ["subject"]


@pytest.mark.parametrize("method_name", ["start_generation_run", "generate"])
async def test_a_generation_starts_and_its_poll_url_reaches_the_completed_run(setup: Setup, method_name: str) -> None:
    started = await getattr(setup.client, method_name)(image())
    assert isinstance(started, Started)
    assert isinstance(started.response, StartResponse)
    assert started.request_id and started.request_id.startswith("req_")
    run_id = started.response.run_id
    assert [r.run_id for r in setup.sandbox.runs] == [run_id]

    state = await setup.client.poll(run_id=run_id, poll_url=started.response.poll_url)
    assert state.status == "completed"
    assert state.outputs and state.outputs[0].type == "imageUrl"
    assert (await setup.client.get_run(run_id)).run_id == run_id

    generations = await setup.client.list_generations(GenerationListQuery(workspace_id=WORKSPACE))
    assert [g.run_id for g in generations.generations] == [run_id]
    assert generations.generations[0].prompt == "A ceramic mug on a sunlit table"


async def test_a_top_level_technique_run_starts_and_is_listed(setup: Setup) -> None:
    request = StartTechniqueRun(technique_id=POSTER, workspace_id=WORKSPACE, inputs=poster_inputs())
    started = await setup.client.start_technique_run(request)
    assert isinstance(started, Started)
    assert isinstance(started.response, StartResponse)
    assert started.route == "POST /runs/technique"
    run_id = started.response.run_id

    state = await setup.client.get_technique_run(POSTER, run_id)
    assert state.status == "completed"
    history = await setup.client.list_technique_runs(TechniqueRunListQuery(technique_id="poster-maker"))
    assert [item.run_id for item in history.technique_runs] == [run_id]
    assert history.technique_runs[0].technique is not None
    assert history.technique_runs[0].technique.technique_id == POSTER


async def test_a_nested_technique_run_starts_by_slug_and_is_polled_on_its_route(setup: Setup) -> None:
    started = await setup.client.start_technique_run(
        StartTechniqueRun(technique_id="poster-maker", inputs=poster_inputs())
    )
    assert isinstance(started, Started)
    assert isinstance(started.response, RunState)
    state = await setup.client.poll(run_id=started.response.run_id, technique_id="poster-maker")
    assert state.status == "completed"
    assert setup.sandbox.requests["GET /techniques/{technique_id}/runs/{run_id}"] == 1


# --- lost answers: one run, never two -------------------------------------------------------------
@pytest.mark.parametrize("route", ["POST /runs/generation", "POST /generate"])
async def test_a_generation_answer_lost_after_creation_is_accepted_earlier_with_one_run(
    setup: Setup, route: str
) -> None:
    setup.sandbox.faults.push(route, Fault.dropped_after_create())
    start = setup.client.generate if route == "POST /generate" else setup.client.start_generation_run
    result = await start(image(), idempotency_key="lost-answer-0001")
    assert result == AcceptedEarlier(idempotency_key="lost-answer-0001", request_id=result.request_id, route=route)
    assert len(setup.sandbox.runs) == 1
    assert setup.sandbox.requests[route] == 2
    assert setup.sandbox.credits_usd == pytest.approx(100 - 0.04)


async def test_a_top_level_technique_answer_lost_after_creation_starts_one_run(setup: Setup) -> None:
    setup.sandbox.faults.push("POST /runs/technique", Fault.dropped_after_create())
    request = StartTechniqueRun(technique_id=POSTER, workspace_id=WORKSPACE, inputs=poster_inputs())
    result = await setup.client.start_technique_run(request)
    assert isinstance(result, AcceptedEarlier)
    assert len(setup.sandbox.runs) == 1


async def test_a_nested_technique_answer_lost_after_creation_comes_back_as_that_run(setup: Setup) -> None:
    setup.sandbox.faults.push("POST /techniques/{technique_id}/runs", Fault.dropped_after_create())
    result = await setup.client.start_nested_technique_run(
        "poster-maker", NestedTechniqueRunRequest(inputs=poster_inputs()), idempotency_key="lost-answer-0002"
    )
    assert isinstance(result, Started)
    assert isinstance(result.response, RunState)
    assert [r.run_id for r in setup.sandbox.runs] == [result.response.run_id]
    assert result.idempotency_key == "lost-answer-0002"


async def test_starting_again_with_the_same_key_never_starts_a_second_run(setup: Setup) -> None:
    first = await setup.client.start_generation_run(image(), idempotency_key="same-key-0001")
    again = await setup.client.start_generation_run(image(), idempotency_key="same-key-0001")
    assert isinstance(first, Started)
    assert isinstance(again, AcceptedEarlier)
    assert len(setup.sandbox.runs) == 1


async def test_a_connection_dropped_before_creation_is_retried_and_starts_one_run(setup: Setup) -> None:
    setup.sandbox.faults.push("POST /runs/generation", Fault.dropped())
    result = await setup.client.start_generation_run(image())
    assert isinstance(result, Started)
    assert len(setup.sandbox.runs) == 1
    assert setup.clock.sleeps == [0.5]


# --- retries and errors over the wire -----------------------------------------------------------
async def test_a_rate_limit_is_waited_out_as_the_sandbox_asks(setup: Setup) -> None:
    setup.sandbox.faults.push("GET /workspaces", Fault.rate_limited(retry_after=2))
    await setup.client.list_workspaces()
    assert setup.clock.sleeps == [2]


async def test_an_html_502_that_persists_is_a_server_error_after_the_retries(setup: Setup) -> None:
    setup.sandbox.faults.push("GET /models", Fault.raw(502, b"<html>Bad Gateway</html>"), times=3)
    with pytest.raises(ServerError, match="Bad Gateway") as caught:
        await setup.client.list_models(ModelListQuery())
    assert caught.value.attempts == 3
    assert setup.sandbox.requests["GET /models"] == 3


async def test_truncated_json_from_the_sandbox_is_an_unexpected_response(setup: Setup) -> None:
    setup.sandbox.faults.push("GET /workspaces", Fault.raw(200, b'{"workspaces": [', "application/json"))
    with pytest.raises(UnexpectedResponseError, match="not JSON") as caught:
        await setup.client.list_workspaces()
    assert caught.value.status == 200


async def test_a_wrong_key_is_refused_with_401_and_not_retried(setup: Setup) -> None:
    with pytest.raises(AuthenticationError) as caught:
        await setup.client.with_api_key("sk-wrong-key").list_workspaces()
    assert caught.value.status == 401
    assert caught.value.request_id and caught.value.request_id.startswith("req_")
    assert setup.sandbox.requests["GET /workspaces"] == 1


async def test_the_sandbox_field_errors_reach_the_caller(setup: Setup) -> None:
    bad = GenerationRunRequest(
        workspace_id=WORKSPACE, project_id=PROJECT, prompt="x", type="image", model="t2v-sandbox-video"
    )
    with pytest.raises(InputValidationError) as caught:
        await setup.client.start_generation_run(bad)
    assert [f.field for f in caught.value.fields] == ["model"]
    assert setup.sandbox.runs == []


async def test_a_start_without_credits_is_refused_and_creates_nothing(setup: Setup) -> None:
    setup.sandbox.credits_usd = 0.01
    with pytest.raises(InsufficientCreditsError):
        await setup.client.start_generation_run(image())
    assert setup.sandbox.runs == []


async def test_an_unknown_run_is_not_found(setup: Setup) -> None:
    with pytest.raises(NotFoundError):
        await setup.client.get_run("run_doesnotexist")


# --- pagination ----------------------------------------------------------------------------------
async def test_pagination_walks_every_technique_run_newest_first(setup: Setup) -> None:
    started = []
    for n in range(5):
        result = await setup.client.start_top_level_technique_run(
            TechniqueRunRequest(technique_id=POSTER, workspace_id=WORKSPACE, inputs={"subject": f"mug {n}"})
        )
        assert isinstance(result, Started)
        started.append(result.response.run_id)
    query = TechniqueRunListQuery(workspace_id=WORKSPACE, limit=2)
    seen = [
        item.run_id
        async for item in setup.client.paginate(
            lambda cursor: setup.client.list_technique_runs(query.model_copy(update={"cursor": cursor})),
            lambda page: page.technique_runs,
        )
    ]
    assert seen == list(reversed(started))
    assert setup.sandbox.requests["GET /technique-runs"] == 3


async def test_pagination_walks_every_project(setup: Setup) -> None:
    query = ProjectListQuery(workspace_id=WORKSPACE, limit=1)
    projects = [
        p.project_id
        async for p in setup.client.paginate(
            lambda cursor: setup.client.list_projects(query.model_copy(update={"cursor": cursor})),
            lambda page: page.projects,
        )
    ]
    everything = await setup.client.list_projects(ProjectListQuery(workspace_id=WORKSPACE, limit=100))
    assert len(projects) > 1
    assert projects == [p.project_id for p in everything.projects]


async def test_a_read_dropped_on_every_attempt_ends_as_a_connection_error(setup: Setup) -> None:
    setup.sandbox.faults.push("GET /workspaces", Fault.dropped(), times=3)
    limited = FloraClient(
        setup.http,
        base_url=setup.client.base_url,
        api_key=KEY,
        retry=RetryPolicy(max_retries=1),
        sleep=setup.clock.sleep,
    )
    with pytest.raises(FloraConnectionError) as caught:
        await limited.list_workspaces()
    assert caught.value.attempts == 2

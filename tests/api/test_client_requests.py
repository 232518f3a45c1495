"""What the client sends for each endpoint: method, path, query, body and headers."""

from __future__ import annotations

import json

import httpx2
import pytest

from flora_mcp import __version__
from flora_mcp.api import (
    AcceptedEarlier,
    FloraClient,
    GenerationListQuery,
    GenerationRunRequest,
    MissingAPIKeyError,
    ModelListQuery,
    NestedTechniqueRunRequest,
    ProjectListQuery,
    RunState,
    Started,
    StartResponse,
    StartTechniqueRun,
    TechniqueInput,
    TechniqueListQuery,
    TechniqueRunListQuery,
)

from .support import BASE_URL, CANARY_KEY, MakeHarness, envelope, run_state, start_answer

pytestmark = pytest.mark.anyio

GENERATION = GenerationRunRequest(
    workspace_id="ws_abc123", project_id="prj_abc123", prompt="A ceramic mug", type="image", model="t2i-x"
)
INPUTS = [TechniqueInput(id="subject", type="text", value="a mug")]


def ok(body: object) -> httpx2.Response:
    return httpx2.Response(200, json=body, headers={"request-id": "req_1"})


async def test_every_request_carries_the_bearer_key_and_the_user_agent(harness: MakeHarness) -> None:
    h = harness(ok({"workspaces": []}))
    await h.client.list_workspaces()
    sent = h.flora.requests[0]
    assert sent.headers["Authorization"] == f"Bearer {CANARY_KEY}"
    assert sent.headers["User-Agent"] == f"flora-mcp/{__version__}"


async def test_without_a_key_nothing_is_sent_and_the_error_says_what_to_set(harness: MakeHarness) -> None:
    h = harness(ok({"workspaces": []}), api_key=None)
    with pytest.raises(MissingAPIKeyError, match="FLORA_API_KEY"):
        await h.client.list_workspaces()
    assert h.flora.requests == []


@pytest.mark.parametrize(
    ("method_name", "path"),
    [("start_generation_run", "/api/v1/runs/generation"), ("generate", "/api/v1/generate")],
)
async def test_a_generation_start_posts_the_request_model_as_its_body(
    harness: MakeHarness, method_name: str, path: str
) -> None:
    h = harness(ok(start_answer(poll_url=f"{BASE_URL}/runs/run_abc123")))
    result = await getattr(h.client, method_name)(GENERATION, idempotency_key="key-00000001")
    assert isinstance(result, Started)
    assert isinstance(result.response, StartResponse)
    assert (result.response.run_id, result.request_id, result.route) == ("run_abc123", "req_1", f"POST {path[7:]}")
    sent = h.flora.requests[0]
    assert (sent.method, sent.url.path) == ("POST", path)
    assert sent.headers["Idempotency-Key"] == "key-00000001"
    assert json.loads(sent.content) == {
        "workspace_id": "ws_abc123",
        "project_id": "prj_abc123",
        "prompt": "A ceramic mug",
        "type": "image",
        "model": "t2i-x",
    }


async def test_a_technique_start_with_a_workspace_uses_the_top_level_route_with_an_input_map(
    harness: MakeHarness,
) -> None:
    h = harness(ok(start_answer(type="technique")))
    request = StartTechniqueRun(technique_id="tech_abcd1234", workspace_id="ws_abc123", inputs=INPUTS)
    result = await h.client.start_technique_run(request)
    assert isinstance(result, Started)
    assert isinstance(result.response, StartResponse)
    sent = h.flora.requests[0]
    assert sent.url.path == "/api/v1/runs/technique"
    assert json.loads(sent.content) == {
        "technique_id": "tech_abcd1234",
        "workspace_id": "ws_abc123",
        "inputs": {"subject": "a mug"},
    }
    assert sent.headers["Idempotency-Key"] == result.idempotency_key


async def test_a_technique_start_by_slug_uses_the_nested_route_with_the_key_in_header_and_body(
    harness: MakeHarness,
) -> None:
    h = harness(ok(run_state(status="pending")))
    request = StartTechniqueRun(technique_id="poster-maker", inputs=INPUTS, idempotency_key="key-00000002")
    result = await h.client.start_technique_run(request)
    assert isinstance(result, Started)
    assert isinstance(result.response, RunState)
    assert result.route == "POST /techniques/{technique_id}/runs"
    sent = h.flora.requests[0]
    assert sent.url.path == "/api/v1/techniques/poster-maker/runs"
    assert sent.headers["Idempotency-Key"] == "key-00000002"
    assert json.loads(sent.content) == {
        "inputs": [{"id": "subject", "type": "text", "value": "a mug"}],
        "mode": "async",
        "idempotency_key": "key-00000002",
    }


async def test_a_technique_start_with_a_callback_uses_the_nested_route(harness: MakeHarness) -> None:
    h = harness(ok(run_state(status="pending")))
    request = StartTechniqueRun(
        technique_id="tech_abcd1234",
        workspace_id="ws_abc123",
        inputs=INPUTS,
        callback_url="https://hooks.example.com/flora",
    )
    await h.client.start_technique_run(request)
    body = json.loads(h.flora.requests[0].content)
    assert h.flora.requests[0].url.path == "/api/v1/techniques/tech_abcd1234/runs"
    assert body["callback_url"] == "https://hooks.example.com/flora"
    assert body["idempotency_key"] == h.flora.requests[0].headers["Idempotency-Key"]


async def test_a_nested_start_answered_as_duplicate_is_accepted_earlier(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(409, json=envelope("idempotency_duplicate")))
    result = await h.client.start_nested_technique_run(
        "tech_abcd1234", NestedTechniqueRunRequest(inputs=INPUTS), idempotency_key="key-00000003"
    )
    assert isinstance(result, AcceptedEarlier)
    assert result.idempotency_key == "key-00000003"


async def test_a_start_refuses_a_malformed_idempotency_key_before_sending(harness: MakeHarness) -> None:
    h = harness(ok(start_answer()))
    with pytest.raises(ValueError):
        await h.client.generate(GENERATION, idempotency_key="bad key\r\nX-Evil: 1")
    assert h.flora.requests == []


async def test_the_same_input_given_twice_goes_as_a_list_on_the_top_level_route_never_one_dropped(
    harness: MakeHarness,
) -> None:
    # Whether the input allows several values is the server's catalog check (param_checks); the
    # client never silently keeps only one of them.
    h = harness(ok(start_answer()))
    twice = [*INPUTS, TechniqueInput(id="subject", type="text", value="a cup")]
    await h.client.start_technique_run(
        StartTechniqueRun(technique_id="tech_abcd1234", workspace_id="ws_abc123", inputs=twice)
    )
    assert json.loads(h.flora.requests[0].content)["inputs"] == {"subject": ["a mug", "a cup"]}


async def test_top_level_inputs_travel_as_json_values(harness: MakeHarness) -> None:
    h = harness(ok(start_answer()))
    inputs = [
        TechniqueInput(id="subject", type="text", value="a mug"),
        TechniqueInput(id="refs", type="imageUrl", value=["https://cdn.example/a.png", "https://cdn.example/b.png"]),
        TechniqueInput(id="strength", type="text", value=0.7),
    ]
    await h.client.start_technique_run(
        StartTechniqueRun(technique_id="tech_abcd1234", workspace_id="ws_abc123", inputs=inputs)
    )
    sent = json.loads(h.flora.requests[0].content)["inputs"]
    assert sent == {
        "subject": "a mug",
        "refs": ["https://cdn.example/a.png", "https://cdn.example/b.png"],
        "strength": 0.7,
    }


async def test_the_nested_route_expands_a_list_and_refuses_a_value_it_cannot_carry(harness: MakeHarness) -> None:
    h = harness(ok(run_state()), ok(run_state()))
    refs = TechniqueInput(id="refs", type="imageUrl", value=["https://cdn.example/a.png", "https://cdn.example/b.png"])
    await h.client.start_technique_run(StartTechniqueRun(technique_id="poster-maker", inputs=[refs]))
    sent = json.loads(h.flora.requests[0].content)["inputs"]
    assert [item["value"] for item in sent] == ["https://cdn.example/a.png", "https://cdn.example/b.png"]
    number = TechniqueInput(id="strength", type="text", value=0.7)
    with pytest.raises(ValueError, match=r"strength.*POST /runs/technique"):
        await h.client.start_technique_run(StartTechniqueRun(technique_id="poster-maker", inputs=[number]))
    assert len(h.flora.requests) == 1


async def test_run_reads_use_their_documented_routes(harness: MakeHarness) -> None:
    h = harness(ok(run_state()))
    await h.client.get_run("run_abc123")
    await h.client.get_technique_run("poster-maker", "run_abc123")
    assert [(r.method, r.url.path) for r in h.flora.requests] == [
        ("GET", "/api/v1/runs/run_abc123"),
        ("GET", "/api/v1/techniques/poster-maker/runs/run_abc123"),
    ]


async def test_listings_send_their_query_without_the_unset_parameters(harness: MakeHarness) -> None:
    h = harness(
        ok({"technique_runs": [], "meta": {"next_cursor": None}}),
        ok({"generations": [], "meta": {}}),
        ok({"projects": [], "meta": {}}),
        ok({"models": []}),
        ok({"techniques": [], "meta": {}}),
        ok({"technique_id": "tech_abcd1234", "name": "Poster"}),
    )
    await h.client.list_technique_runs(TechniqueRunListQuery(workspace_id="ws_abc123", status="running", limit=5))
    await h.client.list_generations(GenerationListQuery(project_id="prj_abc123", cursor="c2"))
    await h.client.list_projects(ProjectListQuery(workspace_id="ws_abc123", query="mugs"))
    await h.client.list_models(ModelListQuery(type="video"))
    await h.client.list_techniques(TechniqueListQuery())
    technique = await h.client.get_technique("tech_abcd1234")
    assert technique.name == "Poster"
    assert [(r.method, r.url.path, dict(r.url.params)) for r in h.flora.requests] == [
        ("GET", "/api/v1/technique-runs", {"workspace_id": "ws_abc123", "status": "running", "limit": "5"}),
        ("GET", "/api/v1/generations", {"project_id": "prj_abc123", "cursor": "c2"}),
        ("GET", "/api/v1/projects", {"workspace_id": "ws_abc123", "query": "mugs"}),
        ("GET", "/api/v1/models", {"type": "video"}),
        ("GET", "/api/v1/techniques", {}),
        ("GET", "/api/v1/techniques/tech_abcd1234", {}),
    ]


@pytest.mark.parametrize(
    ("run_id", "raw_path"),
    [
        ("run_a/../../workspaces", b"/api/v1/runs/run_a%2F..%2F..%2Fworkspaces"),
        ("run_a?x=1#f", b"/api/v1/runs/run_a%3Fx%3D1%23f"),
        ("run a%2F", b"/api/v1/runs/run%20a%252F"),
    ],
)
async def test_an_id_is_percent_encoded_into_exactly_one_path_segment(
    harness: MakeHarness, run_id: str, raw_path: bytes
) -> None:
    h = harness(ok(run_state()))
    await h.client.get_run(run_id)
    sent = h.flora.requests[0]
    assert sent.url.raw_path == raw_path
    assert sent.url.params == httpx2.QueryParams()


@pytest.mark.parametrize("run_id", ["", ".", ".."])
async def test_an_id_that_would_be_a_dot_or_empty_segment_is_refused(harness: MakeHarness, run_id: str) -> None:
    h = harness(ok(run_state()))
    with pytest.raises(ValueError):
        await h.client.get_run(run_id)
    assert h.flora.requests == []


async def test_pagination_follows_next_cursor_until_it_runs_out(harness: MakeHarness) -> None:
    h = harness(
        ok({"projects": [{"project_id": "prj_1"}, {"project_id": "prj_2"}], "meta": {"next_cursor": "c2"}}),
        ok({"projects": [{"project_id": "prj_3"}], "meta": {"next_cursor": "c3"}}),
        ok({"projects": [{"project_id": "prj_4"}], "meta": {"next_cursor": None}}),
    )
    query = ProjectListQuery(workspace_id="ws_abc123", limit=2)
    ids = [
        p.project_id
        async for p in h.client.paginate(
            lambda cursor: h.client.list_projects(query.model_copy(update={"cursor": cursor})),
            lambda page: page.projects,
        )
    ]
    assert ids == ["prj_1", "prj_2", "prj_3", "prj_4"]
    assert [r.url.params.get("cursor") for r in h.flora.requests] == [None, "c2", "c3"]


async def test_pagination_stops_at_max_pages(harness: MakeHarness) -> None:
    h = harness(ok({"techniques": [{"technique_id": "tech_1"}], "meta": {"next_cursor": "more"}}))
    items = [
        t
        async for t in h.client.paginate(
            lambda cursor: h.client.list_techniques(TechniqueListQuery(cursor=cursor)),
            lambda page: page.techniques,
            max_pages=2,
        )
    ]
    assert len(items) == 2
    assert len(h.flora.requests) == 2


async def test_pagination_stops_when_flora_repeats_a_cursor(harness: MakeHarness) -> None:
    h = harness(
        ok({"techniques": [{"technique_id": "tech_1"}], "meta": {"next_cursor": "same"}}),
        ok({"techniques": [{"technique_id": "tech_2"}], "meta": {"next_cursor": "same"}}),
        ok({"techniques": [{"technique_id": "tech_3"}], "meta": {"next_cursor": "other"}}),
    )
    items = [
        t.technique_id
        async for t in h.client.paginate(
            lambda cursor: h.client.list_techniques(TechniqueListQuery(cursor=cursor)),
            lambda page: page.techniques,
        )
    ]
    assert items == ["tech_1", "tech_2"]


async def test_with_api_key_shares_the_http_client_but_sends_the_other_key(harness: MakeHarness) -> None:
    h = harness(ok({"workspaces": []}))
    other = h.client.with_api_key("sk-other-key-1234")
    await other.list_workspaces()
    await h.client.list_workspaces()
    assert [r.headers["Authorization"] for r in h.flora.requests] == [
        "Bearer sk-other-key-1234",
        f"Bearer {CANARY_KEY}",
    ]
    assert other.base_url == h.client.base_url == BASE_URL


async def test_aclose_leaves_the_injected_http_client_open(harness: MakeHarness) -> None:
    h = harness(ok({"workspaces": []}))
    await h.client.aclose()
    await h.client.list_workspaces()
    assert len(h.flora.requests) == 1


@pytest.mark.parametrize("base_url", ["ftp://flora.test/api", "flora.test/api/v1", "https:///api/v1"])
async def test_a_base_url_that_is_not_http_is_refused(base_url: str) -> None:
    async with httpx2.AsyncClient() as http:
        with pytest.raises(ValueError):
            FloraClient(http, base_url=base_url, api_key=CANARY_KEY)

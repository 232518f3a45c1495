"""Discovery tools: an agent can find every id a start needs, from the tools alone."""

from __future__ import annotations

import pytest
from mcp import Client

from flora_mcp.sandbox import Sandbox
from tests.fake_clock import FakeClock

from .support import POSTER, PROJECT, WORKSPACE, call_error, call_ok, generation, text_of

pytestmark = pytest.mark.anyio


async def test_workspaces_projects_and_models_lead_to_a_valid_generation_start(
    client: Client, sandbox: Sandbox
) -> None:
    workspaces = await call_ok(client, "list_workspaces", {})
    workspace_id = (workspaces.structured_content or {})["workspaces"][0]["workspace_id"]
    assert workspace_id in text_of(workspaces)
    projects = await call_ok(client, "list_projects", {"workspace_id": workspace_id})
    project_id = (projects.structured_content or {})["projects"][0]["project_id"]
    assert project_id in text_of(projects)
    models = await call_ok(client, "list_models", {"type": "image"})
    model = (models.structured_content or {})["models"][0]
    assert model["model_id"] in text_of(models)
    assert "aspect_ratio" in text_of(models)
    await call_ok(
        client,
        "start_generation_run",
        generation(workspace_id=workspace_id, project_id=project_id, model=model["model_id"]),
    )
    assert sandbox.runs[-1].run_id


async def test_models_can_be_filtered_by_type(client: Client) -> None:
    result = await call_ok(client, "list_models", {"type": "video"})
    assert {m["type"] for m in (result.structured_content or {})["models"]} == {"video"}


async def test_projects_page_with_a_cursor(client: Client) -> None:
    first = await call_ok(client, "list_projects", {"workspace_id": WORKSPACE, "limit": 1})
    page = first.structured_content or {}
    assert len(page["projects"]) == 1
    assert page["next_cursor"] and page["next_cursor"] in text_of(first)
    second = await call_ok(
        client, "list_projects", {"workspace_id": WORKSPACE, "limit": 1, "cursor": page["next_cursor"]}
    )
    assert (second.structured_content or {})["projects"][0]["project_id"] != page["projects"][0]["project_id"]


async def test_techniques_can_be_searched_and_show_their_inputs(client: Client) -> None:
    found = await call_ok(client, "list_techniques", {"query": "poster"})
    [technique] = (found.structured_content or {})["techniques"]
    assert technique["technique_id"] == POSTER
    detail = await call_ok(client, "get_technique", {"technique_id": "poster-maker"})
    inputs = (detail.structured_content or {})["technique"]["inputs"]
    assert {i["id"] for i in inputs} == {"subject", "style", "references", "layout"}
    text = text_of(detail)
    assert "subject (text, required)" in text and "style (text, optional)" in text
    assert "costs money" in text


async def test_technique_run_history_lists_runs_with_every_filter(client: Client, sandbox: Sandbox) -> None:
    for subject in ("a", "b", "c"):
        await call_ok(
            client,
            "start_technique_run",
            {
                "technique_id": POSTER,
                "workspace_id": WORKSPACE,
                "inputs": [{"id": "subject", "type": "text", "value": subject}],
            },
        )
    query = {"workspace_id": WORKSPACE, "technique_id": POSTER, "status": "pending", "limit": 2}
    first = await call_ok(client, "list_technique_runs", query)
    page = first.structured_content or {}
    newest = [run.run_id for run in reversed(sandbox.runs)]
    assert [r["run_id"] for r in page["technique_runs"]] == newest[:2]
    assert page["next_cursor"]
    rest = await call_ok(client, "list_technique_runs", query | {"cursor": page["next_cursor"]})
    assert [r["run_id"] for r in (rest.structured_content or {})["technique_runs"]] == newest[2:]
    assert (rest.structured_content or {}).get("next_cursor") is None
    done = await call_ok(client, "list_technique_runs", {"status": "completed"})
    assert (done.structured_content or {})["technique_runs"] == []


async def test_generation_history_lists_runs_newest_first_with_its_filters_and_pages(
    client: Client, sandbox: Sandbox, fake_time: FakeClock
) -> None:
    for prompt in ("a red mug", "a blue mug", "a green mug"):
        await call_ok(client, "start_generation_run", generation(prompt=prompt))
    newest = [run.run_id for run in reversed(sandbox.runs)]
    query = {"workspace_id": WORKSPACE, "project_id": PROJECT, "status": "pending", "limit": 2}
    first = await call_ok(client, "list_generations", query)
    page = first.structured_content or {}
    assert [g["run_id"] for g in page["generations"]] == newest[:2]
    assert page["generations"][0]["prompt"] == "a green mug"
    assert page["next_cursor"] and page["next_cursor"] in text_of(first)
    assert newest[0] in text_of(first) and "a green mug" in text_of(first)
    rest = await call_ok(client, "list_generations", query | {"cursor": page["next_cursor"]})
    assert [g["run_id"] for g in (rest.structured_content or {})["generations"]] == newest[2:]
    assert (rest.structured_content or {}).get("next_cursor") is None
    assert not (await call_ok(client, "list_generations", {"status": "completed"})).structured_content["generations"]
    fake_time.now += 60
    done = await call_ok(client, "list_generations", {"status": "completed"})
    [latest, *_] = (done.structured_content or {})["generations"]
    assert latest["outputs"][0]["url"].startswith("http")


async def test_generation_history_refuses_a_malformed_filter_before_asking_flora(
    client: Client, sandbox: Sandbox
) -> None:
    text = await call_error(client, "list_generations", {"project_id": "not-a-project"})
    assert "project_id" in text
    assert not sandbox.requests

"""POST /workspaces/{workspace_id}/projects in the sandbox: FLORA's answers, its key rule, and the
project's life afterwards (listed, and able to hold generations)."""

from __future__ import annotations

import httpx2
import pytest

from flora_mcp.sandbox import Sandbox
from tests.fake_clock import FakeClock

from .helpers import generation_body

pytestmark = pytest.mark.anyio

ROUTE = "/workspaces/ws_sandbox/projects"


async def test_a_new_project_is_answered_listed_and_can_hold_a_generation(client: httpx2.AsyncClient) -> None:
    made = await client.post(ROUTE, json={"name": "Launch day"})
    assert made.status_code == 201
    project = made.json()
    assert project["project_id"].startswith("prj_")
    assert set(project) == {"project_id", "workspace_id", "name", "created_at", "last_modified", "origin"}
    assert (project["workspace_id"], project["name"], project["origin"]) == ("ws_sandbox", "Launch day", "api")
    listed = (await client.get("/projects", params={"workspace_id": "ws_sandbox", "query": "launch day"})).json()
    assert [p["project_id"] for p in listed["projects"]] == [project["project_id"]]
    everything = (await client.get("/projects", params={"workspace_id": "ws_sandbox"})).json()
    assert everything["projects"][0]["project_id"] == project["project_id"]  # newest first
    started = await client.post("/runs/generation", json=generation_body(project_id=project["project_id"]))
    assert started.status_code == 200, started.text


async def test_an_unknown_project_still_cannot_hold_a_generation(client: httpx2.AsyncClient) -> None:
    started = await client.post("/runs/generation", json=generation_body(project_id="prj_nothere"))
    assert started.status_code == 404


async def test_an_unknown_workspace_is_not_found(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    answer = await client.post("/workspaces/ws_elsewhere/projects", json={"name": "Launch"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert sandbox.state.projects == []


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "  "}, {"name": 7}, {"name": "x" * 201}])
async def test_a_missing_or_bad_name_is_an_input_validation_error(
    client: httpx2.AsyncClient, sandbox: Sandbox, body: dict[str, object]
) -> None:
    answer = await client.post(ROUTE, json=body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "input_validation_error"
    assert [f["field"] for f in error["fields"]] == ["name"]
    assert sandbox.state.projects == []


async def test_a_reused_key_answers_idempotency_duplicate_and_makes_nothing(
    client: httpx2.AsyncClient, sandbox: Sandbox, clock: FakeClock
) -> None:
    headers = {"Idempotency-Key": "project-key-0001"}
    assert (await client.post(ROUTE, json={"name": "Launch"}, headers=headers)).status_code == 201
    again = await client.post(ROUTE, json={"name": "Launch"}, headers=headers)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "idempotency_duplicate"
    assert len(sandbox.state.projects) == 1
    await clock.sleep(2 * 60 * 60)  # the window is two hours; then the key is free again
    assert (await client.post(ROUTE, json={"name": "Launch"}, headers=headers)).status_code == 201
    assert len(sandbox.state.projects) == 2


async def test_a_refused_request_does_not_hold_its_key(client: httpx2.AsyncClient) -> None:
    headers = {"Idempotency-Key": "project-key-0002"}
    assert (await client.post(ROUTE, json={"name": ""}, headers=headers)).status_code == 400
    assert (await client.post(ROUTE, json={"name": "Launch"}, headers=headers)).status_code == 201


async def test_reset_forgets_the_projects_made(client: httpx2.AsyncClient, sandbox: Sandbox) -> None:
    await client.post(ROUTE, json={"name": "Launch"})
    sandbox.reset()
    listed = (await client.get("/projects", params={"workspace_id": "ws_sandbox", "query": "Launch"})).json()
    assert [p["name"] for p in listed["projects"]] == ["Product launch"]

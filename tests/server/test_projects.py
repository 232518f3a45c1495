"""create_project: an agent in a workspace with no project can begin, and a re-sent call makes one project."""

from __future__ import annotations

import pytest
from mcp import Client

from flora_mcp.sandbox import Sandbox
from tests.fake_clock import FakeClock

from .support import WORKSPACE, call_error, call_ok, call_refused_unsent, generation, text_of

pytestmark = pytest.mark.anyio


async def test_a_new_project_can_hold_a_generation_at_once(client: Client, sandbox: Sandbox) -> None:
    made = await call_ok(client, "create_project", {"workspace_id": WORKSPACE, "name": "Launch day"})
    answer = made.structured_content or {}
    project_id = answer["project_id"]
    assert answer["outcome"] == "created"
    assert (answer["name"], answer["workspace_id"]) == ("Launch day", WORKSPACE)
    assert answer["next"] == {
        "tool": "start_generation_run",
        "arguments": {"workspace_id": WORKSPACE, "project_id": project_id},
        "after_seconds": 0,
    }
    assert f"start_generation_run(workspace_id={WORKSPACE}, project_id={project_id}" in text_of(made)
    await call_ok(client, "start_generation_run", generation(project_id=project_id))
    assert sandbox.runs[-1].project_id == project_id
    listed = await call_ok(client, "list_projects", {"workspace_id": WORKSPACE, "query": "Launch day"})
    assert [p["project_id"] for p in (listed.structured_content or {})["projects"]] == [project_id]


async def test_the_same_call_re_sent_makes_one_project(client: Client, sandbox: Sandbox) -> None:
    arguments = {"workspace_id": WORKSPACE, "name": "Moodboard two"}
    first = (await call_ok(client, "create_project", arguments)).structured_content or {}
    again = await call_ok(client, "create_project", arguments)
    second = again.structured_content or {}
    assert len(sandbox.state.projects) == 1
    assert second["project_id"] == first["project_id"]
    assert second["idempotency_key"] == first["idempotency_key"]  # derived: the same call, the same key
    assert second["outcome"] == "created_earlier"
    assert "no second project" in text_of(again)


async def test_a_reused_key_answers_the_project_it_made(client: Client, sandbox: Sandbox) -> None:
    arguments = {"workspace_id": WORKSPACE, "name": "Poster run", "idempotency_key": "my-project-key-1"}
    first = (await call_ok(client, "create_project", arguments)).structured_content or {}
    assert first["idempotency_key"] == "my-project-key-1"
    before = sum(sandbox.requests.values())
    second = (await call_ok(client, "create_project", arguments)).structured_content or {}
    assert (second["outcome"], second["project_id"]) == ("created_earlier", first["project_id"])
    assert sandbox.requests["POST /workspaces/{workspace_id}/projects"] >= 2
    assert sum(sandbox.requests.values()) == before + 2  # the refused create, then one list_projects
    assert len(sandbox.state.projects) == 1


async def test_a_reused_key_whose_project_is_not_found_says_not_to_create_again(
    client: Client, sandbox: Sandbox
) -> None:
    key = "my-project-key-2"
    await call_ok(client, "create_project", {"workspace_id": WORKSPACE, "name": "First", "idempotency_key": key})
    text = await call_error(
        client, "create_project", {"workspace_id": WORKSPACE, "name": "Second", "idempotency_key": key}
    )
    assert key in text and "do not create it again" in text
    assert len(sandbox.state.projects) == 1


async def test_after_the_repeat_window_the_same_call_makes_a_new_project(
    client: Client, sandbox: Sandbox, fake_time: FakeClock
) -> None:
    arguments = {"workspace_id": WORKSPACE, "name": "Weekly"}
    first = (await call_ok(client, "create_project", arguments)).structured_content or {}
    fake_time.advance(600)  # FLORA_REPEAT_WINDOW_SECONDS' default: a later call is meant as a new project
    second = (await call_ok(client, "create_project", arguments)).structured_content or {}
    assert second["outcome"] == "created"
    assert second["project_id"] != first["project_id"]
    assert len(sandbox.state.projects) == 2


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_a_bad_name_is_refused_naming_the_field_and_nothing_is_sent(
    client: Client, sandbox: Sandbox, name: str
) -> None:
    text = await call_refused_unsent(client, sandbox, "create_project", {"workspace_id": WORKSPACE, "name": name})
    assert "name" in text
    assert sandbox.state.projects == []


async def test_an_unknown_workspace_is_a_tool_error(client: Client, sandbox: Sandbox) -> None:
    text = await call_error(client, "create_project", {"workspace_id": "ws_elsewhere", "name": "Launch"})
    assert "not found" in text.lower()
    assert sandbox.state.projects == []

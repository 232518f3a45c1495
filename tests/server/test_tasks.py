"""Runs as MCP tasks with a real SDK client in memory: a declaring client polls, others see today's tools."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.shared.exceptions import MCPError

from flora_mcp.sandbox import Sandbox
from tests.fake_clock import FakeClock

from .support import POSTER, PROJECT, WORKSPACE, assert_conforms, generation, text_of
from .tasks_client import TASKS, TasksClient, task_request

pytestmark = pytest.mark.anyio


@pytest.fixture
def tasks(fake_time: FakeClock) -> TasksClient:
    return TasksClient(fake_time.sleep)


@pytest.fixture
async def declaring(server: MCPServer, tasks: TasksClient) -> AsyncIterator[Client]:
    async with Client(server, extensions=[tasks]) as connected:
        yield connected


async def test_the_server_advertises_the_tasks_extension(declaring: Client) -> None:
    capabilities = declaring.session.server_capabilities
    assert capabilities is not None and capabilities.extensions is not None and TASKS in capabilities.extensions


async def test_a_declaring_client_holds_a_start_as_a_task_from_working_to_completed_with_the_wait_result(
    declaring: Client, tasks: TasksClient, sandbox: Sandbox
) -> None:
    result = await declaring.call_tool("start_generation_run", generation())
    assert not result.is_error, text_of(result)
    created = tasks.created[0]
    assert created.status == "working" and created.task_id.startswith("task_") and len(created.task_id) > 30
    assert created.poll_interval_ms is not None and 1000 <= created.poll_interval_ms <= 10000
    assert "quote" in (created.status_message or "")
    statuses = [poll["status"] for poll in tasks.polls]
    assert statuses[-1] == "completed" and "working" in statuses[:-1]
    run = sandbox.runs[0]
    assert_conforms("start_generation_run", result)  # the start's answer with the wait's end as `final`
    answer = result.structured_content or {}
    # The start's answer, with the end of the run as wait_for_run gives it, and wait_for_run's text.
    assert answer["outcome"] == "started" and answer["run_id"] == run.run_id and "next" not in answer
    final = answer["final"]
    assert final["run_id"] == run.run_id and final["status"] == "completed" and final["outputs"]
    assert final["budget_exhausted"] is False
    assert "completed after" in text_of(result)
    assert len(sandbox.runs) == 1


async def test_a_run_that_fails_on_floras_side_is_a_completed_task_whose_result_is_an_error(
    declaring: Client, tasks: TasksClient
) -> None:
    result = await declaring.call_tool("start_generation_run", generation(prompt="a mug [fail]"))
    assert result.is_error
    assert tasks.polls[-1]["status"] == "completed" and tasks.polls[-1]["result"]["isError"] is True
    assert (result.structured_content or {})["final"]["status"] == "failed"


async def test_a_technique_start_and_a_batch_are_tasks_too(declaring: Client, tasks: TasksClient) -> None:
    technique = await declaring.call_tool(
        "start_technique_run", {"technique_id": POSTER, "inputs": [{"id": "subject", "type": "text", "value": "a cat"}]}
    )
    assert not technique.is_error and (technique.structured_content or {})["final"]["status"] == "completed"
    assert_conforms("start_technique_run", technique)
    batch = {
        "workspace_id": WORKSPACE,
        "project_id": PROJECT,
        "type": "image",
        "items": [{"prompt": f"a mug, take {i}"} for i in range(4)],
    }
    result = await declaring.call_tool("start_generation_runs", batch)
    assert not result.is_error, text_of(result)
    assert_conforms("start_generation_runs", result)
    waited = (result.structured_content or {})["final"]
    assert waited["done"] == waited["total"] == 4 and waited["completed"] == 4
    assert len(tasks.created) == 2


async def test_a_client_that_does_not_declare_tasks_gets_the_tools_result_and_32021_on_tasks_methods(
    client: Client, sandbox: Sandbox
) -> None:
    result = await client.call_tool("start_generation_run", generation())
    assert (result.structured_content or {})["outcome"] == "started"
    with pytest.raises(MCPError) as refused:
        await task_request(client.session, "tasks/get", "task_whatever")
    assert refused.value.code == -32021
    assert refused.value.data["requiredCapabilities"]["extensions"] == {TASKS: {}}


async def test_an_unknown_task_is_invalid_params(declaring: Client) -> None:
    with pytest.raises(MCPError) as unknown:
        await task_request(declaring.session, "tasks/get", "task_nope")
    assert unknown.value.code == -32602


async def test_cancel_is_acknowledged_and_says_the_run_goes_on_and_is_billed(
    declaring: Client, tasks: TasksClient
) -> None:
    cancelled: list[dict[str, object]] = []

    async def cancel_first(task_id: str) -> None:
        cancelled.append(await task_request(declaring.session, "tasks/cancel", task_id))
        cancelled.append(await task_request(declaring.session, "tasks/get", task_id))

    tasks.on_created = cancel_first
    result = await declaring.call_tool("start_generation_run", generation(type="video"))
    assert cancelled[0] == {"resultType": "complete"} or set(cancelled[0]) <= {"resultType", "_meta"}
    message = str(cancelled[1]["statusMessage"])
    assert cancelled[1]["status"] == "working" and "cannot cancel" in message and "billed" in message
    assert (result.structured_content or {})["final"]["status"] == "completed"
    assert "billed" in tasks.polls[-1]["statusMessage"]

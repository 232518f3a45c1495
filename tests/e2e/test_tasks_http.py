"""Runs as MCP tasks over real Streamable HTTP: restarts, two processes on one store, keys, -32021."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from flora_mcp.sandbox import Sandbox, SandboxConfig
from tests.robustness.hostile_support import _stop, child_env
from tests.server.tasks_client import TASKS, CreateTaskResult, TasksClient, task_request

from .conftest import ALICE, BOB, Spawn

pytestmark = pytest.mark.anyio

GENERATION = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"}


@pytest.fixture
async def slow_sandbox() -> AsyncIterator[str]:
    """A sandbox whose image runs take about 3 s of real time, so a task is seen working first."""
    sandbox = Sandbox(SandboxConfig(time_scale=0.5, extra_api_keys=(ALICE, BOB)))
    async with sandbox.serving() as base_url:
        yield base_url


def client_to(url: str, key: str, *, declares: bool = True) -> Client:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"})
    extensions = [TasksClient()] if declares else []
    return Client(streamable_http_client(url, http_client=http), extensions=extensions)


async def start_task(url: str, key: str) -> CreateTaskResult:
    async with client_to(url, key) as client:
        await client.list_tools()
        created = await client.session.call_tool("start_generation_run", GENERATION, allow_claimed=True)
    assert isinstance(created, CreateTaskResult), created
    return created


async def get_task(url: str, key: str, task_id: str, *, declares: bool = True) -> dict[str, Any]:
    refused: MCPError | None = None
    async with client_to(url, key, declares=declares) as client:
        try:
            return await task_request(client.session, "tasks/get", task_id)
        except MCPError as exc:  # raised once the client is closed, not inside its task group
            refused = exc
    raise refused


@pytest.mark.slow  # real subprocesses and wall-clock waits: in .ci/run's slow pass
async def test_a_task_is_answered_by_another_process_and_after_a_restart(
    slow_sandbox: str, spawn: Spawn, tmp_path: Path
) -> None:
    env = child_env(FLORA_BASE_URL=slow_sandbox, FLORA_STATE_URL=f"sqlite:///{tmp_path / 'state.db'}")
    first = await spawn("streamable-http", env)
    second = await spawn("streamable-http", env)
    created = await start_task(first.url, ALICE)
    assert created.status == "working"
    # Another process on the same store answers at once: the task was durable before its id went out.
    seen = await get_task(second.url, ALICE, created.task_id)
    assert seen["status"] == "working" and seen["taskId"] == created.task_id
    await _stop(first.process)  # the process that started it goes away mid-run
    restarted = await spawn("streamable-http", env)
    with anyio.fail_after(30):
        for _ in range(60):  # polls as a client does, at the interval the task asks for
            task = await get_task(restarted.url, ALICE, created.task_id)
            if task["status"] != "working":
                break
            await anyio.sleep(task.get("pollIntervalMs", 1000) / 1000)
    assert task["status"] == "completed"
    result = task["result"]
    assert result["isError"] is False and result["structuredContent"]["final"]["status"] == "completed"
    assert result["structuredContent"]["final"]["outputs"]


async def test_another_key_cannot_read_the_task_and_a_non_declaring_client_gets_32021(
    slow_sandbox: str, spawn: Spawn, tmp_path: Path
) -> None:
    env = child_env(FLORA_BASE_URL=slow_sandbox, FLORA_STATE_URL=f"sqlite:///{tmp_path / 'state.db'}")
    server = await spawn("streamable-http", env)
    created = await start_task(server.url, ALICE)
    with pytest.raises(MCPError) as bob:
        await get_task(server.url, BOB, created.task_id)
    assert bob.value.code == -32602  # as for a task that does not exist
    with pytest.raises(MCPError) as undeclared:
        await get_task(server.url, ALICE, created.task_id, declares=False)
    assert undeclared.value.code == -32021
    assert undeclared.value.data["requiredCapabilities"] == {"extensions": {TASKS: {}}}
    # Without the declaration, a start is today's tool result.
    async with client_to(server.url, ALICE, declares=False) as plain:
        result = await plain.call_tool("start_generation_run", {**GENERATION, "prompt": "another mug"})
    assert (result.structured_content or {})["outcome"] == "started"

"""A real MCP client side of the tasks extension, on the SDK's ClientExtension API.

`TasksClient` declares `io.modelcontextprotocol/tasks` on every request, claims the
`resultType: "task"` answer of tools/call and resolves it by polling tasks/get (through the
session, so every poll carries the declaration and the Mcp-Name header) until the task ends,
sleeping pollIntervalMs between polls with the given sleep (a fake clock in tests).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.session import ClientSession
from mcp_types import CallToolResult, Request, Result

TASKS = "io.modelcontextprotocol/tasks"


class CreateTaskResult(Result):
    result_type: Literal["task"]
    task_id: str
    status: str
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None = None
    poll_interval_ms: int | None = None


class TaskRequest(Request[dict[str, Any], str]):
    """tasks/get, tasks/cancel or tasks/update; the task id goes into the Mcp-Name header too."""

    name_param = "taskId"


class AnyResult(Result):
    model_config = {"extra": "allow"}


async def task_request(session: ClientSession, method: str, task_id: str, **params: Any) -> dict[str, Any]:
    request = TaskRequest(method=method, params={"taskId": task_id, **params})
    answer = await session.send_request(request, AnyResult)
    return answer.model_dump(by_alias=True, mode="json", exclude_none=True)


class TasksClient(ClientExtension):
    identifier = TASKS

    def __init__(self, sleep: Callable[[float], Awaitable[None]] = anyio.sleep, *, max_polls: int = 200) -> None:
        self.sleep = sleep
        self.max_polls = max_polls
        self.created: list[CreateTaskResult] = []
        self.polls: list[dict[str, Any]] = []
        # Called with the task id after it is created, before the first poll (a test's hook).
        self.on_created: Callable[[str], Awaitable[None]] | None = None

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreateTaskResult, resolve=self._follow)]

    async def _follow(self, created: CreateTaskResult, ctx: ClaimContext) -> CallToolResult:
        self.created.append(created)
        if self.on_created is not None:
            await self.on_created(created.task_id)
        for _ in range(self.max_polls):
            task = await task_request(ctx.session, "tasks/get", created.task_id)
            self.polls.append(task)
            if task["status"] == "completed":
                return CallToolResult.model_validate(task["result"])
            assert task["status"] == "working", task
            await self.sleep(task.get("pollIntervalMs", 1000) / 1000)
        raise AssertionError(f"task {created.task_id} did not end in {self.max_polls} polls")

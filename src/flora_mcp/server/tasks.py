"""Runs as MCP tasks: the `io.modelcontextprotocol/tasks` extension, on the SDK's extension API.

To a `tools/call` of a start tool (start_generation_run, start_technique_run, start_action_run,
start_generation_runs) whose request declares the extension, the answer is a
`CreateTaskResult` whose task follows the started run(s) to the end; the client then polls
`tasks/get` and spends no agent turns waiting. A request that does not declare it gets the
tool's usual result, and its `tasks/*` calls get -32021 with `data.requiredCapabilities`.

The task lives in the state store, written before its id is returned, and holds only the
run references: `tasks/get` computes the state from the store and one FLORA read of each
open run, so any process on the store answers it, a restarted one included. FLORA's status
maps onto the task's: pending/running -> working; completed or failed -> completed, with the
same CallToolResult wait_for_run (or wait_for_runs) would return, `isError: true` when the run
failed on FLORA's side (`failed` is kept for JSON-RPC errors, as the spec asks).
`tasks/cancel` is acknowledged, but FLORA cannot cancel a run: the status message says the run
goes on and is billed. Task ids are unguessable and bound to the caller (the fingerprint of
the request's API key): another key's `tasks/get` answers -32602, as for an unknown task.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import require_client_extension
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS, CallToolRequestParams, CallToolResult, RequestParams, TextContent
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from flora_mcp.api.errors import FloraError, RateLimitedError
from flora_mcp.runs import following
from flora_mcp.server.context import AppState
from flora_mcp.server.errors import flora_error_text
from flora_mcp.server.tools.runs import TRANSIENT, read_within, wait_answer
from flora_mcp.server.tools.waiting import RunEntry, runs_answer
from flora_mcp.state import TaskRecord

logger = logging.getLogger("flora_mcp.server")

TASKS = "io.modelcontextprotocol/tasks"
TASK_TOOLS = frozenset({"start_generation_run", "start_technique_run", "start_action_run", "start_generation_runs"})
TERMINAL = frozenset({"completed", "failed", "cancelled"})
READ_SECONDS = 15.0  # one tasks/get reads each open run once, never longer than this
NO_CANCEL = (
    "A cancel was asked for, but FLORA cannot cancel a run: it goes on to the end and is billed. "
    "Its result stays readable here."
)


class TaskParams(RequestParams):
    """tasks/get and tasks/cancel: which task."""

    task_id: str = Field(min_length=1, max_length=200)


class UpdateTaskParams(TaskParams):
    """tasks/update: answers to input requests (these tasks never ask for input)."""

    input_responses: dict[str, Any] = Field(default_factory=dict)


def declares_tasks(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether this very request declared the extension (per-request capabilities, 2026-07-28)."""
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return False  # a CreateTaskResult cannot travel on the handshake-era wire
    capabilities = ctx.session.client_capabilities
    return bool(capabilities and capabilities.extensions and TASKS in capabilities.extensions)


def iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat().replace("+00:00", "Z")


def _run_refs(tool: str, structured: dict[str, Any] | None, now: float) -> list[dict[str, Any]]:
    """The runs a start's answer names, with what a poll needs and when the run should end."""
    if not structured:
        return []
    items = structured.get("items") if tool == "start_generation_runs" else [structured]
    refs = []
    for item in items or []:
        if item.get("run_id"):
            ref = {k: item.get(k) for k in ("run_id", "technique_id", "poll_url", "estimated_seconds")}
            refs.append({k: v for k, v in ref.items() if v is not None} | {"started_at": now})
    return refs


def poll_interval_ms(refs: list[dict[str, Any]], now: float) -> int:
    """When to ask again: at the expected end of the soonest run (its estimate), within 1..10 s."""
    waits = []
    for ref in refs:
        estimate = ref.get("estimated_seconds")
        if estimate is not None:
            waits.append(ref["started_at"] + float(estimate) - now)
    wait = min(waits) if waits else following.MIN_POLL_SECONDS * 2
    return int(following.clamp(wait, following.MIN_POLL_SECONDS, following.MAX_POLL_SECONDS) * 1000)


def _wire(task: TaskRecord) -> dict[str, Any]:
    """The task as the spec's Task shape (camelCase), with its result once completed."""
    shown: dict[str, Any] = {
        "taskId": task.task_id,
        "status": task.status,
        "createdAt": iso(task.created_at),
        "lastUpdatedAt": iso(task.updated_at),
        "ttlMs": task.ttl_ms,
    }
    message = task.status_message
    if task.cancel_requested and task.status not in TERMINAL:
        message = NO_CANCEL + (f" {message}" if message else "")
    if message:
        shown["statusMessage"] = message
    if task.poll_interval_ms is not None and task.status not in TERMINAL:
        shown["pollIntervalMs"] = task.poll_interval_ms
    if task.status == "completed" and task.result is not None:
        shown["result"] = task.result
    return shown


def _unknown(task_id: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=f"Unknown task {task_id!r} (or it has expired)")


class RunTasks(Extension):
    """The tasks extension for FLORA runs (module docstring)."""

    identifier = TASKS

    def methods(self) -> list[MethodBinding]:
        return [
            MethodBinding("tasks/get", TaskParams, self.get),
            MethodBinding("tasks/update", UpdateTaskParams, self.update),
            MethodBinding("tasks/cancel", TaskParams, self.cancel),
        ]

    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        result = await call_next(ctx)
        if params.name not in TASK_TOOLS or not declares_tasks(ctx):
            return result
        # Only a start that has its run(s) becomes a task: refusals, questions to the user
        # (InputRequiredResult, answered before any task exists) and unidentified runs pass as they are.
        if not isinstance(result, CallToolResult) or result.is_error:
            return result
        state: AppState = ctx.lifespan_context
        now = state.booking.now()
        refs = _run_refs(params.name, result.structured_content, now)
        if not refs:
            return result
        text = next((block.text for block in result.content if isinstance(block, TextContent)), "")
        task = TaskRecord(
            task_id="task_" + secrets.token_urlsafe(24),
            caller=state.caller(ctx).fingerprint,
            tool=params.name,
            status="working",
            created_at=now,
            updated_at=now,
            run_refs=refs,
            status_message=text.split("\n")[0][:500] or None,
            # Kept until the end: the finished task's result is this start's answer with its `final`.
            result={"start": result.structured_content},
            poll_interval_ms=poll_interval_ms(refs, now),
            ttl_ms=None,
        )
        await state.booking.store.create_task(task)  # durable before the id goes out
        return {"resultType": "task", **_wire(task)}

    # --- tasks/* -------------------------------------------------------------------------------
    async def _task(self, ctx: ServerRequestContext[Any, Any], task_id: str) -> tuple[AppState, TaskRecord]:
        require_client_extension(ctx, TASKS)
        state: AppState = ctx.lifespan_context
        task = await state.booking.store.get_task(task_id, state.caller(ctx).fingerprint)
        if task is None:
            raise _unknown(task_id)
        return state, task

    async def get(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        state, task = await self._task(ctx, params.task_id)
        if task.status not in TERMINAL:
            task = await self._refresh(ctx, state, task)
        return _wire(task)

    async def update(self, ctx: ServerRequestContext[Any, Any], params: UpdateTaskParams) -> dict[str, Any]:
        await self._task(ctx, params.task_id)
        return {}  # these tasks never ask for input: responses to unknown requests are ignored

    async def cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskParams) -> dict[str, Any]:
        state, task = await self._task(ctx, params.task_id)
        if task.status not in TERMINAL:
            await state.booking.store.update_task(task.task_id, now=state.booking.now(), cancel_requested=True)
            logger.info("tasks/cancel: noted; FLORA cannot cancel the run", extra={"task_id": task.task_id})
        return {}

    async def _refresh(self, ctx: ServerRequestContext[Any, Any], state: AppState, task: TaskRecord) -> TaskRecord:
        """Read each run once (the caller's read gate) and record what the task now is."""
        client = state.caller(ctx).client
        entries = [
            RunEntry(ref["run_id"], ref.get("technique_id"), poll_url=ref.get("poll_url")) for ref in task.run_refs
        ]
        retry_after: float | None = None

        async def read(entry: RunEntry) -> None:
            nonlocal retry_after
            async with state.reads.of(task.caller):
                try:
                    run = await read_within(
                        client, entry.run_id, entry.technique_id, entry.poll_url, seconds=READ_SECONDS
                    )
                except TRANSIENT as exc:
                    wait = exc.retry_after if isinstance(exc, RateLimitedError) else None
                    retry_after = max(retry_after or 0.0, wait or following.backoff(1))
                    return
                except FloraError as exc:
                    entry.error = flora_error_text(exc, "tasks/get")
                    return
            if run is not None:
                entry.run = run
                await state.booking.observe(state.caller(ctx), run)

        async with anyio.create_task_group() as group:
            for entry in entries:
                group.start_soon(read, entry)
        now = state.booking.now()
        store = state.booking.store
        if all(entry.ended for entry in entries):
            result = self._result(task, entries, waited=now - task.created_at)
            message = f"{'Failed' if result.is_error else 'Completed'}: " + _first_line(result)
            if task.cancel_requested:
                message = (
                    "A cancel was asked for, but FLORA cannot cancel a run: it ran to the end and was billed. "
                    + message
                )
            dumped = result.model_dump(by_alias=True, mode="json", exclude_none=True)
            return (
                await store.update_task(
                    task.task_id, now=now, status="completed", status_message=message, result=dumped
                )
                or task
            )
        done = sum(entry.ended for entry in entries)
        message = _progress(entries, done)
        if retry_after is not None:
            message += f" FLORA did not answer every read; asking again in {retry_after:.0f} s."
        interval = poll_interval_ms(task.run_refs, now)
        if retry_after is not None:
            interval = max(interval, int(retry_after * 1000))
        updated = await store.update_task(task.task_id, now=now, status_message=message, poll_interval_ms=interval)
        return updated or task

    @staticmethod
    def _result(task: TaskRecord, entries: list[RunEntry], *, waited: float) -> CallToolResult:
        """The finished task's CallToolResult; isError when the run(s) failed on FLORA's side.

        Its content is what the wait tool (wait_for_run, wait_for_runs) would return now; its
        structuredContent is the start's answer (the tool called, whose outputSchema clients
        check it against) with that wait result as `final`.
        """
        if task.tool != "start_generation_runs" and len(entries) == 1:
            entry = entries[0]
            if entry.run is None:
                return CallToolResult(content=[TextContent(type="text", text=entry.error or "")], is_error=True)
            waited_result = wait_answer(entry.run, entry.technique_id, waited=waited, polls=1, exhausted=False)
            failed = entry.run.status == "failed"
        else:
            waited_result = runs_answer(entries, waited=waited, polls=len(entries))
            # A batch is an error only when no run of it completed: partial outputs are a result.
            failed = not any(e.run is not None and e.run.status == "completed" for e in entries)
        start = dict((task.result or {}).get("start") or {})
        structured = {**start, "next": None, "final": waited_result.structured_content}
        return CallToolResult(
            content=waited_result.content,
            structured_content={k: v for k, v in structured.items() if v is not None},
            is_error=failed,
        )


def _first_line(result: CallToolResult) -> str:
    return next((b.text.split("\n")[0] for b in result.content if isinstance(b, TextContent)), "")[:500]


def _progress(entries: list[RunEntry], done: int) -> str:
    if len(entries) == 1:
        run = entries[0].run
        if run is None:
            return f"Run {entries[0].run_id}: FLORA did not answer the last read."
        return f"Run {run.run_id}: {run.status[:60]}, {following.progress_fraction(run) * 100:.0f}% done."
    return f"{done} of {len(entries)} runs done."

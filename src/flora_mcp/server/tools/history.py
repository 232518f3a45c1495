"""The run-history tools: generation and technique runs, newest first, with FLORA's filters.

They are also where a run started by another client, or long ago, is found again. A run whose
start answer was lost is found by the server itself (runs/recovery.py), not by the agent.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult

from flora_mcp.api.models import GenerationItem, GenerationListQuery, TechniqueRunListQuery
from flora_mcp.api.urls import one_line
from flora_mcp.server.context import state_of
from flora_mcp.server.errors import flora_errors
from flora_mcp.server.results import GenerationsResult, TechniqueRunsResult, skipped_lines, tool_result
from flora_mcp.server.tools.registry import READ_ONLY, ToolSpec
from flora_mcp.untrusted import quoted


def _more(next_cursor: str | None) -> str:
    return f"More: call again with cursor={next_cursor}." if next_cursor else "That is the last page."


async def list_technique_runs(ctx: Context[Any], query: TechniqueRunListQuery) -> CallToolResult:
    async with flora_errors("list_technique_runs"):
        answer = await state_of(ctx).caller(ctx).client.list_technique_runs(query)
    lines = [f"{len(answer.technique_runs)} technique run(s), newest first:"]
    for run in answer.technique_runs:
        technique = run.technique.technique_id if run.technique else "?"
        status = one_line(run.status, 60)
        lines.append(f"- {run.run_id}: {status}, technique {technique}, project {run.project_id or '?'}")
    skipped = skipped_lines(lines, answer.skipped)
    lines.append(_more(answer.meta.next_cursor))
    result = TechniqueRunsResult(
        technique_runs=answer.technique_runs,
        skipped=skipped,
        next_cursor=answer.meta.next_cursor,
        total_estimate=answer.meta.total_estimate,
    )
    return tool_result(result, "\n".join(lines))


_PROMPT_SHOWN = 60  # characters of each prompt in the text: enough to tell runs apart


def _generation_line(item: GenerationItem) -> str:
    line = f"- {item.run_id or '?'}: {one_line(item.status or '?', 60)}, {item.type or '?'}"
    if item.model:
        line += f", model {item.model.model_id}"
    line += f", project {item.project_id or '?'}"
    if item.prompt:
        line += f", prompt {quoted(item.prompt, _PROMPT_SHOWN)}"
    return line


async def list_generations(ctx: Context[Any], query: GenerationListQuery) -> CallToolResult:
    async with flora_errors("list_generations"):
        answer = await state_of(ctx).caller(ctx).client.list_generations(query)
    lines = [f"{len(answer.generations)} generation run(s), newest first:"]
    lines += [_generation_line(item) for item in answer.generations]
    skipped = skipped_lines(lines, answer.skipped)
    if answer.generations:
        lines.append("Follow one with wait_for_run(run_id=...), or read it with get_run(run_id=...).")
    lines.append(_more(answer.meta.next_cursor))
    result = GenerationsResult(
        generations=answer.generations,
        skipped=skipped,
        next_cursor=answer.meta.next_cursor,
        total_estimate=answer.meta.total_estimate,
    )
    return tool_result(result, "\n".join(lines))


SPECS = [
    ToolSpec(
        name="list_technique_runs",
        title="List technique runs",
        description="List technique runs, newest first, filtered by technique, workspace, project and status.",
        arguments=TechniqueRunListQuery,
        output=TechniqueRunsResult,
        annotations=READ_ONLY,
        body=list_technique_runs,
    ),
    ToolSpec(
        name="list_generations",
        title="List generation runs",
        description="List generation runs, newest first, filtered by workspace, project and status.",
        arguments=GenerationListQuery,
        output=GenerationsResult,
        annotations=READ_ONLY,
        body=list_generations,
    ),
]

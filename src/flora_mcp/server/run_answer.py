"""run_answer: the result of a tool that reads a run, with what its outputs add.

get_run, get_technique_run and wait_for_run end with `return await run_answer(ctx, result, text)`
instead of `tool_result(result, text, output_blocks(result.outputs))`: the same text and
structured result, plus (for a completed run) preview image blocks, saved-file links and one
line per preview or file, and the run recorded as the caller's for resources.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult

from flora_mcp.outputs.blocks import output_blocks
from flora_mcp.outputs.index import KnownRun
from flora_mcp.server.context import state_of
from flora_mcp.server.results import RunResult, tool_result


async def run_answer(
    ctx: Context[Any], result: RunResult, text: str, *, within_seconds: float | None = None
) -> CallToolResult:
    """`result` and `text` as a CallToolResult, with the outputs' previews and files (see above).

    `within_seconds`: what is left of the tool's own time budget (wait_for_run's); downloads
    for previews and files end by then. None (get_run) gives them a short bound of their own.
    """
    state = state_of(ctx)
    if state.outputs is None:
        return tool_result(result, text, output_blocks(result.outputs))
    run = KnownRun(result.run_id, result.technique_id, result.status, tuple(result.outputs or ()))
    shown = await state.outputs.present(state.caller(ctx).fingerprint, run, within_seconds=within_seconds)
    if shown.files:
        result = result.model_copy(update={"saved_files": shown.files})
    return tool_result(result, "\n".join([text, *shown.lines]), shown.blocks)

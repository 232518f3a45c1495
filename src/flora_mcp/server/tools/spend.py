"""get_spend: your spend in the budget window, what the cap still allows, and your latest runs.

Everything comes from the state store the booking writes (shared by every process on it), and
only the caller's own records: a fingerprint of the key each request uses tells callers apart,
so one HTTP client never sees another's runs or totals. Nothing here talks to FLORA.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult

from flora_mcp.server.context import state_of
from flora_mcp.server.results import SpendResult, SpentRun, tool_result
from flora_mcp.server.tools.registry import LOCAL_READ_ONLY, NoArguments, ToolSpec

MAX_LISTED = 50


async def get_spend(ctx: Context[Any], args: NoArguments) -> CallToolResult:
    state = state_of(ctx)
    booking = state.booking
    caller = state_of(ctx).caller(ctx).fingerprint
    spend = await booking.summary(caller)
    records = await booking.store.recent(caller, MAX_LISTED)
    runs = [
        SpentRun(
            run_id=r.run_id,
            idempotency_key=r.idempotency_key,
            tool=r.tool,
            status=r.status,
            run_status=r.run_status,
            technique_id=r.technique_id,
            model_id=r.model_id,
            prompt=r.prompt_summary,
            cost_usd=r.cost_usd if (r.charged_usd is not None or r.quote_usd is not None) else None,
            at=r.created_at,
        )
        for r in records
        if r.status != "not_started"
    ]
    cap = booking.cap_usd
    result = SpendResult(
        window=booking.spend_window,
        spent_usd=spend.spent_usd,
        unconfirmed_usd=spend.unconfirmed_usd,
        cap_usd=cap,
        remaining_usd=None if cap is None else max(0.0, cap - spend.committed_usd),
        confirm_above_usd=state.confirm_above_usd,
        starts=spend.starts,
        runs=runs,
    )
    lines = [await booking.spend_line(caller)]
    if state.confirm_above_usd is not None:
        lines.append(f"Starts quoted above {state.confirm_above_usd:g} USD ask the user first.")
    lines.append(f"Your latest starts, newest first ({len(runs)}):" if runs else "You started no runs yet.")
    for run in runs:
        what = run.run_id or f"run id unknown (key {run.idempotency_key})"
        cost = "cost unknown" if run.cost_usd is None else f"{run.cost_usd:g} USD"
        state_words = run.status + (f", run {run.run_status}" if run.run_status else "")
        lines.append(f"- {what}: {state_words}, {cost} via {run.tool}" + (f': "{run.prompt}"' if run.prompt else ""))
    return tool_result(result, "\n".join(lines))


SPECS = [
    ToolSpec(
        name="get_spend",
        title="Your spend",
        description=(
            "Your FLORA spend in the budget window: total, cap, what is left and your latest runs. Free. "
            "Check it before a costly start or when the cap refuses one."
        ),
        arguments=NoArguments,
        output=SpendResult,
        annotations=LOCAL_READ_ONLY,
        body=get_spend,
    ),
]

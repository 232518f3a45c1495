"""get_session_spend: what this server process has spent on FLORA, and what the cap still allows.

Totals are the process's (the cap is per process, shared by every caller over HTTP); the run
list is the caller's own starts only, told apart by a fingerprint of the key each used, so one
HTTP client never sees another's run ids. Nothing here talks to FLORA: it is the ledger kept
by the start tools (spending.py).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult

from flora_mcp.server.guard import spend_line
from flora_mcp.server.results import SpendResult, SpentRun, tool_result
from flora_mcp.server.state import state_of

MAX_LISTED = 100


async def get_session_spend(ctx: Context[Any]) -> CallToolResult:
    state = state_of(ctx)
    ledger = state.ledger
    mine = ledger.entries(owner=state.caller(ctx))[:MAX_LISTED]
    # The entry's own fields (SpentRun ignores owner and charged_usd), and its cost when known.
    runs = [SpentRun(**asdict(e), cost_usd=e.cost_usd if e.priced else None) for e in mine]
    result = SpendResult(
        spent_usd=ledger.spent_usd,
        unconfirmed_usd=ledger.unconfirmed_usd,
        cap_usd=ledger.cap_usd,
        remaining_usd=ledger.remaining_usd,
        confirm_above_usd=state.confirm_above_usd,
        starts=ledger.starts,
        runs=runs,
    )
    lines = [spend_line(ledger)]
    if state.confirm_above_usd is not None:
        lines.append(f"Starts quoted above {state.confirm_above_usd:g} USD ask the user first.")
    lines.append(f"Your starts in this session, newest first ({len(runs)}):" if runs else "You started no runs yet.")
    for run in runs:
        what = run.run_id or f"run id unknown (key {run.idempotency_key})"
        cost = "cost unknown" if run.cost_usd is None else f"{run.cost_usd:g} USD"
        lines.append(f"- {what}: {run.outcome}, {cost} via {run.tool}")
    return tool_result(result, "\n".join(lines))

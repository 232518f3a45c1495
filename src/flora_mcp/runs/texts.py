"""The sentences the money path answers with: spend lines, refusals and conflicts.

Each refusal says what happened (nothing was sent, nothing was charged), why, and the one
next step; none names an internal field or quotes a key other than the idempotency key.
"""

from __future__ import annotations

from flora_mcp.runs.quotes import Quote
from flora_mcp.state import SpendSummary, StartRecord

WINDOW_WORDS = {
    "24h": "in the last 24 hours",
    "7d": "in the last 7 days",
    "30d": "in the last 30 days",
    "all": "in all",
    "process": "since this server process started",
}


def spend_line(spend: SpendSummary | None, cap_usd: float | None, window: str) -> str:
    """One sentence on the caller's spend in the budget window, for start results and questions."""
    if spend is None:
        return (
            "Your spend could not be read just now: the state store did not answer. The spend cap counts "
            "every start at its quote until it can."
        )
    text = f"Your spend {WINDOW_WORDS.get(window, window)}: {spend.spent_usd:g} USD on {spend.starts} start(s)"
    if spend.unconfirmed_usd:
        text += f", plus {spend.unconfirmed_usd:g} USD whose outcome is unknown"
    if spend.in_flight_usd:
        text += f", plus {spend.in_flight_usd:g} USD being started now"
    if spend.unpriced:
        text += f"; {spend.unpriced} start(s) of unknown cost count as 0"
    if cap_usd is None:
        return text + " (no spend cap set)."
    left = max(0.0, cap_usd - spend.committed_usd)
    return text + f" (cap {cap_usd:g} USD, {left:g} USD left)."


def cap_text(committed: float, spent: float, cap: float, tool: str, quote: Quote) -> str:
    lines = [
        f"Spend cap reached: you have committed {committed:g} USD ({spent:g} USD on runs FLORA accepted) and "
        f"the cap is {cap:g} USD (FLORA_MAX_SPEND_USD or --max-spend-usd).",
        f"This start ({quote.describe()}) was refused; nothing was sent to FLORA.",
    ]
    if quote.usd is None:
        lines.append(
            "Its cost is not known in advance, and under a cap only one start of unknown cost may be in "
            "flight at a time."
        )
    if quote.upper_bound:
        lines.append("Passing an explicit model from list_models gives an exact quote, which may fit.")
    lines.append(
        f"Next step: stop and tell the user. Only they can raise the cap (FLORA_MAX_SPEND_USD) or wait for "
        f"the budget window to move on. get_spend lists your runs and spend. Do not call {tool} again for this now."
    )
    return "\n".join(lines)


def unpriced_text(pending: list[StartRecord], cap: float, tool: str, quote: Quote) -> str:
    runs = ", ".join(r.run_id or f"key {r.idempotency_key}" for r in pending[:5]) or "an earlier start"
    reader = "get_technique_run (with its technique_id)" if pending and pending[0].technique_id else "get_run"
    other = (
        "; or pass an explicit model from list_models, whose quote is known" if tool == "start_generation_run" else ""
    )
    return (
        f"Spend cap ({cap:g} USD): this start ({quote.describe()}) was refused; nothing was sent to FLORA.\n"
        f"Under a cap only one start of unknown cost may be open at a time, and the cost of {runs} is not "
        "known yet (FLORA has not reported its charge).\n"
        f"Next step: read that run with {reader} or wait_for_run until FLORA reports its charge, then call "
        f"{tool} again{other}."
    )


_CONFLICTS = {
    "other_arguments": "was already used for a start with other arguments",
    "other_tool": "was already used with another tool",
    "other_caller": "is already in use",
}


def conflict_text(reason: str, tool: str, key: str) -> str:
    what = _CONFLICTS.get(reason, "is already in use")
    return (
        f"Idempotency key conflict: the idempotency_key {key} {what}. Nothing was sent to FLORA and nothing "
        "was charged. A key names exactly one start.\n"
        f"Next step: to retry that start, call it again with exactly its first arguments; to start something "
        f"new, call {tool} without idempotency_key (or with a new one)."
    )


def still_in_flight_text(record: StartRecord) -> str:
    # The advice names the key: "the same arguments" alone would, past the repeat window, derive
    # a new key and start a second run.
    return (
        f"The same start (idempotency key {record.idempotency_key}) is still being sent to FLORA by an earlier "
        "call and its answer has not come back yet. No second run was started.\n"
        f"Next step: wait 30 s, then call {record.tool} again with the same arguments and "
        f"idempotency_key={record.idempotency_key}: it answers with that run once it is known, and never "
        "starts a second one."
    )


def key_expired_text(record: StartRecord | None, tool: str, key: str, searched: str) -> str:
    """A start of unknown outcome asked for again after FLORA stopped holding its key: searched, not sent."""
    where = (
        f"project {record.project_id}"
        if record and record.project_id
        else f"technique {record.technique_id}"
        if record and record.technique_id
        else "its project"
    )
    return (
        f"Start outcome: unknown. The start with idempotency key {key} went out more than two hours ago and its "
        "answer never arrived; FLORA no longer holds that key, so sending it again could start a second run. "
        f"Nothing was sent now and nothing more was charged. {searched}\n"
        f"Next step: look for the run in the run history of {where} (list_generations or list_technique_runs) "
        f"and follow it if it is there; only if it is not, call {tool} again with repeat=true to start it anew."
    )

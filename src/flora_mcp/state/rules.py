"""The store's rules as pure functions, so memory, SQLite and PostgreSQL cannot drift apart.

Each backend reads the rows it needs inside its own atomic section, applies these, and writes
the result back. Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from .records import (
    SPENT_STATUSES,
    START_STATUSES,
    STATUS_RANK,
    TASK_STATUSES,
    TERMINAL_TASK_STATUSES,
    CapRefused,
    ConflictReason,
    ReserveRequest,
    SpendSummary,
    StartRecord,
    TaskRecord,
    valid_money,
)


def key_clash(existing: StartRecord, req: ReserveRequest) -> ConflictReason | None:
    """Why `req` may not reuse the key of `existing`, or None when it is the very same start."""
    if existing.caller != req.caller:
        return "other_caller"
    if existing.tool != req.tool:
        return "other_tool"
    if existing.args_digest != req.args_digest:
        return "other_arguments"
    return None


def summarize(records: Iterable[StartRecord]) -> SpendSummary:
    """Add up records (already filtered by caller and time) into a SpendSummary."""
    spent = unconfirmed = in_flight = 0.0
    starts = unpriced = 0
    for rec in records:
        if not rec.counts_against_cap:
            continue
        starts += 1
        if rec.charged_usd is None and rec.quote_usd is None:
            unpriced += 1
        if rec.status in SPENT_STATUSES:
            spent += rec.cost_usd
        elif rec.status == "unknown":
            unconfirmed += rec.cost_usd
        else:
            in_flight += rec.cost_usd
    return SpendSummary(spent, unconfirmed, in_flight, starts, unpriced)


def cap_refusal(req: ReserveRequest, summary: SpendSummary, unknown_in_flight: int) -> CapRefused | None:
    """Apply the cap rule to what the caller has committed in the window; None means "room left".

    Refused when the committed cost already reaches the cap, when a known quote would take it
    over, or when the quote is unknown and another unpriced start is still in flight (one
    unpriced start at a time, so an unknown cost can overshoot the cap by one start at most).
    """
    cap = req.cap_usd
    if cap is None:
        return None
    committed = summary.committed_usd
    if req.quote_usd is not None:
        over = committed >= cap or committed + req.quote_usd > cap
    else:
        over = committed >= cap or unknown_in_flight >= 1
    if not over:
        return None
    return CapRefused(committed, summary.spent_usd, cap, unknown_in_flight)


def new_record(req: ReserveRequest) -> StartRecord:
    """The "in_flight" record a successful reservation inserts."""
    return StartRecord(
        idempotency_key=req.idempotency_key,
        caller=req.caller,
        tool=req.tool,
        args_digest=req.args_digest,
        status="in_flight",
        created_at=req.now,
        updated_at=req.now,
        sent_at=req.sent_at,
        workspace_id=req.workspace_id,
        project_id=req.project_id,
        technique_id=req.technique_id,
        model_id=req.model_id,
        prompt_summary=req.prompt_summary,
        quote_usd=req.quote_usd,
    )


def next_status(current: str, proposed: str) -> str:
    """The status after a settle: up the ranking only; "not_started" only from "in_flight"."""
    if proposed not in STATUS_RANK:
        raise ValueError(f"status must be one of {', '.join(START_STATUSES)}, got {proposed!r}")
    if proposed == "not_started":
        return proposed if current == "in_flight" else current
    return proposed if STATUS_RANK[proposed] > STATUS_RANK[current] else current


SETTLE_WINDOW_SECONDS = 3600.0
"""How long after a start a finished run's reported charge of 0 is taken as "not settled yet".

FLORA settles a charge some time after the run ends, and until then a paid run reads 0
(flora-api.md, "Cost"). Within this window such a 0 is not money: the run goes on counting at
its quote (or, quote unknown, stays of unknown cost). After it, a 0 is believed (a refunded
failed run). The charge re-checks of runs/upkeep.py read finished runs again within it.
"""


def next_charge(rec: StartRecord, reported: float | None, finished: bool, now: float) -> float | None:
    """The charge to keep after FLORA reported `reported` (None, NaN, inf or < 0: keep the old one).

    A positive charge of a finished run is the bill and wins. Before the run has finished, the
    stored charge is floored at the quote: an early, partial charge must not free room under
    the cap. A 0 counts only for a start quoted at 0 (free stays free), or once the settle window
    has passed; before that it changes nothing, so a late-settling charge can never free the cap.
    """
    if not valid_money(reported):
        return rec.charged_usd
    assert reported is not None
    if reported == 0 and rec.quote_usd != 0:
        settled_by_now = now - (rec.sent_at or rec.created_at) >= SETTLE_WINDOW_SECONDS
        return 0.0 if finished and settled_by_now else rec.charged_usd
    if finished or rec.quote_usd is None:
        return reported
    return max(reported, rec.quote_usd)


def settled(
    rec: StartRecord,
    *,
    status: str,
    now: float,
    run_id: str | None = None,
    charged_usd: float | None = None,
    model_id: str | None = None,
    run_status: str | None = None,
    run_finished: bool | None = None,
    outputs: list[dict[str, Any]] | None = None,
) -> StartRecord:
    """The record after the booking learnt how its start went (see `Store.settle`)."""
    finished = rec.run_finished or bool(run_finished)
    return dataclasses.replace(
        rec,
        status=next_status(rec.status, status),
        updated_at=now,
        run_id=rec.run_id or run_id,
        model_id=model_id or rec.model_id,
        charged_usd=next_charge(rec, charged_usd, finished, now),
        run_status=run_status if run_status is not None else rec.run_status,
        run_finished=finished,
        outputs=outputs if outputs is not None else rec.outputs,
        charge_checked_at=now if run_finished else rec.charge_checked_at,
    )


def observed(
    rec: StartRecord,
    *,
    now: float,
    run_status: str | None,
    finished: bool,
    charged_usd: float | None,
    outputs: list[dict[str, Any]] | None = None,
) -> StartRecord:
    """The record after a read of its run (see `Store.observe_run`).

    An unfinished reading of a run already seen finished is stale (reads can cross), so it
    changes nothing but updated_at.
    """
    stale = rec.run_finished and not finished
    done = rec.run_finished or finished
    return dataclasses.replace(
        rec,
        updated_at=now,
        run_status=rec.run_status if stale or run_status is None else run_status,
        run_finished=done,
        charged_usd=rec.charged_usd if stale else next_charge(rec, charged_usd, done, now),
        outputs=rec.outputs if stale or outputs is None else outputs,
        charge_checked_at=now if finished else rec.charge_checked_at,
    )


def matches(
    rec: StartRecord,
    *,
    text: str | None,
    tool: str | None,
    status: str | None,
    since: float | None,
    until: float | None,
) -> bool:
    """The search filter, in Python (memory store; the SQL stores say the same in SQL)."""
    if text is not None and text.lower() not in (rec.prompt_summary or "").lower():
        return False
    if tool is not None and rec.tool != tool:
        return False
    if status is not None and status not in (rec.status, rec.run_status):
        return False
    if since is not None and rec.created_at < since:
        return False
    return not (until is not None and rec.created_at >= until)


def task_updated(
    task: TaskRecord,
    *,
    now: float,
    status: str | None = None,
    status_message: str | None = None,
    result: dict[str, Any] | None = None,
    poll_interval_ms: int | None = None,
    cancel_requested: bool | None = None,
) -> TaskRecord:
    """The task after an update. A terminal task keeps its status, message and result for good."""
    if status is not None and status not in TASK_STATUSES:
        raise ValueError(f"task status must be one of {', '.join(TASK_STATUSES)}, got {status!r}")
    frozen = task.status in TERMINAL_TASK_STATUSES
    return dataclasses.replace(
        task,
        updated_at=now,
        status=task.status if frozen or status is None else status,
        status_message=task.status_message if frozen or status_message is None else status_message,
        result=task.result if frozen or result is None else result,
        poll_interval_ms=task.poll_interval_ms if poll_interval_ms is None else poll_interval_ms,
        cancel_requested=task.cancel_requested if cancel_requested is None or frozen else cancel_requested,
    )

"""find_runs: search your own past starts in the journal, by prompt words, tool, status and date.

FLORA's run lists carry no prompts, so "the mug picture from yesterday" cannot be found there.
The state store's journal can: every start the booking made keeps a short prompt summary, its
tool, model or technique, run id, status, cost, and the outputs last seen by a read. Only the
caller's own records are searched (the fingerprint of the key the request uses), and nothing
here talks to FLORA.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import BaseModel, Field, field_validator

from flora_mcp.api.models import RequestModel
from flora_mcp.server.context import state_of
from flora_mcp.server.results import tool_result
from flora_mcp.server.tools.registry import LOCAL_READ_ONLY, ToolSpec
from flora_mcp.state import StartRecord

STATUSES = (
    "started, recovered, accepted_earlier, unknown, in_flight, not_started (how the start went), "
    "or pending, running, completed, failed (the run's status when last read)"
)
_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([hd])$")
_UNIT_SECONDS = {"h": 3600.0, "d": 86400.0}
_WHEN_HELP = "an ISO date or time (2026-07-01, 2026-07-01T09:30:00Z; UTC by default) or an age (6h, 2d)"


def when_to_unix(text: str, now: float) -> float:
    """Unix seconds for a `since`/`until` value: an age ("6h", "2d": that long before `now`) or an ISO date/time."""
    text = text.strip()
    ago = _AGO.match(text.lower())
    if ago:
        return now - float(ago.group(1)) * _UNIT_SECONDS[ago.group(2)]
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class FindRunsArguments(RequestModel):
    """find_runs' arguments; every filter given must match."""

    text: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Words of the prompt or text inputs, matched case-insensitively.",
    )
    tool: Literal["start_generation_run", "start_technique_run", "start_action_run"] | None = Field(
        default=None, description="Only starts made with this tool."
    )
    status: str | None = Field(default=None, min_length=1, max_length=40, description=f"One of: {STATUSES}.")
    since: str | None = Field(default=None, description=f"Started at or after: {_WHEN_HELP}.")
    until: str | None = Field(default=None, description="Started before this (as since).")
    limit: int = Field(default=20, ge=1, le=100, description="Most runs to return.")

    @field_validator("since", "until")
    @classmethod
    def _readable_time(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            when_to_unix(value, 0.0)
        except ValueError:
            raise ValueError(f"{value!r} is not a time: use {_WHEN_HELP}") from None
        return value


class JournalRun(BaseModel):
    """One of your past starts, as the journal knows it."""

    run_id: str | None = Field(default=None, description="Absent when FLORA's run id was never learned.")
    idempotency_key: str
    tool: str
    status: str = Field(description="How the start went: started, recovered, accepted_earlier, unknown, ...")
    run_status: str | None = Field(default=None, description="The run's status when last read.")
    finished: bool = Field(description="True once a read saw the run end.")
    workspace_id: str | None = None
    project_id: str | None = None
    technique_id: str | None = Field(default=None, description="Pass with run_id to wait_for_run / get_technique_run.")
    model_id: str | None = None
    prompt: str | None = Field(default=None, description="The start of the prompt or text inputs.")
    cost_usd: float | None = Field(default=None, description="FLORA's charge when known, else the quote.")
    outputs: list[dict[str, Any]] = Field(default_factory=list, description="Outputs seen by the last read.")
    started_at: str = Field(description="When the start was booked, ISO 8601 UTC.")


class FindRunsResult(BaseModel):
    """find_runs' answer."""

    runs: list[JournalRun] = Field(description="Matching starts, newest first.")
    total_cost_usd: float = Field(description="Sum of cost_usd over the runs listed.")


def _journal_run(record: StartRecord) -> JournalRun:
    priced = record.charged_usd is not None or record.quote_usd is not None
    return JournalRun(
        run_id=record.run_id,
        idempotency_key=record.idempotency_key,
        tool=record.tool,
        status=record.status,
        run_status=record.run_status,
        finished=record.run_finished,
        workspace_id=record.workspace_id,
        project_id=record.project_id,
        technique_id=record.technique_id,
        model_id=record.model_id,
        prompt=record.prompt_summary,
        cost_usd=record.cost_usd if priced else None,
        outputs=list(record.outputs or []),
        started_at=datetime.fromtimestamp(record.created_at, UTC).isoformat(timespec="seconds"),
    )


def _line(run: JournalRun) -> str:
    what = run.run_id or f"run id unknown (key {run.idempotency_key})"
    state = run.run_status or run.status
    cost = "cost unknown" if run.cost_usd is None else f"{run.cost_usd:g} USD"
    source = run.technique_id or run.model_id or run.tool
    line = f"- {what}: {state}, {cost}, {source}, {run.started_at}"
    if run.prompt:
        line += f': "{run.prompt}"'
    for output in run.outputs[:4]:
        line += f"\n    {output.get('type', 'output')}: {output.get('url') or output.get('text') or '?'}"
    return line


async def find_runs(ctx: Context[Any], args: FindRunsArguments) -> CallToolResult:
    booking = state_of(ctx).booking
    caller = state_of(ctx).caller(ctx).fingerprint
    now = booking.now()
    records = await booking.store.search(
        caller,
        text=args.text,
        tool=args.tool,
        status=args.status,
        since=when_to_unix(args.since, now) if args.since else None,
        until=when_to_unix(args.until, now) if args.until else None,
        limit=args.limit,
    )
    runs = [_journal_run(r) for r in records]
    total = round(sum(r.cost_usd or 0.0 for r in runs), 6)
    if not runs:
        text = (
            "No start of yours matches. The journal holds starts made through this server (and any other "
            "sharing its state store); try fewer filters, or list_generations / list_technique_runs for runs "
            "started elsewhere."
        )
    else:
        lines = [f"{len(runs)} start(s), newest first, {total:g} USD in all:", *(_line(r) for r in runs)]
        if any(not r.finished and r.run_id for r in runs):
            lines.append("Unfinished runs: follow them with wait_for_run(run_id[, technique_id]).")
        text = "\n".join(lines)
    return tool_result(FindRunsResult(runs=runs, total_cost_usd=total), text)


SPECS = [
    ToolSpec(
        name="find_runs",
        title="Find your past runs",
        description=(
            "Search the runs you started through this server (kept across restarts) by prompt words, tool, "
            "status and date, newest first. Free.\n\n"
            "Finds earlier work (\"the mug picture from yesterday\": text='mug', since='2d') or unfinished runs "
            "after a restart; FLORA's own run lists carry no prompts."
        ),
        arguments=FindRunsArguments,
        output=FindRunsResult,
        annotations=LOCAL_READ_ONLY,
        body=find_runs,
    ),
]

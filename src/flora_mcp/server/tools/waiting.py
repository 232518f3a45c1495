"""wait_for_runs: follow up to 20 runs (generation and technique alike) in one call.

Each run is read on its own cadence (following.py, as wait_for_run reads one), and reads go out
through the caller's read gate (context.ReadGate), so one API key never has more than a few
reads in flight however many runs it follows: FLORA's rate limit is per workspace. A read
that fails in a way worth retrying (429, 5xx, a lost connection) is retried later, after
FLORA's Retry-After when it gave one; any other failure ends that run's follow with the
reason, and the others go on. The budget is the same promise as wait_for_run's: a read that
hangs is given up when the budget (plus a small margin) is spent. Progress is "n of m done".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ContentBlock
from pydantic import BaseModel, Field, model_validator

from flora_mcp.api.errors import FloraError, RateLimitedError
from flora_mcp.api.models import RequestModel, RunId, RunState, TechniqueRef
from flora_mcp.api.urls import one_line
from flora_mcp.outputs.blocks import output_blocks
from flora_mcp.runs import following
from flora_mcp.runs.following import NextStep
from flora_mcp.server.context import state_of
from flora_mcp.server.errors import flora_error_text
from flora_mcp.server.results import RunResult, describe_next, tool_result
from flora_mcp.server.tools.registry import READ_ONLY, ToolSpec
from flora_mcp.server.tools.runs import TRANSIENT, observed, read_within, run_fields, run_text

logger = logging.getLogger("flora_mcp.server")

MAX_RUNS = 20
TOOL = "wait_for_runs"


class RunRef(RequestModel):
    """A run to follow, as its start returned it."""

    run_id: RunId
    technique_id: TechniqueRef | None = Field(
        default=None, description="For a technique run, as its start returned it."
    )


class WaitForRunsArguments(RequestModel):
    """wait_for_runs' arguments."""

    runs: list[RunRef] = Field(
        min_length=1,
        max_length=MAX_RUNS,
    )
    timeout_seconds: float = Field(
        default=following.DEFAULT_WAIT_SECONDS,
        ge=1,
        le=following.MAX_WAIT_SECONDS,
        description="Over 60 only if your client waits while progress arrives.",
    )

    @model_validator(mode="after")
    def _each_run_once(self) -> WaitForRunsArguments:
        seen: set[str] = set()
        for ref in self.runs:
            if ref.run_id in seen:
                raise ValueError(f"run {ref.run_id} is listed twice in runs; list each run once")
            seen.add(ref.run_id)
        return self


class FollowedRun(RunResult):
    """One run in wait_for_runs' answer."""

    error: str | None = Field(default=None, description="Why this run could not be followed, if it could not.")


class RunsWaitResult(BaseModel):
    """wait_for_runs' answer: every run's state, and how many have ended."""

    runs: list[FollowedRun]
    done: int = Field(description="How many of the runs have ended (completed, failed, or could not be read).")
    total: int
    completed: int
    failed: int
    waited_seconds: float
    polls: int
    budget_exhausted: bool = Field(description="True when some runs had not ended within timeout_seconds.")
    next: NextStep | None = Field(default=None, description="Set while some runs have not ended.")


@dataclass
class RunEntry:
    """A run as followed so far: its last read, or why it could not be read."""

    run_id: str
    technique_id: str | None = None
    run: RunState | None = None
    error: str | None = None
    poll_url: str | None = None
    reads: int = 0
    failures: int = 0
    next_at: float = 0.0
    facts: following.RunFacts = field(default_factory=following.RunFacts)

    @property
    def ended(self) -> bool:
        return self.error is not None or (self.run is not None and self.run.is_terminal)


# --- the answer --------------------------------------------------------------------------------
def _followed(entry: RunEntry) -> FollowedRun:
    if entry.run is not None:
        return FollowedRun(**run_fields(entry.run, technique_id=entry.technique_id, next_step=None), error=entry.error)
    advice = entry.error or "FLORA did not answer a read of this run within the wait's time budget."
    return FollowedRun(
        run_id=entry.run_id,
        status="unknown",
        finished=entry.error is not None,
        progress_percent=0.0,
        technique_id=entry.technique_id,
        advice=advice,
        error=entry.error,
    )


def runs_answer(entries: Sequence[RunEntry], *, waited: float, polls: int) -> CallToolResult:
    """wait_for_runs' answer for `entries` (also the result of a finished batch task)."""
    runs = [_followed(entry) for entry in entries]
    done = sum(entry.ended for entry in entries)
    open_refs = [following.run_arguments(e.run_id, e.technique_id) for e in entries if not e.ended]
    next_step = NextStep(tool=TOOL, arguments={"runs": open_refs}, after_seconds=0) if open_refs else None
    result = RunsWaitResult(
        runs=runs,
        done=done,
        total=len(entries),
        completed=sum(r.status == "completed" for r in runs),
        failed=sum(r.status == "failed" or r.error is not None for r in runs),
        waited_seconds=round(waited, 1),
        polls=polls,
        budget_exhausted=bool(open_refs),
        next=next_step,
    )
    if open_refs:
        headline = (
            f"{done} of {len(entries)} runs done after {result.waited_seconds:g} s of waiting; the others keep "
            "running on FLORA."
        )
    else:
        headline = (
            f"All {len(entries)} runs ended after {result.waited_seconds:g} s of waiting: {result.completed} "
            f"completed, {result.failed} failed."
        )
    lines = [headline]
    extra: list[ContentBlock] = []
    for number, run in enumerate(runs, 1):
        head = f"{number}. Run {run.run_id}: {one_line(run.status, 60)}, {run.progress_percent:g}% done."
        lines.append(run_text(run.model_copy(update={"next": None}), head, offer_wait=False))
        if run.error:
            lines.append(run.error)
        extra.extend(output_blocks(run.outputs))
    if next_step is not None:
        lines.append(describe_next(next_step))
    return tool_result(result, "\n".join(lines), extra)


# --- the follow --------------------------------------------------------------------------------
async def wait_for_runs(ctx: Context[Any], args: WaitForRunsArguments) -> CallToolResult:
    state = state_of(ctx)
    client = state.caller(ctx).client
    gate = state.reads.of(state.caller(ctx).fingerprint)
    began = state.clock()
    deadline = began + args.timeout_seconds
    entries: list[RunEntry] = []
    for ref in args.runs:
        facts = state.memory.recall(ref.run_id)
        entry = RunEntry(ref.run_id, ref.technique_id or facts.technique_id, poll_url=facts.poll_url, facts=facts)
        # A run this process started is not read before it can be done (as wait_for_run does).
        entry.next_at = began + following.next_read_in(facts, began, reads=0)
        entries.append(entry)
    total = len(entries)
    polls = 0

    async def report() -> None:
        done = sum(e.ended for e in entries)
        waited = state.clock() - began
        await ctx.report_progress(done, total, f"{done} of {total} done ({waited:.0f} s waited)")

    async def read(entry: RunEntry) -> None:
        nonlocal polls
        async with gate:
            try:
                run = await read_within(
                    client, entry.run_id, entry.technique_id, entry.poll_url, seconds=deadline - state.clock()
                )
            except TRANSIENT as exc:
                entry.failures += 1
                wait = exc.retry_after if isinstance(exc, RateLimitedError) and exc.retry_after else None
                entry.next_at = state.clock() + (wait or following.backoff(entry.failures))
                logger.info("poll failed; retrying within the wait", extra={"run_id": entry.run_id, "error": repr(exc)})
                return
            except FloraError as exc:
                entry.error = flora_error_text(exc, TOOL)
                return
        now = state.clock()
        if run is None:  # the read hung past the budget
            entry.next_at = now + following.MIN_POLL_SECONDS
            return
        polls += 1
        entry.run, entry.reads = run, entry.reads + 1
        await observed(ctx, state, run)
        entry.facts = state.memory.observe(
            entry.run_id, now, following.progress_fraction(run), finished=run.is_terminal
        )
        entry.next_at = now + following.next_read_in(entry.facts, now, reads=entry.reads)

    await report()
    try:
        while True:
            open_entries = [e for e in entries if not e.ended]
            if not open_entries:
                break
            now = state.clock()
            wake = min(e.next_at for e in open_entries)
            last_round = wake >= deadline  # the budget ends first: read what is open once more, at its end
            if wake > now:
                await state.sleep(min(wake, deadline) - now)
            now = state.clock()
            due = open_entries if last_round else [e for e in open_entries if e.next_at <= now]
            async with anyio.create_task_group() as group:
                for entry in due:
                    group.start_soon(read, entry)
            await report()
            if last_round or deadline - state.clock() < following.MIN_POLL_SECONDS:
                break
    except anyio.get_cancelled_exc_class():
        logger.info("wait_for_runs cancelled", extra={"runs": total})
        raise
    return runs_answer(entries, waited=state.clock() - began, polls=polls)


SPECS = [
    ToolSpec(
        name=TOOL,
        title="Wait for several runs",
        description=(
            f"Wait for 1 to {MAX_RUNS} runs at once (generations or technique runs), reporting "
            "'n of m done', then return each one's state and outputs. Free.\n\n"
            "At timeout_seconds, `next` names the runs still going, to wait for again (they keep running)."
        ),
        arguments=WaitForRunsArguments,
        output=RunsWaitResult,
        annotations=READ_ONLY,
        body=wait_for_runs,
    ),
]

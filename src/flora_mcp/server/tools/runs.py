"""The run tools: read a run once (get_run, get_technique_run) or follow it (wait_for_run).

wait_for_run polls on the cadence in following.py and sends an MCP progress notification on every
poll (clients that honour them keep the call alive past their usual timeout), and on a failed
poll. A run this process started is not read before it can be done; the wait opens with a
notification from the start's estimate instead. A poll that fails in a way worth retrying
(rate limit, 5xx, lost connection) does not end the wait while budget remains; any other
failure does, as a tool error.

The budget is a promise: a read that hangs is abandoned when the budget (plus a small margin)
is spent, and the answer says the run goes on and when to look again. Cancelling the call
cancels the sleep or request in flight.

Every read is reported to the booking (runs/booking.py), which keeps the caller's journal
and the charge of runs it started up to date.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult
from pydantic import Field

from flora_mcp.api.client import FloraClient
from flora_mcp.api.errors import FloraConnectionError, RateLimitedError, ServerError
from flora_mcp.api.models import KNOWN_STATUSES, RequestModel, RunId, RunState, TechniqueRef
from flora_mcp.api.urls import one_line
from flora_mcp.outputs.blocks import output_blocks
from flora_mcp.runs import following
from flora_mcp.runs.following import NextStep
from flora_mcp.server.context import AppState, state_of
from flora_mcp.server.errors import flora_errors
from flora_mcp.server.results import (
    RunResult,
    WaitResult,
    describe_next,
    output_lines,
    tool_result,
)
from flora_mcp.server.run_answer import run_answer
from flora_mcp.server.tools.registry import READ_ONLY, ToolSpec
from flora_mcp.untrusted import quoted

logger = logging.getLogger("flora_mcp.server")

# Poll failures worth retrying within a wait (shared with wait_for_runs and the tasks extension).
TRANSIENT = (RateLimitedError, ServerError, FloraConnectionError)
# How far past its budget a wait may run while it gives up a hanging read and answers.
BUDGET_MARGIN_SECONDS = 0.5


class RunArguments(RequestModel):
    """get_run's arguments."""

    run_id: RunId


class TechniqueRunArguments(RequestModel):
    """get_technique_run's arguments."""

    technique_id: TechniqueRef
    run_id: RunId


class WaitForRunArguments(RequestModel):
    """wait_for_run's arguments."""

    run_id: RunId
    technique_id: TechniqueRef | None = Field(
        default=None,
        description="For a technique run, as its start returned it.",
    )
    timeout_seconds: float = Field(
        default=following.DEFAULT_WAIT_SECONDS,
        ge=1,
        le=following.MAX_WAIT_SECONDS,
        description="Over 60 only if your client waits while progress arrives.",
    )


# --- a run as a result -------------------------------------------------------------------------
def run_fields(run: RunState, *, technique_id: str | None, next_step: NextStep | None) -> dict[str, Any]:
    """The fields of a RunResult (or WaitResult) for `run`."""
    advice = None
    if run.status == "failed":
        advice = following.failed_run_advice(run.error_code)
    elif run.status == "completed":
        advice = "The run completed; its outputs are listed."
    elif not run.status_known:
        advice = following.unknown_status_advice(run.status)
    return {
        "run_id": run.run_id,
        "status": run.status,
        "finished": run.is_terminal,
        "progress_percent": round(following.progress_fraction(run) * 100, 1),
        "charged_cost": run.charged_cost,
        "error_code": run.error_code,
        "error_message": run.error_message,
        "outputs": run.outputs,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "poll_url": run.poll_url,
        "technique_id": technique_id,
        "advice": advice,
        "next": None if run.is_terminal else next_step,
    }


def run_text(result: RunResult, headline: str | None = None, *, offer_wait: bool = True) -> str:
    lines = [headline or f"Run {result.run_id}: {one_line(result.status, 60)}, {result.progress_percent:g}% done."]
    if result.advice and result.status not in KNOWN_STATUSES:
        lines.append(result.advice)
    if result.charged_cost is not None:
        lines.append(f"Charged: {result.charged_cost:g} USD.")
    if result.status == "failed":
        message = quoted(result.error_message) if result.error_message else "no message given"
        lines.append(f"Error {one_line(result.error_code or 'unknown', 100)}: {message}.")
    if result.outputs:
        lines.append("Outputs:")
        lines.extend(output_lines(result.outputs))
    if result.advice and result.status == "failed":
        lines.append(f"Next step: {result.advice}.")
    elif result.next:
        also = " Or call wait_for_run to wait here with progress." if offer_wait else ""
        lines.append(describe_next(result.next) + also)
    return "\n".join(lines)


async def observed(ctx: Context[Any], state: AppState, run: RunState) -> None:
    """Tell the booking what a read showed (journal, charges); never fails the read."""
    await state.booking.observe(state.caller(ctx), run)


async def read_within(
    client: FloraClient, run_id: str, technique_id: str | None, poll_url: str | None, *, seconds: float
) -> RunState | None:
    """One read of a run that is given up after `seconds` (plus a small margin): None if FLORA did not answer.

    A read may not outlast a wait's budget: FLORA answering slowly is no reason to keep the
    agent past the time it asked for (it gets the state so far instead).
    """
    with anyio.move_on_after(max(seconds, 0.0) + BUDGET_MARGIN_SECONDS):
        return await client.poll(run_id=run_id, technique_id=technique_id, poll_url=poll_url)
    return None


# --- get_run, get_technique_run ----------------------------------------------------------------
async def _read(ctx: Context[Any], tool: str, run_id: str, technique_id: str | None) -> CallToolResult:
    state = state_of(ctx)
    client = state.caller(ctx).client
    async with flora_errors(tool):
        if technique_id:
            run = await client.get_technique_run(technique_id, run_id)
        else:
            run = await client.get_run(run_id)
    await observed(ctx, state, run)
    facts = state.memory.observe(run_id, state.clock(), following.progress_fraction(run), finished=run.is_terminal)
    delay = following.next_read_in(facts, state.clock(), reads=1)
    next_step = following.while_running(run_id, technique_id, delay=delay, tool=tool)
    result = RunResult(**run_fields(run, technique_id=technique_id, next_step=next_step))
    return await run_answer(ctx, result, run_text(result))


async def get_run(ctx: Context[Any], args: RunArguments) -> CallToolResult:
    return await _read(ctx, "get_run", args.run_id, None)


async def get_technique_run(ctx: Context[Any], args: TechniqueRunArguments) -> CallToolResult:
    return await _read(ctx, "get_technique_run", args.run_id, args.technique_id)


# --- wait_for_run ------------------------------------------------------------------------------
async def wait_for_run(ctx: Context[Any], args: WaitForRunArguments) -> CallToolResult:
    try:
        return await _follow(ctx, args.run_id, args.technique_id, args.timeout_seconds)
    except anyio.get_cancelled_exc_class():
        logger.info("wait_for_run cancelled", extra={"run_id": args.run_id})
        raise


async def _follow(ctx: Context[Any], run_id: str, technique_id: str | None, timeout_seconds: float) -> CallToolResult:
    state = state_of(ctx)
    client = state.caller(ctx).client
    facts = state.memory.recall(run_id)
    technique_id = technique_id or facts.technique_id
    poll_url = facts.poll_url
    began = state.clock()
    deadline = began + timeout_seconds
    track = following.ProgressTrack()
    reads = failures = 0
    last: RunState | None = None

    delay = following.next_read_in(facts, began, reads=0)
    if delay > 0:
        # The run cannot be done yet (or was read a moment ago): say where it should be instead
        # of reading it, so the client hears from the call at once.
        guess = following.expected_fraction(facts, began)
        source = "by FLORA's estimate" if facts.expected_end is not None else "when last read"
        await ctx.report_progress(
            track.next_value(guess),
            100,
            f"{run_id}: about {guess * 100:.0f}% {source}; checking in {delay:.0f} s",
        )
    while True:
        if delay > 0:
            await state.sleep(min(delay, max(deadline - state.clock(), 0.0)))
        run: RunState | None = None
        async with flora_errors("wait_for_run"):
            try:
                run = await read_within(client, run_id, technique_id, poll_url, seconds=deadline - state.clock())
            except TRANSIENT as exc:
                left = deadline - state.clock()
                if left < following.MIN_POLL_SECONDS:
                    raise
                logger.info("poll failed; retrying within the wait", extra={"run_id": run_id, "error": repr(exc)})
                failures += 1
                delay = min(following.backoff(failures), left)
                await ctx.report_progress(
                    track.next_value(facts.fraction or 0.0),
                    100,
                    f"{run_id}: FLORA did not answer ({type(exc).__name__}); trying again in {delay:.0f} s",
                )
                continue
        now = state.clock()
        if run is None:
            return await _unanswered(ctx, run_id, technique_id, last, waited=now - began, polls=reads)
        last = run
        reads += 1
        await observed(ctx, state, run)
        fraction = following.progress_fraction(run)
        facts = state.memory.observe(run_id, now, fraction, finished=run.is_terminal)
        await ctx.report_progress(
            track.next_value(fraction),
            100,
            f"{run_id}: {run.status[:60]}, {fraction * 100:.0f}% ({now - began:.0f} s waited)",
        )
        if run.is_terminal:
            return await _answer(
                ctx, run, technique_id, waited=now - began, polls=reads, exhausted=False, left=deadline - now
            )
        left = deadline - now
        if left < following.MIN_POLL_SECONDS:
            return await _answer(ctx, run, technique_id, waited=now - began, polls=reads, exhausted=True, left=left)
        delay = min(following.next_read_in(facts, now, reads=reads), left)


async def _answer(
    ctx: Context[Any],
    run: RunState,
    technique_id: str | None,
    *,
    waited: float,
    polls: int,
    exhausted: bool,
    left: float | None = None,  # of the wait's budget: the outputs' downloads end by then
) -> CallToolResult:
    result, text = _wait_parts(run, technique_id, waited=waited, polls=polls, exhausted=exhausted)
    return await run_answer(ctx, result, text, within_seconds=left)


def wait_answer(
    run: RunState, technique_id: str | None, *, waited: float, polls: int, exhausted: bool
) -> CallToolResult:
    """wait_for_run's answer for the run as last read, with outputs as links (the result of a
    finished single-run task, which a tasks/get handler builds without a tool's context)."""
    result, text = _wait_parts(run, technique_id, waited=waited, polls=polls, exhausted=exhausted)
    return tool_result(result, text, output_blocks(result.outputs))


def _wait_parts(
    run: RunState, technique_id: str | None, *, waited: float, polls: int, exhausted: bool
) -> tuple[WaitResult, str]:
    # When the budget ran out, calling wait_for_run again at once is right: it waits itself.
    next_step = following.while_running(run.run_id, technique_id, delay=0) if exhausted else None
    result = WaitResult(
        **run_fields(run, technique_id=technique_id, next_step=next_step),
        waited_seconds=round(waited, 1),
        polls=polls,
        budget_exhausted=exhausted,
    )
    if exhausted:
        headline = (
            f"Run {run.run_id} is still {one_line(run.status, 60)} ({result.progress_percent:g}%) after "
            f"{result.waited_seconds:g} s of waiting; it keeps running on FLORA."
        )
    else:
        headline = f"Run {run.run_id} {one_line(run.status, 60)} after {result.waited_seconds:g} s of waiting."
    return result, run_text(result, headline, offer_wait=False)


async def _unanswered(
    ctx: Context[Any], run_id: str, technique_id: str | None, last: RunState | None, *, waited: float, polls: int
) -> CallToolResult:
    """The budget ran out while FLORA had not answered a read: the last state seen, or none."""
    next_step = following.while_running(run_id, technique_id, delay=following.MIN_POLL_SECONDS)
    if last is not None:
        return await _answer(ctx, last, technique_id, waited=waited, polls=polls, exhausted=True)
    result = WaitResult(
        run_id=run_id,
        status="unknown",
        finished=False,
        progress_percent=0.0,
        technique_id=technique_id,
        advice="FLORA did not answer a read of this run within the wait's time budget.",
        next=next_step,
        waited_seconds=round(waited, 1),
        polls=polls,
        budget_exhausted=True,
    )
    text = (
        f"FLORA did not answer a read of run {run_id} within {result.waited_seconds:g} s, the wait's budget; "
        "the run itself is not affected and keeps going.\n" + describe_next(next_step)
    )
    return tool_result(result, text)


SPECS = [
    ToolSpec(
        name="wait_for_run",
        title="Wait for a run",
        description=(
            "Wait for a run to finish, reporting progress, then return its outputs or error. Free.\n\n"
            "At timeout_seconds it returns the current state and a `next` hint to wait again (the run keeps going)."
        ),
        arguments=WaitForRunArguments,
        output=WaitResult,
        annotations=READ_ONLY,
        body=wait_for_run,
    ),
    ToolSpec(
        name="get_run",
        title="Get a generation run",
        description=(
            "A generation run's status, progress and, once completed, its outputs (media as links). Free.\n\n"
            "For technique runs use get_technique_run; to wait for the end, wait_for_run."
        ),
        arguments=RunArguments,
        output=RunResult,
        annotations=READ_ONLY,
        body=get_run,
    ),
    ToolSpec(
        name="get_technique_run",
        title="Get a technique run",
        description=(
            "A technique run's status, progress and, once completed, its outputs, from the technique_id "
            "and run_id its start returned. Free."
        ),
        arguments=TechniqueRunArguments,
        output=RunResult,
        annotations=READ_ONLY,
        body=get_technique_run,
    ),
]

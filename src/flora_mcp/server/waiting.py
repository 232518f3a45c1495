"""wait_for_run: follow one run until it ends or the time budget does, reporting progress.

Each poll sends an MCP progress notification (clients that honour them keep the call alive
past their usual timeout), and so does a failed poll. Polls follow the cadence in hints.py: a
run this process started is not read before it can be done; the wait then opens with a
notification from the start's estimate instead of a read. A poll that fails in a way
worth retrying (rate limit, 5xx, lost connection, after the client's own retries) does not end
the wait while budget remains; any other failure does, as a tool error. Cancelling the call
cancels the sleep or request in flight, so polling stops at once.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from mcp.server.mcpserver import Context
from mcp_types import CallToolResult

from flora_mcp.api.errors import FloraConnectionError, RateLimitedError, ServerError
from flora_mcp.api.models import RunState
from flora_mcp.outputs.answer import run_answer
from flora_mcp.server import hints
from flora_mcp.server.results import WaitResult
from flora_mcp.server.runs import flora_errors, run_fields, run_text
from flora_mcp.server.state import state_of

logger = logging.getLogger("flora_mcp.server")

_TRANSIENT = (RateLimitedError, ServerError, FloraConnectionError)


async def wait_for_run(
    ctx: Context[Any],
    run_id: str,
    technique_id: str | None = None,
    timeout_seconds: float = hints.DEFAULT_WAIT_SECONDS,
) -> CallToolResult:
    try:
        return await _follow(ctx, run_id, technique_id, timeout_seconds)
    except anyio.get_cancelled_exc_class():
        logger.info("wait_for_run cancelled", extra={"run_id": run_id})
        raise


async def _follow(ctx: Context[Any], run_id: str, technique_id: str | None, timeout_seconds: float) -> CallToolResult:
    state = state_of(ctx)
    client = state.client_for(ctx)
    facts = state.memory.recall(run_id)
    technique_id = technique_id or facts.technique_id
    poll_url = facts.poll_url
    began = state.clock()
    deadline = began + timeout_seconds
    track = hints.ProgressTrack()
    reads = failures = 0

    delay = hints.next_read_in(facts, began, reads=0)
    if delay > 0:
        # The run cannot be done yet (or was read a moment ago): say where it should be instead
        # of reading it, so the client hears from the call at once.
        guess = hints.expected_fraction(facts, began)
        source = "by FLORA's estimate" if facts.expected_end is not None else "when last read"
        await ctx.report_progress(
            track.next_value(guess),
            100,
            f"{run_id}: about {guess * 100:.0f}% {source}; checking in {delay:.0f} s",
        )
    while True:
        if delay > 0:
            await state.sleep(min(delay, max(deadline - state.clock(), 0.0)))
        async with flora_errors("wait_for_run"):
            try:
                run = await client.poll(run_id=run_id, technique_id=technique_id, poll_url=poll_url)
            except _TRANSIENT as exc:
                left = deadline - state.clock()
                if left < hints.MIN_POLL_SECONDS:
                    raise
                logger.info("poll failed; retrying within the wait", extra={"run_id": run_id, "error": repr(exc)})
                failures += 1
                delay = min(hints.backoff(failures), left)
                await ctx.report_progress(
                    track.next_value(facts.fraction or 0.0),
                    100,
                    f"{run_id}: FLORA did not answer ({type(exc).__name__}); trying again in {delay:.0f} s",
                )
                continue
        reads += 1
        state.ledger.observe(run.run_id, run.charged_cost)
        now = state.clock()
        fraction = hints.progress_fraction(run)
        facts = state.memory.observe(run_id, now, fraction)
        await ctx.report_progress(
            track.next_value(fraction),
            100,
            f"{run_id}: {run.status}, {fraction * 100:.0f}% ({now - began:.0f} s waited)",
        )
        if run.is_terminal:
            return await _answer(ctx, run, technique_id, waited=now - began, polls=reads, exhausted=False)
        left = deadline - now
        if left < hints.MIN_POLL_SECONDS:
            return await _answer(ctx, run, technique_id, waited=now - began, polls=reads, exhausted=True)
        delay = min(hints.next_read_in(facts, now, reads=reads), left)


async def _answer(
    ctx: Context[Any], run: RunState, technique_id: str | None, *, waited: float, polls: int, exhausted: bool
) -> CallToolResult:
    # When the budget ran out, calling wait_for_run again at once is right: it waits itself.
    next_step = hints.while_running(run.run_id, technique_id, delay=0) if exhausted else None
    result = WaitResult(
        **run_fields(run, technique_id=technique_id, next_step=next_step),
        waited_seconds=round(waited, 1),
        polls=polls,
        budget_exhausted=exhausted,
    )
    if exhausted:
        headline = (
            f"Run {run.run_id} is still {run.status} ({result.progress_percent:g}%) after "
            f"{result.waited_seconds:g} s of waiting; it keeps running on FLORA."
        )
    else:
        headline = f"Run {run.run_id} {run.status} after {result.waited_seconds:g} s of waiting."
    text = run_text(result, headline, offer_wait=False)
    return await run_answer(ctx, result, text)

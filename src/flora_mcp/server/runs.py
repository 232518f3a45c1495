"""The run tools' bodies: starting runs and reading a run's state.

Thin adapters: validate into the request model, call the client, turn the answer into a
StartResult or RunResult with its text and next step. FLORA failures become tool errors here
(see errors.py); nothing else is caught.

A start first passes the money guard (guard.py: its quote, the spend cap, the user's
confirmation, all before anything is sent), then is booked in the spend ledger (spending.py)
as started, accepted earlier, or of unknown outcome when FLORA may have acted on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Resolve
from mcp_types import CallToolResult
from pydantic import ValidationError

from flora_mcp.api.client import AcceptedEarlier, Started, new_idempotency_key
from flora_mcp.api.errors import FloraError
from flora_mcp.api.models import (
    GenerationRunRequest,
    IdempotencyKey,
    RunState,
    StartResponse,
    StartTechniqueRun,
)
from flora_mcp.outputs.answer import run_answer
from flora_mcp.server import guard, hints
from flora_mcp.server.errors import flora_error_text, start_error_text, unsendable_text
from flora_mcp.server.quotes import Quote
from flora_mcp.server.results import (
    NextStep,
    RunResult,
    StartResult,
    describe_next,
    output_blocks,
    output_lines,
    tool_result,
)
from flora_mcp.server.spending import Reservation
from flora_mcp.server.state import AppState, state_of


class StartGenerationArguments(GenerationRunRequest):
    """start_generation_run's arguments: the request body, plus the key that travels as a header."""

    idempotency_key: IdempotencyKey | None = None


@asynccontextmanager
async def flora_errors(tool: str, idempotency_key: str | None = None) -> AsyncIterator[None]:
    """Turn FLORA failures (and requests the client refuses to send) into actionable tool errors."""
    try:
        yield
    except FloraError as exc:
        raise ToolError(flora_error_text(exc, tool, idempotency_key)) from exc
    except ValidationError:
        raise  # a shape we built is wrong: a bug, reported as one by the server
    except ValueError as exc:
        # The client refuses requests it could never send (e.g. one technique input given twice).
        raise ToolError(unsendable_text(exc, tool)) from exc


@asynccontextmanager
async def start_errors(
    tool: str, idempotency_key: str, reservation: Reservation, technique_id: str | None
) -> AsyncIterator[None]:
    """Like flora_errors, for a start: says whether FLORA may have started it, and books that."""
    try:
        yield
    except FloraError as exc:
        if exc.may_have_been_processed:
            reservation.unknown(technique_id=technique_id)
        else:
            reservation.not_started()
        raise ToolError(start_error_text(exc, tool, idempotency_key)) from exc
    except ValidationError:
        raise
    except ValueError as exc:
        reservation.not_started()
        raise ToolError(unsendable_text(exc, tool)) from exc
    finally:
        # Cancelled mid-send (the client gave up on the call): FLORA may have the start.
        reservation.unknown(technique_id=technique_id)


# --- starts ------------------------------------------------------------------------------------
async def start_generation_run(
    ctx: Context[Any],
    quote: Annotated[Quote, Resolve(guard.generation_quote)],
    confirmation: Annotated[guard.Confirmation, Resolve(guard.confirm_generation)],
    **arguments: Any,
) -> CallToolResult:
    tool = "start_generation_run"
    args = StartGenerationArguments.model_validate(arguments)
    key = args.idempotency_key or new_idempotency_key()
    request = GenerationRunRequest.model_validate(args.model_dump(exclude={"idempotency_key"}, exclude_none=True))
    guard.require_consent(confirmation, tool, quote)
    state = state_of(ctx)
    reservation = guard.reserve(state, key, quote, tool=tool, owner=state.caller(ctx))
    async with start_errors(tool, key, reservation, technique_id=None):
        outcome = await state.client_for(ctx).start_generation_run(request, idempotency_key=key)
        if isinstance(outcome, AcceptedEarlier):
            reservation.accepted_earlier(technique_id=None)
        else:
            answer = outcome.response
            model_id = answer.model.model_id if answer.model else request.model
            reservation.started(answer.run_id, answer.charged_cost, technique_id=None, model_id=model_id)
    if isinstance(outcome, AcceptedEarlier):
        return _accepted_earlier(
            state,
            outcome,
            kind="generation",
            workspace_id=request.workspace_id,
            project_id=request.project_id,
            technique_id=None,
        )
    return _started(ctx, outcome, kind=f"{request.type} generation", technique_id=None)


async def start_technique_run(
    ctx: Context[Any],
    quote: Annotated[Quote, Resolve(guard.technique_quote)],
    confirmation: Annotated[guard.Confirmation, Resolve(guard.confirm_technique)],
    **arguments: Any,
) -> CallToolResult:
    tool = "start_technique_run"
    request = StartTechniqueRun.model_validate(arguments)
    key = request.idempotency_key or new_idempotency_key()
    request = request.model_copy(update={"idempotency_key": key})
    guard.require_consent(confirmation, tool, quote)
    state = state_of(ctx)
    technique_id = request.technique_id
    reservation = guard.reserve(state, key, quote, tool=tool, owner=state.caller(ctx))
    async with start_errors(tool, key, reservation, technique_id=technique_id):
        outcome = await state.client_for(ctx).start_technique_run(request)
        if isinstance(outcome, AcceptedEarlier):
            reservation.accepted_earlier(technique_id=technique_id)
        else:
            answer = outcome.response
            reservation.started(answer.run_id, answer.charged_cost, technique_id=technique_id, model_id=None)
    if isinstance(outcome, AcceptedEarlier):
        return _accepted_earlier(
            state, outcome, kind="technique", workspace_id=request.workspace_id, technique_id=technique_id
        )
    # Technique runs are read back under their technique (GET /techniques/{id}/runs/{run_id}).
    return _started(ctx, outcome, kind="technique", technique_id=technique_id)


def _started(
    ctx: Context[Any],
    outcome: Started[StartResponse] | Started[RunState],
    *,
    kind: str,
    technique_id: str | None,
) -> CallToolResult:
    answer = outcome.response
    estimated = answer.estimated_seconds if isinstance(answer, StartResponse) else None
    status = answer.status if isinstance(answer, RunState) else None
    state = state_of(ctx)
    now = state.clock()
    facts = hints.RunFacts(
        technique_id=technique_id, poll_url=answer.poll_url, estimated_seconds=estimated, started_at=now
    )
    if isinstance(answer, RunState):
        facts.observe(now, hints.progress_fraction(answer))  # the nested route answers with a read
    state.memory.remember(answer.run_id, facts)
    finished = isinstance(answer, RunState) and answer.is_terminal
    result = StartResult(
        outcome="started",
        run_id=answer.run_id,
        status=status,
        run_type=answer.type if isinstance(answer, StartResponse) else "technique",
        charged_cost=answer.charged_cost,
        estimated_seconds=estimated,
        poll_url=answer.poll_url,
        technique_id=technique_id,
        model_id=answer.model.model_id if isinstance(answer, StartResponse) and answer.model else None,
        outputs=answer.outputs if isinstance(answer, RunState) else None,
        idempotency_key=outcome.idempotency_key,
        request_id=outcome.request_id,
        session_spent_usd=state.ledger.spent_usd,
        spend_cap_usd=state.ledger.cap_usd,
        next=None if finished else hints.after_start(answer.run_id, technique_id, estimated),
    )
    cost = "no quote given" if answer.charged_cost is None else f"quoted {answer.charged_cost:g} USD"
    text = f"Started {kind} run {answer.run_id}" + (f" ({status})" if status else "")
    text += f": {cost} (a quote; the final charge can differ)"
    if estimated is not None:
        text += f", about {estimated:g} s"
    text += f". Idempotency key: {outcome.idempotency_key}."
    lines = [text, guard.spend_line(state.ledger)]
    if finished and isinstance(answer, RunState):
        lines.append(f"It already {answer.status}.")
        lines.extend(output_lines(answer.outputs))
    else:
        lines.append(describe_next(result.next))
    extra = output_blocks(answer.outputs) if isinstance(answer, RunState) else []
    return tool_result(result, "\n".join(lines), extra)


def _accepted_earlier(
    state: AppState,
    outcome: AcceptedEarlier,
    *,
    kind: Literal["generation", "technique"],
    workspace_id: str | None,
    project_id: str | None = None,
    technique_id: str | None,
) -> CallToolResult:
    next_step = hints.find_accepted_start(
        kind,
        workspace_id=workspace_id,
        project_id=project_id,
        technique_id=technique_id,
    )
    result = StartResult(
        outcome="accepted_earlier",
        idempotency_key=outcome.idempotency_key,
        request_id=outcome.request_id,
        technique_id=technique_id,
        session_spent_usd=state.ledger.spent_usd,
        spend_cap_usd=state.ledger.cap_usd,
        next=next_step,
    )
    text = (
        f"FLORA already accepted a {kind} start with idempotency key {outcome.idempotency_key}; its first "
        "answer was lost on the way, so the run id is unknown. No second run was started. "
        "Do not start it again."
    )
    text += " " + describe_next(next_step) + " The newest runs come first."
    return tool_result(result, text + "\n" + guard.spend_line(state.ledger))


# --- reading a run -----------------------------------------------------------------------------
def run_fields(run: RunState, *, technique_id: str | None, next_step: NextStep | None) -> dict[str, Any]:
    """The fields of a RunResult (or WaitResult) for `run`."""
    advice = None
    if run.status == "failed":
        advice = hints.failed_run_advice(run.error_code)
    elif run.status == "completed":
        advice = "The run completed; its outputs are listed."
    return {
        "run_id": run.run_id,
        "status": run.status,
        "finished": run.is_terminal,
        "progress_percent": round(hints.progress_fraction(run) * 100, 1),
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
    lines = [headline or f"Run {result.run_id}: {result.status}, {result.progress_percent:g}% done."]
    if result.charged_cost is not None:
        lines.append(f"Charged: {result.charged_cost:g} USD.")
    if result.status == "failed":
        lines.append(f"Error {result.error_code or 'unknown'}: {result.error_message or 'no message given'}.")
    if result.outputs:
        lines.append("Outputs:")
        lines.extend(output_lines(result.outputs))
    if result.advice and result.status == "failed":
        lines.append(f"Next step: {result.advice}.")
    elif result.next:
        also = " Or call wait_for_run to wait here with progress." if offer_wait else ""
        lines.append(describe_next(result.next) + also)
    return "\n".join(lines)


async def _read(ctx: Context[Any], tool: str, run_id: str, technique_id: str | None) -> CallToolResult:
    state = state_of(ctx)
    client = state.client_for(ctx)
    async with flora_errors(tool):
        if technique_id:
            run = await client.get_technique_run(technique_id, run_id)
        else:
            run = await client.get_run(run_id)
    state.ledger.observe(run.run_id, run.charged_cost)
    facts = state.memory.observe(run_id, state.clock(), hints.progress_fraction(run))
    delay = hints.next_read_in(facts, state.clock(), reads=1)
    next_step = hints.while_running(run_id, technique_id, delay=delay, tool=tool)
    result = RunResult(**run_fields(run, technique_id=technique_id, next_step=next_step))
    return await run_answer(ctx, result, run_text(result))


async def get_run(ctx: Context[Any], run_id: str) -> CallToolResult:
    return await _read(ctx, "get_run", run_id, None)


async def get_technique_run(ctx: Context[Any], technique_id: str, run_id: str) -> CallToolResult:
    return await _read(ctx, "get_technique_run", run_id, technique_id)

"""The start tools: start_generation_run and start_technique_run (paid).

Each body turns its validated arguments into a `StartPlan` and a `send` function, hands both
to the booking (runs/booking.py), which owns everything about money and keys, and words the
`Booked` outcome for the agent. Whatever goes wrong while wording it, the answer still carries
the run id (or the key and where the run will be found): FLORA has accepted the start by then.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp_types import CallToolResult
from pydantic import Field, model_validator

from flora_mcp.api.client import AcceptedEarlier, FloraClient, Started
from flora_mcp.api.models import (
    GenerationRunRequest,
    IdempotencyKey,
    RunState,
    StartResponse,
    StartTechniqueRun,
)
from flora_mcp.api.urls import one_line
from flora_mcp.outputs.blocks import output_blocks
from flora_mcp.runs import following, texts
from flora_mcp.runs.booking import Booked, finite_or_none
from flora_mcp.runs.input_hosts import refuse_unloadable, technique_media_urls, unloadable_inputs
from flora_mcp.runs.plan import StartPlan
from flora_mcp.runs.preflight import Checked
from flora_mcp.runs.quotes import NOT_LOOKED_UP, Quote
from flora_mcp.server.consent import (
    Confirmation,
    ConfirmStart,
    NotAsked,
    ask_if_costly,
    quote_generation,
    quote_technique,
    require_consent,
    shown_prompt,
)
from flora_mcp.server.context import AppState, state_of
from flora_mcp.server.errors import flora_errors
from flora_mcp.server.results import (
    StartResult,
    TechniqueStartResult,
    describe_next,
    output_lines,
    tool_result,
)
from flora_mcp.server.tools.registry import PAID_START, ToolSpec, parsed_arguments

logger = logging.getLogger("flora_mcp.server")

REPEAT_FIELD = Field(
    default=False,
    description=("true: start the same thing again on purpose."),
)


class StartGenerationArguments(GenerationRunRequest):
    """start_generation_run's arguments: the request body, the key (sent as a header) and the repeat flag."""

    idempotency_key: IdempotencyKey | None = None
    repeat: bool = REPEAT_FIELD


class StartTechniqueArguments(StartTechniqueRun):
    """start_technique_run's arguments: the technique start, plus the repeat flag."""

    repeat: bool = REPEAT_FIELD

    @model_validator(mode="after")
    def _one_route_can_carry_it(self) -> StartTechniqueArguments:
        # FLORA accepts callback_url only on the route that runs in the API key's own workspace
        # and ignores workspace_id there: together they would bill another workspace than asked.
        if self.callback_url is not None and self.workspace_id is not None:
            raise ValueError(
                "callback_url and workspace_id cannot be combined: FLORA takes a callback_url only on the route "
                "that runs in the API key's own workspace. Drop callback_url (and follow the run with "
                "wait_for_run), or drop workspace_id"
            )
        return self


def _canonical(args: StartGenerationArguments | StartTechniqueArguments) -> dict[str, Any]:
    return args.model_dump(mode="json", exclude={"idempotency_key", "repeat"}, exclude_none=True)


def generation_plan(args: StartGenerationArguments) -> StartPlan:
    return StartPlan(
        tool="start_generation_run",
        kind="generation",
        arguments=_canonical(args),
        given_key=args.idempotency_key,
        repeat=args.repeat,
        describe=f"a {args.type} generation"
        + (f" with {args.model}" if args.model else "")
        + f" of {shown_prompt(args.prompt)!r}",
        workspace_id=args.workspace_id,
        project_id=args.project_id,
        model_id=args.model,
        prompt=args.prompt,
    )


def technique_plan(args: StartTechniqueArguments, technique_id: str | None = None) -> StartPlan:
    texts = [item.value for item in args.inputs if item.type == "text"]
    return StartPlan(
        tool="start_technique_run",
        kind="technique",
        arguments=_canonical(args),
        given_key=args.idempotency_key,
        repeat=args.repeat,
        describe=f"a run of technique {args.technique_id}",
        workspace_id=args.workspace_id,
        technique_id=technique_id or args.technique_id,
        prompt=" / ".join(str(t) for t in texts) or None,
    )


# --- guards (resolvers: they run before the body, on the call's arguments parsed once) ---------
ParsedGeneration = Annotated[StartGenerationArguments | None, Resolve(parsed_arguments(StartGenerationArguments))]
ParsedTechnique = Annotated[StartTechniqueArguments | None, Resolve(parsed_arguments(StartTechniqueArguments))]


async def generation_quote(ctx: Context[Any], args: ParsedGeneration) -> Quote:
    if args is None:
        return NOT_LOOKED_UP
    return await quote_generation(ctx, args.type, args.model)


async def technique_quote(ctx: Context[Any], args: ParsedTechnique) -> Quote:
    if args is None:
        return NOT_LOOKED_UP
    return await quote_technique(ctx, args.technique_id)


async def generation_checked(ctx: Context[Any], args: ParsedGeneration) -> Checked:
    """The catalog check (runs/preflight.py) before anyone is asked: a user never approves a mistake."""
    if args is None:
        return Checked()
    state = state_of(ctx)
    return await state.checks.generation(
        state.caller(ctx), generation_type=args.type, model=args.model, params=args.params
    )


async def technique_checked(ctx: Context[Any], args: ParsedTechnique) -> Checked:
    if args is None:
        return Checked()
    state = state_of(ctx)
    checked = await state.checks.technique(state.caller(ctx), technique_id=args.technique_id, inputs=args.inputs)
    # After the catalog check, which words a value that is no http(s) URL at all more exactly.
    if state.input_origins is not None:
        refuse_unloadable(
            "start_technique_run",
            f"technique {args.technique_id}'s inputs",
            unloadable_inputs(technique_media_urls(args.inputs), state.input_origins),
            workspace_id=args.workspace_id or "<the workspace>",
        )
    return checked


async def confirm_generation(
    ctx: Context[Any],
    args: ParsedGeneration,
    quote: Annotated[Quote, Resolve(generation_quote)],
    checked: Annotated[Checked, Resolve(generation_checked)],  # mistakes refused before asking
) -> Elicit[ConfirmStart] | NotAsked:
    if args is None:
        return NotAsked("the arguments are refused by the tool's own check")
    return await ask_if_costly(ctx, lambda: generation_plan(args), quote)


async def confirm_technique(
    ctx: Context[Any],
    args: ParsedTechnique,
    quote: Annotated[Quote, Resolve(technique_quote)],
    checked: Annotated[Checked, Resolve(technique_checked)],  # mistakes refused before asking
) -> Elicit[ConfirmStart] | NotAsked:
    if args is None:
        return NotAsked("the arguments are refused by the tool's own check")
    return await ask_if_costly(ctx, lambda: technique_plan(args), quote)


# --- bodies ------------------------------------------------------------------------------------
async def start_generation_run(
    ctx: Context[Any], args: StartGenerationArguments, *, quote: Quote, checked: Checked, confirmation: Confirmation
) -> CallToolResult:
    plan = generation_plan(args)
    require_consent(confirmation, plan.tool, quote)
    state = state_of(ctx)
    request = GenerationRunRequest.model_construct(
        **args.model_dump(exclude={"idempotency_key", "repeat"}, exclude_none=True)
    )

    async def send(client: FloraClient, key: str) -> Started[StartResponse] | AcceptedEarlier:
        return await client.start_generation_run(request, idempotency_key=key)

    booked = await state.booking.start(state.caller(ctx), plan, quote, send)
    answer = booked.answer.response if booked.answer else None
    if args.model is None and isinstance(answer, StartResponse) and answer.model:
        # FLORA named the model it ran: the type's default, which later checks can use.
        state.catalog.learn_default(state.caller(ctx).fingerprint, args.type, answer.model.model_id)
    return await _answer(ctx, state, plan, booked, quote, kind=f"{args.type} generation", note=checked.note)


async def _technique_on_its_workspace(ctx: Context[Any], args: StartTechniqueArguments) -> str:
    """The technique id to start, such that the run is billed to `args.workspace_id` (or the key's own).

    FLORA's nested route (slugs, callback_url) runs in the API key's own workspace and ignores a
    workspace_id; only the top-level route, which needs a tech_ id, honours it. So a slug with a
    workspace_id is resolved to its tech_ id first, and a callback_url with a workspace_id,
    which no route can carry together, is refused.
    """
    technique_id = args.technique_id
    if args.workspace_id is None or technique_id.startswith("tech_"):
        return technique_id
    async with flora_errors("start_technique_run"):
        technique = await state_of(ctx).caller(ctx).client.get_technique(technique_id)
    if not technique.technique_id.startswith("tech_"):
        raise ToolError(
            f"Technique {technique_id} has no tech_ id to start in workspace {args.workspace_id} with; nothing was "
            f"sent.\nNext step: call again without workspace_id (runs in the key's own workspace)."
        )
    return technique.technique_id


async def start_technique_run(
    ctx: Context[Any], args: StartTechniqueArguments, *, quote: Quote, checked: Checked, confirmation: Confirmation
) -> CallToolResult:
    require_consent(confirmation, "start_technique_run", quote)
    state = state_of(ctx)
    technique_id = await _technique_on_its_workspace(ctx, args)
    plan = technique_plan(args, technique_id)
    request = StartTechniqueRun.model_construct(
        technique_id=technique_id,
        inputs=args.inputs,
        workspace_id=args.workspace_id,
        callback_url=args.callback_url,
        idempotency_key=None,
    )

    async def send(client: FloraClient, key: str) -> Started[Any] | AcceptedEarlier:
        return await client.start_technique_run(request.model_copy(update={"idempotency_key": key}))

    booked = await state.booking.start(state.caller(ctx), plan, quote, send)
    return await _answer(ctx, state, plan, booked, quote, kind="technique", note=checked.note)


def _failed_charge(charged: float | None) -> str:
    if charged:
        return f"FLORA reports a charge of {charged:g} USD for it so far (failed runs are generally refunded)."
    return (
        "FLORA reports no charge for it so far; failed runs are generally refunded, but a charge can settle later "
        "(get_spend shows it). Starting it again is a new, billed run."
    )


# --- the answer --------------------------------------------------------------------------------
def _result_type(plan: StartPlan) -> type[StartResult]:
    """A generation start's result has no technique fields (status, technique_id, outputs)."""
    return TechniqueStartResult if plan.kind == "technique" else StartResult


async def _answer(
    ctx: Context[Any], state: AppState, plan: StartPlan, booked: Booked, quote: Quote, *, kind: str, note: str | None
) -> CallToolResult:
    try:
        return await _full_answer(ctx, state, plan, booked, quote, kind=kind, note=note)
    except Exception:
        # FLORA accepted the start: whatever broke here must not hide its run id.
        logger.error("could not word the answer to a start", exc_info=True)
        what = f"run {booked.run_id}" if booked.run_id else "a run (its id is not known yet)"
        text = (
            f"FLORA accepted this start: {what}, idempotency key {booked.key}. flora-mcp could not word the "
            "rest of the answer (the details are in its log)."
        )
        result = _result_type(plan)(outcome=booked.outcome, run_id=booked.run_id, idempotency_key=booked.key)
        if booked.run_id:
            result.next = following.after_start(
                booked.run_id, plan.technique_id if plan.kind == "technique" else None, None
            )
            text += "\n" + describe_next(result.next)
        return tool_result(result, text)


async def _full_answer(
    ctx: Context[Any], state: AppState, plan: StartPlan, booked: Booked, quote: Quote, *, kind: str, note: str | None
) -> CallToolResult:
    booking = state.booking
    # The spend as the booking read it once the start was settled: no second read of the store.
    spend_line = texts.spend_line(booked.spend, booking.cap_usd, booking.spend_window)
    technique_id = plan.technique_id if plan.kind == "technique" else None
    common: dict[str, Any] = {
        "idempotency_key": booked.key,
        "spent_usd": booked.spend.spent_usd if booked.spend else None,
        "spend_cap_usd": booking.cap_usd,
    }
    if technique_id is not None:
        common["technique_id"] = technique_id
    result_type = _result_type(plan)
    if booked.outcome == "started" and booked.answer is not None:
        return _started(
            state,
            booked.answer,
            common,
            spend_line,
            result_type=result_type,
            kind=kind,
            technique_id=technique_id,
            quote=quote,
            note=note,
        )
    record = booked.record
    if booked.outcome == "repeat" and booked.run_id:
        age = booked.age_seconds or 0.0
        next_step = following.after_start(booked.run_id, technique_id, None)
        result = result_type(
            outcome="repeat",
            run_id=booked.run_id,
            repeat_age_seconds=round(age, 1),
            quote_usd=record.quote_usd if record else None,
            next=next_step,
            **common,
        )
        text = (
            f"This start was already made {age:.0f} s ago: run {booked.run_id} (idempotency key {booked.key}). "
            "No second run was started and nothing more was charged. To start another run of the same thing on "
            f"purpose, call {plan.tool} again with repeat=true.\n{describe_next(next_step)}\n{spend_line}"
        )
        return tool_result(result, text)
    if booked.outcome == "recovered" and booked.run_id:
        next_step = following.after_start(booked.run_id, technique_id, None)
        result = result_type(outcome="recovered", run_id=booked.run_id, next=next_step, **common)
        searched = booked.recovery.searched if booked.recovery else "the run history"
        text = (
            f"FLORA accepted this start but its answer was lost or unreadable; flora-mcp found the run in {searched}: "
            f"{booked.run_id} (idempotency key {booked.key}). No second run was started.\n"
            f"{describe_next(next_step)}\n{spend_line}"
        )
        return tool_result(result, text)
    # Accepted, but the run is not identified (yet).
    recovery = booked.recovery
    candidates = recovery.candidates if recovery else []
    next_step = following.find_accepted_start(
        plan.kind, workspace_id=plan.workspace_id, project_id=plan.project_id, technique_id=technique_id
    )
    result = result_type(outcome="accepted_earlier", candidates=candidates or None, next=next_step, **common)
    text = (
        f"FLORA already accepted this {plan.kind} start (idempotency key {booked.key}), but its run id is not "
        "known: its first answer was lost. No second run was started. Do not start it again."
    )
    if recovery is not None:
        text += " " + recovery.describe()
    if candidates:
        text += " Read each with " + ("get_technique_run" if technique_id else "get_run") + " to tell which it is."
    else:
        text += " It can take a moment to appear. " + describe_next(next_step)
    return tool_result(result, text + "\n" + spend_line)


def _started(
    state: AppState,
    outcome: Started[Any],
    common: dict[str, Any],
    spend_line: str,
    *,
    result_type: type[StartResult],
    kind: str,
    technique_id: str | None,
    quote: Quote,
    note: str | None,
) -> CallToolResult:
    answer = outcome.response
    estimated = finite_or_none(answer.estimated_seconds) if isinstance(answer, StartResponse) else None
    charged = finite_or_none(answer.charged_cost)
    status = answer.status if isinstance(answer, RunState) else None
    now = state.clock()
    facts = following.RunFacts(
        technique_id=technique_id, poll_url=answer.poll_url, estimated_seconds=estimated, started_at=now
    )
    if isinstance(answer, RunState):
        facts.observe(now, following.progress_fraction(answer))  # the nested route answers with a read
    state.memory.remember(answer.run_id, facts)
    finished = isinstance(answer, RunState) and answer.is_terminal
    fields: dict[str, Any] = {
        "outcome": "started",
        "run_id": answer.run_id,
        "run_type": answer.type if isinstance(answer, StartResponse) else "technique",
        "quote_usd": charged,
        "estimated_seconds": estimated,
        "poll_url": answer.poll_url,
        "model_id": answer.model.model_id if isinstance(answer, StartResponse) and answer.model else None,
        "request_id": outcome.request_id,
        "next": None if finished else following.after_start(answer.run_id, technique_id, estimated),
        **common,
    }
    if result_type is TechniqueStartResult and isinstance(answer, RunState):
        fields.update(
            status=status, outputs=answer.outputs, error_code=answer.error_code, error_message=answer.error_message
        )
    result = result_type(**fields)
    if charged is not None:
        cost = f"quoted {charged:g} USD (FLORA's quote; the final charge can differ)"
    elif quote.usd is not None:
        cost = f"FLORA gave no quote; known before sending: {quote.describe()}"
    else:
        cost = "no quote given"
    text = f"Started {kind} run {answer.run_id}" + (f" ({one_line(status, 60)})" if status else "")
    text += f": {cost}"
    if estimated is not None:
        text += f", about {estimated:g} s"
    text += f". Idempotency key: {outcome.idempotency_key}."
    lines = [text, spend_line]
    if note:
        lines.append(note)
    if finished and isinstance(answer, RunState) and answer.status == "failed":
        # Failed at once (the nested route answers with the run's state): FLORA's reason, what
        # it charged, and whether trying again makes sense, so the agent does not pay again blindly.
        reason = f"{answer.error_code or 'unknown'}: {answer.error_message or 'no message given'}"
        lines.append(f"It already failed. FLORA error {reason}.")
        lines.append(_failed_charge(charged))
        lines.append(f"Next step: {following.failed_run_advice(answer.error_code)}.")
    elif finished and isinstance(answer, RunState):
        lines.append(f"It already {answer.status}.")
        lines.extend(output_lines(answer.outputs))
    else:
        lines.append(describe_next(result.next))
    extra = output_blocks(answer.outputs) if isinstance(answer, RunState) else []
    return tool_result(result, "\n".join(lines), extra)


START_GENERATION = (
    "Start one image, video, audio or text generation in a FLORA project. Costs money.\n\n"
    "Returns at once (run_id, cost quote, estimated_seconds); then call wait_for_run for the outputs. "
    "A retry with the same arguments returns the run already started, never charged twice."
)

START_TECHNIQUE = (
    "Start a technique run (a multi-step FLORA workflow) with its inputs (get_technique). Costs money.\n\n"
    "Returns run_id and technique_id at once; then call wait_for_run with both. With workspace_id the run is "
    "billed to that workspace. A retry with the same arguments returns the run already started, never charged "
    "twice."
)

SPECS = [
    ToolSpec(
        name="start_generation_run",
        title="Start a generation (paid)",
        description=START_GENERATION,
        arguments=StartGenerationArguments,
        output=StartResult,
        annotations=PAID_START,
        body=start_generation_run,
        resolved={
            "quote": Annotated[Quote, Resolve(generation_quote)],
            "checked": Annotated[Checked, Resolve(generation_checked)],
            "confirmation": Annotated[Confirmation, Resolve(confirm_generation)],
        },
        starts_runs=True,
    ),
    ToolSpec(
        name="start_technique_run",
        title="Start a technique run (paid)",
        description=START_TECHNIQUE,
        arguments=StartTechniqueArguments,
        output=TechniqueStartResult,
        annotations=PAID_START,
        body=start_technique_run,
        resolved={
            "quote": Annotated[Quote, Resolve(technique_quote)],
            "checked": Annotated[Checked, Resolve(technique_checked)],
            "confirmation": Annotated[Confirmation, Resolve(confirm_technique)],
        },
        starts_runs=True,
    ),
]

"""start_generation_runs: 1 to 20 generations in one call, as one decision about money (paid).

The items share workspace_id, project_id, type, model and params; each has its prompt and may
override type, model and params (merged over the shared ones) and carry a name. In order:

1. every item is checked against FLORA's catalog (runs/preflight.py); one mistake refuses the
   batch, naming every item at fault, before anything is sent or anybody is asked;
2. the total quote is what the user is asked about, once, and what the cap is held to: a batch
   the cap cannot take as a whole is refused before anything is sent;
3. each item gets its own idempotency key, derived from the batch's key (the agent's, or the
   one derived from the batch's canonical arguments) and the item, so the batch sent again
   starts nothing twice: each item answers the run it already started;
4. the booking reserves every item in the store before any is sent (runs/booking.py
   start_many); an item the cap refuses then (another call spent in between) is `refused`,
   one FLORA refuses is `failed`, each with its reason; the others go on.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp_types import CallToolResult
from pydantic import BaseModel, Field

from flora_mcp.api.client import AcceptedEarlier, FloraClient, Started
from flora_mcp.api.models import (
    GenerationRunRequest,
    GenerationType,
    IdempotencyKey,
    ModelId,
    ProjectId,
    RequestModel,
    StartResponse,
    WorkspaceId,
)
from flora_mcp.runs import following
from flora_mcp.runs.booking import Booked, finite_or_none
from flora_mcp.runs.following import NextStep
from flora_mcp.runs.keys import arguments_digest, item_key
from flora_mcp.runs.plan import StartPlan
from flora_mcp.runs.preflight import Checked
from flora_mcp.runs.quotes import NOT_LOOKED_UP, Quote
from flora_mcp.runs.refusals import CatalogRefusal, Refusal
from flora_mcp.server.consent import (
    Confirmation,
    ConfirmStart,
    NotAsked,
    ask_if_costly,
    require_consent,
    shown_prompt,
)
from flora_mcp.server.context import AppState, state_of
from flora_mcp.server.errors import refusal_text
from flora_mcp.server.results import describe_next, tool_result
from flora_mcp.server.tools.registry import PAID_START, ToolSpec, parsed_arguments
from flora_mcp.server.tools.starts import REPEAT_FIELD
from flora_mcp.server.tools.waiting import RunsWaitResult

TOOL = "start_generation_runs"
UNCHECKED = Checked()
MAX_ITEMS = 20


class BatchItem(RequestModel):
    """One generation: its prompt, and overrides of the shared settings."""

    prompt: str = Field(min_length=1, max_length=20000, description="What this item generates.")
    name: str | None = Field(
        default=None, max_length=100, description="A label (e.g. 'warm light'), echoed in the answer."
    )
    type: GenerationType | None = Field(default=None, description="Instead of the shared type.")
    model: ModelId | None = Field(default=None, description="Instead of the shared model.")
    params: dict[str, Any] | None = Field(default=None, description="Merged over the shared params (this item's win).")


class StartGenerationRunsArguments(RequestModel):
    """start_generation_runs' arguments."""

    workspace_id: WorkspaceId
    project_id: ProjectId
    type: GenerationType = Field(description="Every item's, unless it sets its own.")
    model: ModelId | None = None
    params: dict[str, Any] | None = Field(default=None, description="Model params shared by every item.")
    items: list[BatchItem] = Field(min_length=1, max_length=MAX_ITEMS)
    idempotency_key: IdempotencyKey | None = Field(
        default=None,
        description="The batch's key; each item's derives from it.",
    )
    repeat: bool = REPEAT_FIELD


class BatchItemResult(BaseModel):
    """How one item of the batch went."""

    index: int = Field(description="The item's place in items, from 0.")
    name: str | None = None
    outcome: str = Field(
        description=(
            "started; repeat (this item was started before: its run, not charged again); recovered (started, its "
            "answer was lost and found); accepted_earlier (started, run id not known yet); refused (not sent: cap "
            "or key conflict); failed (FLORA did not start it)."
        )
    )
    run_id: str | None = None
    idempotency_key: str
    quote_usd: float | None = Field(default=None, description="USD quoted at start; the final charge can differ.")
    estimated_seconds: float | None = None
    model_id: str | None = None
    reason: str | None = Field(default=None, description="For refused and failed: why, and what to do.")


class BatchStartResult(BaseModel):
    """start_generation_runs' answer."""

    items: list[BatchItemResult]
    idempotency_key: str = Field(description="The batch's key: re-send the same batch with it to retry failed items.")
    started: int = Field(description="Items with a run: started, repeat, recovered or accepted_earlier.")
    refused: int
    start_failed: int = Field(description="Items FLORA did not start.")
    total_quote_usd: float | None = Field(default=None, description="The batch's quote, known before sending.")
    spent_usd: float | None = Field(default=None, description="Your USD spend in the budget window, this batch in.")
    spend_cap_usd: float | None = None
    next: NextStep | None = None
    final: RunsWaitResult | None = Field(default=None, description="Only in a finished task's result: the runs' end.")


# --- the batch as starts -----------------------------------------------------------------------
def item_requests(args: StartGenerationRunsArguments) -> list[GenerationRunRequest]:
    """Each item as the generation request it sends: shared settings, then the item's own."""
    requests = []
    for item in args.items:
        params = {**(args.params or {}), **(item.params or {})} or None
        requests.append(
            GenerationRunRequest.model_construct(
                workspace_id=args.workspace_id,
                project_id=args.project_id,
                prompt=item.prompt,
                type=item.type or args.type,
                model=item.model or args.model,
                params=params,
            )
        )
    return requests


def batch_plan(args: StartGenerationRunsArguments) -> StartPlan:
    """The batch as one start: what its key is derived from, and what the consent question says."""
    return StartPlan(
        tool=TOOL,
        kind="generation",
        arguments=args.model_dump(mode="json", exclude={"idempotency_key", "repeat"}, exclude_none=True),
        given_key=args.idempotency_key,
        repeat=args.repeat,
        describe=f"a batch of {len(args.items)} {args.type} generations"
        + (f" with {args.model}" if args.model else "")
        + f", the first of {shown_prompt(args.items[0].prompt)!r}",
        workspace_id=args.workspace_id,
        project_id=args.project_id,
    )


def item_plans(args: StartGenerationRunsArguments, batch_key: str) -> list[StartPlan]:
    plans = []
    for index, (item, request) in enumerate(zip(args.items, item_requests(args), strict=True)):
        canonical = request.model_dump(mode="json", exclude_none=True)
        label = f" ({item.name})" if item.name else ""
        plans.append(
            StartPlan(
                tool=TOOL,
                kind="generation",
                # The place is part of what an item is: two equal items of one batch are two runs.
                arguments={**canonical, "batch_index": index},
                given_key=item_key(batch_key, index, arguments_digest(TOOL, canonical)),
                repeat=False,
                describe=f"item {index + 1}{label}: a {request.type} generation of {shown_prompt(request.prompt)!r}",
                workspace_id=args.workspace_id,
                project_id=args.project_id,
                model_id=request.model,
                prompt=request.prompt,
                batch_key=batch_key,
                # A batch key derived from the arguments changes with the repeat window's time
                # bucket: its items are also found by their arguments, as a single start is.
                finds_repeats=args.idempotency_key is None and not args.repeat,
            )
        )
    return plans


async def item_quotes(ctx: Context[Any], state: AppState, requests: list[GenerationRunRequest]) -> list[Quote]:
    if state.booking.cap_usd is None and state.confirm_above_usd is None:
        return [NOT_LOOKED_UP] * len(requests)
    who = state.caller(ctx)
    client, caller = who.client, who.fingerprint
    return [await state.quotes.generation(client, caller, r.type, r.model) for r in requests]


def total_of(quotes: list[Quote]) -> Quote:
    if any(q.usd is None for q in quotes):
        unknown = next(q for q in quotes if q.usd is None)
        return Quote(None, unknown.source)
    usd = round(sum(q.usd or 0.0 for q in quotes), 6)
    return Quote(usd, f"{len(quotes)} items; the first {quotes[0].source}", estimate=any(q.estimate for q in quotes))


# --- resolvers (before the body; raw arguments, so a malformed call is left to validation) ------
Parsed = Annotated[StartGenerationRunsArguments | None, Resolve(parsed_arguments(StartGenerationRunsArguments))]


async def batch_quote(ctx: Context[Any], args: Parsed) -> Quote:
    if args is None:
        return NOT_LOOKED_UP
    state = state_of(ctx)
    return total_of(await item_quotes(ctx, state, item_requests(args)))


async def batch_checked(ctx: Context[Any], args: Parsed) -> Checked:
    if args is None:
        return Checked()
    state = state_of(ctx)
    who = state.caller(ctx)
    problems: list[str] = []
    notes: list[str] = []
    for index, request in enumerate(item_requests(args)):
        try:
            checked = await state.checks.generation(
                who, generation_type=request.type, model=request.model, params=request.params, tool=TOOL
            )
        except CatalogRefusal as refusal:
            problems.append(f"Item {index}: {refusal}")
            continue
        if checked.note and checked.note not in notes:
            notes.append(checked.note)
    if problems:
        raise CatalogRefusal(
            f"Refused before sending: {len(problems)} of {len(args.items)} items are mistakes. Nothing was sent to "
            "FLORA and nothing was charged; fix these items and call start_generation_runs again with the whole "
            "batch.\n\n" + "\n\n".join(problems)
        )
    return Checked(note=" ".join(notes) or None)


async def confirm_batch(
    ctx: Context[Any],
    args: Parsed,
    quote: Annotated[Quote, Resolve(batch_quote)] = NOT_LOOKED_UP,
    checked: Annotated[Checked, Resolve(batch_checked)] = UNCHECKED,  # mistakes refused before asking
) -> Elicit[ConfirmStart] | NotAsked:
    if args is None:
        return NotAsked("the arguments are left to validation")
    state = state_of(ctx)
    plan = batch_plan(args)
    batch_key = state.booking.key_for(state.caller(ctx).fingerprint, plan)
    return await ask_if_costly(ctx, lambda: plan, quote, batch=item_plans(args, batch_key))


# --- the body ----------------------------------------------------------------------------------
async def start_generation_runs(
    ctx: Context[Any], args: StartGenerationRunsArguments, *, quote: Quote, checked: Checked, confirmation: Confirmation
) -> CallToolResult:
    require_consent(confirmation, TOOL, quote)
    state = state_of(ctx)
    booking = state.booking
    who = state.caller(ctx)
    caller = who.fingerprint
    batch_key = booking.key_for(caller, batch_plan(args))
    plans = item_plans(args, batch_key)
    requests = item_requests(args)
    quotes = await item_quotes(ctx, state, requests)

    def sender(request: GenerationRunRequest):  # type: ignore[no-untyped-def]
        async def send(flora: FloraClient, key: str) -> Started[StartResponse] | AcceptedEarlier:
            return await flora.start_generation_run(request, idempotency_key=key)

        return send

    starts = [(plan, q, sender(r)) for plan, q, r in zip(plans, quotes, requests, strict=True)]
    outcomes = await booking.start_many(who, starts)
    rows = [
        _row(state, index, args, plan, outcome)
        for index, (plan, outcome) in enumerate(zip(plans, outcomes, strict=True))
    ]
    spend = await booking.readable_summary(caller)
    run_refs = [{"run_id": row.run_id} for row in rows if row.run_id]
    next_step = NextStep(tool="wait_for_runs", arguments={"runs": run_refs}, after_seconds=0) if run_refs else None
    result = BatchStartResult(
        items=rows,
        idempotency_key=batch_key,
        started=sum(row.outcome in ("started", "repeat", "recovered", "accepted_earlier") for row in rows),
        refused=sum(row.outcome == "refused" for row in rows),
        start_failed=sum(row.outcome == "failed" for row in rows),
        total_quote_usd=quote.usd,
        spent_usd=spend.spent_usd if spend else None,
        spend_cap_usd=booking.cap_usd,
        next=next_step,
    )
    return tool_result(result, _text(result, quote, checked, await booking.spend_line(caller)))


def _row(
    state: AppState, index: int, args: StartGenerationRunsArguments, plan: StartPlan, outcome: Booked | Refusal
) -> BatchItemResult:
    name = args.items[index].name
    key = plan.given_key or ""
    if isinstance(outcome, Refusal):
        outcome_name = "refused" if outcome.before_sending else "failed"
        return BatchItemResult(
            index=index, name=name, outcome=outcome_name, idempotency_key=key, reason=refusal_text(outcome)
        )
    row = BatchItemResult(
        index=index, name=name, outcome=outcome.outcome, run_id=outcome.run_id, idempotency_key=outcome.key
    )
    answer = outcome.answer.response if outcome.answer else None
    if isinstance(answer, StartResponse):
        row.quote_usd = finite_or_none(answer.charged_cost)
        row.estimated_seconds = finite_or_none(answer.estimated_seconds)
        row.model_id = answer.model.model_id if answer.model else None
        now = state.clock()
        # What wait_for_runs needs to not read a run before it can be done.
        state.memory.remember(
            answer.run_id,
            following.RunFacts(poll_url=answer.poll_url, estimated_seconds=row.estimated_seconds, started_at=now),
        )
    elif outcome.record is not None:
        row.quote_usd = outcome.record.charged_usd or outcome.record.quote_usd
    return row


def _text(result: BatchStartResult, quote: Quote, checked: Checked, spend_line: str) -> str:
    lines = [
        f"Batch of {len(result.items)} generations, quoted in total at {quote.describe()}: {result.started} started, "
        f"{result.refused} refused, {result.start_failed} failed."
    ]
    for row in result.items:
        label = f" ({row.name})" if row.name else ""
        line = f"{row.index}{label}: {row.outcome}"
        if row.run_id:
            line += f", run {row.run_id}"
        if row.quote_usd is not None:
            line += f", quoted {row.quote_usd:g} USD"
        if row.estimated_seconds is not None:
            line += f", about {row.estimated_seconds:g} s"
        if row.outcome == "repeat":
            line += " (started before; not charged again)"
        lines.append(line + f". Key {row.idempotency_key}.")
        if row.reason:
            lines.append("   " + row.reason.replace("\n", "\n   "))
    lines.append(spend_line)
    if checked.note:
        lines.append(checked.note)
    if result.next is not None:
        lines.append(describe_next(result.next))
    if result.refused or result.start_failed:
        # The batch's key, not an item's: item keys are derived from it, and a batch re-sent under
        # an item's key (or, past the repeat window, under none) would start every item again.
        lines.append(
            "Next step for the items without a run: call start_generation_runs again with the same items and "
            f"idempotency_key={result.idempotency_key}. It starts only the items that have no run yet; "
            "every other item answers as a repeat."
        )
    return "\n".join(lines)


DESCRIPTION = (
    f"Start 1 to {MAX_ITEMS} generations (e.g. variations of an idea) in one call, with shared settings. "
    "Costs money.\n\n"
    "All items are checked before anything is sent; the total quote is asked about and held to the spend cap "
    "once. Returns each item's outcome and run_id; then call wait_for_runs as `next` says. The same batch sent "
    "again starts nothing twice."
)

SPECS = [
    ToolSpec(
        name=TOOL,
        title="Start several generations (paid)",
        description=DESCRIPTION,
        arguments=StartGenerationRunsArguments,
        output=BatchStartResult,
        annotations=PAID_START,
        body=start_generation_runs,
        resolved={
            "quote": Annotated[Quote, Resolve(batch_quote)],
            "checked": Annotated[Checked, Resolve(batch_checked)],
            "confirmation": Annotated[Confirmation, Resolve(confirm_batch)],
        },
        starts_runs=True,
    ),
]

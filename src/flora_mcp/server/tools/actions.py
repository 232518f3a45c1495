"""The action tools: list_actions (read-only) and start_action_run (a paid start).

Actions are FLORA's deterministic media transforms (resize, crop, extract a frame, stitch
videos). A start goes through the same booking as every paid start (runs/booking.py: key,
journal, spend cap, repeat detection, recovery) and the same guards, as resolvers on the
call's arguments parsed once: the quote (the action's charged_cost, in USD; an action listed
at 0 is free), the catalog check of its inputs and params (runs/preflight.py), then the
confirmation question. Its run is read with GET /runs/{run_id}, so wait_for_run and get_run
follow it like a generation's.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp_types import CallToolResult
from pydantic import Field

from flora_mcp.api.client import AcceptedEarlier, FloraClient, Started
from flora_mcp.api.models import Action, ActionRunRequest, IdempotencyKey, StartResponse
from flora_mcp.runs.input_hosts import action_media_urls, refuse_unloadable, unloadable_inputs
from flora_mcp.runs.plan import StartPlan
from flora_mcp.runs.preflight import Checked
from flora_mcp.runs.quotes import NOT_LOOKED_UP, Quote
from flora_mcp.server.consent import Confirmation, ConfirmStart, NotAsked, ask_if_costly, quote_action, require_consent
from flora_mcp.server.context import state_of
from flora_mcp.server.errors import flora_errors
from flora_mcp.server.results import Result, StartResult, skipped_lines, tool_result
from flora_mcp.server.tools.registry import PAID_START, READ_ONLY, NoArguments, ToolSpec, parsed_arguments
from flora_mcp.server.tools.starts import REPEAT_FIELD, _answer  # one wording for every start's answer
from flora_mcp.untrusted import quoted


class ActionsResult(Result):
    actions: list[Action]
    skipped: list[str] | None = Field(default=None, description="Items FLORA sent that could not be read.")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _action_lines(action: Action) -> list[str]:
    cost = f"{action.charged_cost:g} USD per run" if action.charged_cost is not None else "cost not listed"
    lines = [f"- {action.action_id}: {action.name or '(no name)'}, {cost}"]
    if action.description:  # FLORA's words, quoted: never at the start of a line, where they would read as ours
        lines.append(f"    about: {quoted(action.description)}")
    for item in action.inputs or []:
        need = "optional" if item.optional else "required"
        if isinstance(item.multiple, dict):
            need += f", {item.multiple.get('min', 1)}..{item.multiple.get('max', 'any')} values"
        elif item.multiple:
            need += ", several values allowed"
        lines.append(f"    input {item.name} ({item.type or '?'}, {need})")
    for param in action.params or []:
        detail = param.type or "?"
        if param.available_values:
            detail = "one of " + " | ".join(_show(v) for v in param.available_values)
        elif param.min_number_value is not None and param.max_number_value is not None:
            detail = f"{_show(param.min_number_value)}..{_show(param.max_number_value)}"
        default = f", default {_show(param.default_value)}" if param.default_value is not None else ""
        lines.append(f"    param {param.key}: {detail}{default}")
    if action.outputs:
        lines.append("    outputs: " + ", ".join(f"{o.name} ({o.type or '?'})" for o in action.outputs))
    return lines


async def list_actions(ctx: Context[Any], args: NoArguments) -> CallToolResult:
    state = state_of(ctx)
    async with flora_errors("list_actions"):
        answer = await state.caller(ctx).client.list_actions()
    state.catalog.remember_actions(state.caller(ctx).fingerprint, answer.actions)  # starts check against it
    lines = [f"{len(answer.actions)} action(s):"]
    for action in answer.actions:
        lines.extend(_action_lines(action))
    skipped = skipped_lines(lines, answer.skipped)
    lines.append(
        "Start one with start_action_run(action_id, workspace_id, project_id, inputs=[{type, name, url or text}], "
        "params={key: value}). Inputs and params are checked against this list before sending."
    )
    return tool_result(ActionsResult(actions=answer.actions, skipped=skipped), "\n".join(lines))


class StartActionArguments(ActionRunRequest):
    """start_action_run's arguments: the request body, the key (sent as a header) and the repeat flag."""

    idempotency_key: IdempotencyKey | None = None
    repeat: bool = REPEAT_FIELD


def action_plan(args: StartActionArguments) -> StartPlan:
    texts = [item.text for item in args.inputs if item.text is not None]
    return StartPlan(
        tool="start_action_run",
        kind="action",
        arguments=args.model_dump(mode="json", exclude={"idempotency_key", "repeat"}, exclude_none=True),
        given_key=args.idempotency_key,
        repeat=args.repeat,
        describe=f"a run of action {args.action_id}",
        workspace_id=args.workspace_id,
        project_id=args.project_id,
        action_id=args.action_id,
        prompt=" / ".join(texts) or None,
    )


# --- guards (resolvers: they run before the body, on the call's arguments parsed once) ---------
ParsedAction = Annotated[StartActionArguments | None, Resolve(parsed_arguments(StartActionArguments))]


async def action_quote(ctx: Context[Any], args: ParsedAction) -> Quote:
    if args is None:
        return NOT_LOOKED_UP
    return await quote_action(ctx, args.action_id)


async def action_checked(ctx: Context[Any], args: ParsedAction) -> Checked:
    """The catalog check, then FLORA's input hosts, before anyone is asked: a user never approves a mistake."""
    if args is None:
        return Checked()
    state = state_of(ctx)
    checked = await state.checks.action(
        state.caller(ctx), action_id=args.action_id, inputs=args.inputs, params=args.params
    )
    if state.input_origins is not None:
        refuse_unloadable(
            "start_action_run",
            f"action {args.action_id}",
            unloadable_inputs(action_media_urls(args.inputs), state.input_origins),
            workspace_id=args.workspace_id,
        )
    return checked


async def confirm_action(
    ctx: Context[Any],
    args: ParsedAction,
    quote: Annotated[Quote, Resolve(action_quote)],
    checked: Annotated[Checked, Resolve(action_checked)],  # mistakes refused before asking
) -> Elicit[ConfirmStart] | NotAsked:
    if args is None:
        return NotAsked("the arguments are refused by the tool's own check")
    return await ask_if_costly(ctx, lambda: action_plan(args), quote)


async def start_action_run(
    ctx: Context[Any], args: StartActionArguments, *, quote: Quote, checked: Checked, confirmation: Confirmation
) -> CallToolResult:
    plan = action_plan(args)
    require_consent(confirmation, plan.tool, quote)
    state = state_of(ctx)
    request = ActionRunRequest.model_construct(
        action_id=args.action_id,
        workspace_id=args.workspace_id,
        project_id=args.project_id,
        inputs=args.inputs,
        params=args.params,
    )

    async def send(client: FloraClient, key: str) -> Started[StartResponse] | AcceptedEarlier:
        return await client.start_action_run(request, idempotency_key=key)

    booked = await state.booking.start(state.caller(ctx), plan, quote, send)
    return await _answer(ctx, state, plan, booked, quote, kind=f"{args.action_id} action", note=checked.note)


START_ACTION = (
    "Start an action, a media transform (resize, crop, extract a frame; see list_actions). Input media must be "
    "FLORA URLs (run outputs, upload_asset). Most are free; some cost money.\n\n"
    "Returns run_id; then call wait_for_run. A retry with the same arguments is never charged twice."
)

SPECS = [
    ToolSpec(
        name="list_actions",
        title="List actions",
        description=(
            "List FLORA's actions (media transforms: resize, crop, extract frames...): ids, inputs, params, USD cost."
        ),
        arguments=NoArguments,
        output=ActionsResult,
        annotations=READ_ONLY,
        body=list_actions,
    ),
    ToolSpec(
        name="start_action_run",
        title="Start an action (media transform)",
        description=START_ACTION,
        arguments=StartActionArguments,
        output=StartResult,
        annotations=PAID_START,
        body=start_action_run,
        resolved={
            "quote": Annotated[Quote, Resolve(action_quote)],
            "checked": Annotated[Checked, Resolve(action_checked)],
            "confirmation": Annotated[Confirmation, Resolve(confirm_action)],
        },
        starts_runs=True,
    ),
]

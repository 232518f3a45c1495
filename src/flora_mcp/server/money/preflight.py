"""The catalog check in front of every start: refuse a billable mistake before anything is sent.

One call per start tool, before the user is asked and before the spend is reserved:

    checked = await check_generation_start(state, client, caller, generation_type=..., model=..., params=...)
    checked = await check_technique_start(state, client, caller, technique_id=..., inputs=[...])

Each raises ToolError with the refusal text (nothing sent), or returns a `Checked` whose `note`
the start's answer shows when the catalog could not be read and the start went unchecked.
Under FLORA_STRICT_PARAMS=1 an unreadable catalog refuses the start instead.

The same checks are wired as mcp `Resolve` resolvers (`generation_checked`, `technique_checked`),
so they run before the confirmation question: a user is never asked to pay for a mistake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from flora_mcp.api.client import FloraClient
from flora_mcp.api.errors import FloraAPIError, FloraError, NotFoundError
from flora_mcp.api.models import GenerationRunRequest, StartTechniqueRun, TechniqueInput
from flora_mcp.server.context import AppState, state_of
from flora_mcp.server.errors import flora_error_text
from flora_mcp.server.money.param_checks import (
    Problem,
    check_generation_params,
    check_inputs_unchecked,
    check_param_names,
    check_technique_inputs,
    refusal_text,
)


@dataclass(frozen=True)
class Checked:
    """A start that passed the catalog check; `note` says what could not be checked, if anything."""

    note: str | None = None


def _why(exc: Exception) -> str:
    if isinstance(exc, FloraAPIError):
        return f"{exc.code}, HTTP {exc.status}"
    return type(exc).__name__


def _unchecked(state: AppState, tool: str, what: str, route: str, exc: Exception) -> Checked:
    if state.strict_params:
        raise ToolError(
            f"Refused before sending: {what} could not be checked against FLORA's catalog ({route} failed: "
            f"{_why(exc)}), and FLORA_STRICT_PARAMS=1 refuses unchecked starts. Nothing was sent to FLORA.\n"
            "Start outcome: not started. Nothing was charged.\n"
            f"Next step: call {tool} again in a little while; if it keeps failing, tell the user."
        )
    return Checked(
        note=(
            f"Note: {what} could not be checked against FLORA's catalog ({route} failed: {_why(exc)}); it was sent "
            "as given, and FLORA runs (and bills) a value it does not know at the model's default."
        )
    )


async def check_generation_start(
    state: AppState,
    client: FloraClient,
    caller: str,
    *,
    generation_type: str,
    model: str | None,
    params: Mapping[str, Any] | None,
    tool: str = "start_generation_run",
) -> Checked:
    """Check a generation's model and params against GET /models; ToolError when it is a mistake.

    A start with neither model nor params has only the default model's required params to
    check: it is checked when the listing is cached already, and costs no read otherwise.
    """
    if model is None and not params:
        cached = state.catalog.cached_models(caller, generation_type)
        default = state.catalog.default_model(caller, generation_type, cached) if cached else None
        missing = check_generation_params(params, default) if default else []
        if missing:
            raise ToolError(refusal_text(tool, f"this {generation_type} generation", missing, fix_with="list_models"))
        return Checked()
    try:
        models = await state.catalog.models(client, caller, generation_type)
        chosen = await state.catalog.model(client, caller, generation_type, model) if model else None
    except (FloraError, ValueError) as exc:
        return _unchecked(state, tool, "params" if params else "the model", f"GET /models?type={generation_type}", exc)
    problems: list[Problem]
    if model is not None and chosen is None:
        ids = ", ".join(m.model_id for m in models[:20]) or "none"
        problems = [
            Problem("model", f"FLORA lists no {generation_type} model {model} (its {generation_type} models: {ids})")
        ]
        chosen_for = "list_models(type=...)"
    else:
        target = chosen or state.catalog.default_model(caller, generation_type, models)
        if target is not None:
            problems = check_generation_params(params, target)
        else:
            problems = check_param_names(params, models, generation_type)
        chosen_for = f"list_models(type={generation_type})"
    if problems:
        subject = f"this {generation_type} generation" + (f" with model {model}" if model else "")
        raise ToolError(refusal_text(tool, subject, problems, fix_with=chosen_for))
    return Checked()


async def check_technique_start(
    state: AppState,
    client: FloraClient,
    caller: str,
    *,
    technique_id: str,
    inputs: Sequence[TechniqueInput],
    tool: str = "start_technique_run",
) -> Checked:
    """Check a technique's inputs against GET /techniques/{id}; ToolError when they are a mistake."""
    try:
        technique = await state.catalog.technique(client, caller, technique_id)
    except NotFoundError as exc:
        lines = flora_error_text(exc, "get_technique").split("\n")
        outcome = "Start outcome: not started. The technique was not found, so nothing was sent; nothing was charged."
        raise ToolError("\n".join([*lines[:-1], outcome, lines[-1]])) from exc
    except (FloraError, ValueError) as exc:
        problems = check_inputs_unchecked(inputs)
        if problems:
            raise ToolError(
                refusal_text(tool, f"technique {technique_id}'s inputs", problems, fix_with="get_technique")
            ) from exc
        return _unchecked(state, tool, "the technique inputs", "GET /techniques/{technique_id}", exc)
    problems = check_technique_inputs(inputs, technique)
    if problems:
        raise ToolError(
            refusal_text(
                tool,
                f"technique {technique_id}'s inputs",
                problems,
                fix_with=f"get_technique(technique_id={technique_id})",
            )
        )
    return Checked()


# --- as resolvers of the start tools -------------------------------------------------------
# Resolvers run before the tool validates its arguments: arguments that fail the tool's own model
# are left to that validation (which names the field), and nothing is read for them.
async def generation_checked(
    ctx: Context[Any],
    workspace_id: Any = None,
    project_id: Any = None,
    prompt: Any = None,
    type: Any = None,
    model: Any = None,
    params: Any = None,
) -> Checked:
    fields = {"workspace_id": workspace_id, "project_id": project_id, "prompt": prompt, "type": type}
    fields |= {"model": model, "params": params}
    try:
        request = GenerationRunRequest.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError:
        return Checked()
    state = state_of(ctx)
    return await check_generation_start(
        state,
        state.client_for(ctx),
        state.caller(ctx),
        generation_type=request.type,
        model=request.model,
        params=request.params,
    )


async def technique_checked(
    ctx: Context[Any],
    technique_id: Any = None,
    inputs: Any = None,
    workspace_id: Any = None,
    callback_url: Any = None,
    idempotency_key: Any = None,
) -> Checked:
    fields = {"technique_id": technique_id, "inputs": inputs, "workspace_id": workspace_id}
    fields |= {"callback_url": callback_url, "idempotency_key": idempotency_key}
    try:
        request = StartTechniqueRun.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError:
        return Checked()
    state = state_of(ctx)
    return await check_technique_start(
        state, state.client_for(ctx), state.caller(ctx), technique_id=request.technique_id, inputs=request.inputs
    )

"""The catalog check in front of every start: refuse a billable mistake before anything is sent.

One call per start tool, before the user is asked and before the spend is reserved:

    checked = await checks.generation(caller, generation_type=..., model=..., params=...)
    checked = await checks.technique(caller, technique_id=..., inputs=[...])

Each raises a `CatalogRefusal` (or `TechniqueNotFound`) with the refusal text (nothing sent), or
returns a `Checked` whose `note` the start's answer shows when the catalog could not be read and
the start went unchecked. Under FLORA_STRICT_PARAMS=1 an unreadable catalog refuses the start.

The start tools run them before the confirmation question: a user is never asked to pay for a mistake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flora_mcp.api.errors import FloraAPIError, FloraError, NotFoundError
from flora_mcp.api.models import ActionInput, TechniqueInput
from flora_mcp.runs.caller import Caller
from flora_mcp.runs.catalog import Catalog
from flora_mcp.runs.param_checks import (
    Problem,
    check_action_inputs,
    check_action_params,
    check_generation_params,
    check_inputs_unchecked,
    check_param_names,
    check_technique_inputs,
    refusal_text,
)
from flora_mcp.runs.refusals import CatalogRefusal, TechniqueNotFound


@dataclass(frozen=True)
class Checked:
    """A start that passed the catalog check; `note` says what could not be checked, if anything."""

    note: str | None = None


def _why(exc: Exception) -> str:
    if isinstance(exc, FloraAPIError):
        return f"{exc.code}, HTTP {exc.status}"
    return type(exc).__name__


@dataclass(frozen=True)
class CatalogChecks:
    """The catalog checks of one server: its catalog cache and whether unchecked starts are refused."""

    catalog: Catalog
    strict: bool = False  # FLORA_STRICT_PARAMS

    def _unchecked(self, tool: str, what: str, route: str, exc: Exception) -> Checked:
        if self.strict:
            raise CatalogRefusal(
                f"Refused before sending: {what} could not be checked against FLORA's catalog ({route} failed: "
                f"{_why(exc)}), and FLORA_STRICT_PARAMS=1 refuses unchecked starts. Nothing was sent to FLORA.\n"
                "Start outcome: not started. Nothing was charged.\n"
                f"Next step: call {tool} again in a little while; if it keeps failing, tell the user."
            )
        return Checked(
            note=(
                f"Note: {what} could not be checked against FLORA's catalog ({route} failed: {_why(exc)}); it was "
                "sent as given, and FLORA runs (and bills) a value it does not know at the model's default."
            )
        )

    async def generation(
        self,
        who: Caller,
        *,
        generation_type: str,
        model: str | None,
        params: Mapping[str, Any] | None,
        tool: str = "start_generation_run",
    ) -> Checked:
        """Check a generation's model and params against GET /models; CatalogRefusal when it is a mistake.

        A start with neither model nor params has only the default model's required params to
        check: it is checked when the listing is cached already, and costs no read otherwise.
        """
        catalog, caller = self.catalog, who.fingerprint
        if model is None and not params:
            cached = catalog.cached_models(caller, generation_type)
            default = catalog.default_model(caller, generation_type, cached) if cached else None
            missing = check_generation_params(params, default) if default else []
            if missing:
                subject = f"this {generation_type} generation"
                raise CatalogRefusal(refusal_text(tool, subject, missing, fix_with="list_models"))
            return Checked()
        try:
            models = await catalog.models(who.client, caller, generation_type)
            chosen = await catalog.model(who.client, caller, generation_type, model) if model else None
        except (FloraError, ValueError) as exc:
            what = "params" if params else "the model"
            return self._unchecked(tool, what, f"GET /models?type={generation_type}", exc)
        problems: list[Problem]
        if model is not None and chosen is None:
            ids = ", ".join(m.model_id for m in models[:20]) or "none"
            problems = [
                Problem(
                    "model", f"FLORA lists no {generation_type} model {model} (its {generation_type} models: {ids})"
                )
            ]
            chosen_for = "list_models(type=...)"
        else:
            target = chosen or catalog.default_model(caller, generation_type, models)
            if target is not None:
                problems = check_generation_params(params, target, models)
            else:
                problems = check_param_names(params, models, generation_type)
            chosen_for = f"list_models(type={generation_type})"
        if problems:
            subject = f"this {generation_type} generation" + (f" with model {model}" if model else "")
            raise CatalogRefusal(refusal_text(tool, subject, problems, fix_with=chosen_for))
        return Checked()

    async def technique(
        self,
        who: Caller,
        *,
        technique_id: str,
        inputs: Sequence[TechniqueInput],
        tool: str = "start_technique_run",
    ) -> Checked:
        """Check a technique's inputs against GET /techniques/{id}; CatalogRefusal when they are a mistake."""
        try:
            technique = await self.catalog.technique(who.client, who.fingerprint, technique_id)
        except NotFoundError as exc:
            raise TechniqueNotFound(exc) from exc
        except (FloraError, ValueError) as exc:
            problems = check_inputs_unchecked(inputs)
            if problems:
                subject = f"technique {technique_id}'s inputs"
                raise CatalogRefusal(refusal_text(tool, subject, problems, fix_with="get_technique")) from exc
            return self._unchecked(tool, "the technique inputs", "GET /techniques/{technique_id}", exc)
        problems = check_technique_inputs(inputs, technique)
        if problems:
            raise CatalogRefusal(
                refusal_text(
                    tool,
                    f"technique {technique_id}'s inputs",
                    problems,
                    fix_with=f"get_technique(technique_id={technique_id})",
                )
            )
        return Checked()

    async def action(
        self,
        who: Caller,
        *,
        action_id: str,
        inputs: Sequence[ActionInput],
        params: Mapping[str, Any] | None,
        tool: str = "start_action_run",
    ) -> Checked:
        """Check an action's inputs and params against GET /actions; CatalogRefusal when they are a mistake."""
        try:
            action = await self.catalog.action(who.client, who.fingerprint, action_id)
        except (FloraError, ValueError) as exc:
            return self._unchecked(tool, "the action's inputs and params", "GET /actions", exc)
        if action is None:
            ids = ", ".join(a.action_id for a in (await self.catalog.actions(who.client, who.fingerprint))[:20])
            problem = Problem("action_id", f"FLORA lists no action {action_id} (its actions: {ids or 'none'})")
            raise CatalogRefusal(refusal_text(tool, f"action {action_id}", [problem], fix_with="list_actions"))
        problems = check_action_inputs(inputs, action) + check_action_params(params, action)
        if problems:
            raise CatalogRefusal(refusal_text(tool, f"action {action_id}", problems, fix_with="list_actions"))
        return Checked()

"""Check a start's params or technique inputs against what FLORA publishes, before anything is sent.

FLORA does not check parameter values: an unknown value runs at the model's default and is
charged, so a typo costs money and gives the wrong result. The catalog FLORA publishes says
what is allowed (GET /models: each model's params; GET /techniques/{id}: each input), so a
mistake can be refused for free. Pure functions, no I/O: the caller fetches the catalog
(runs/catalog.py) and turns the problems into a refusal (runs/preflight.py).

Rules for a generation's params against a model:
- a name the model does not publish is refused (the published names are listed), except the
  source media its id implies (runs/source_media.py: form and URLs checked, the wrong form refused);
- a value of the wrong type for `string`, `string[]`, `bool`, `int`, `int?`, `seed`, `float`
  or `dict` is refused; a type this server does not know is passed unchecked (FLORA adds types);
- a value outside `options`, or a number outside `min`/`max`, is refused;
- a `required` param that is missing is refused.
Rules for a technique's inputs against the technique: unknown ids, missing required inputs, a
type other than the input's, a value of the wrong kind (text, an http(s) URL; a "json" input
takes any JSON value), several values where `allow_multiple` is not set.

Every problem names the param or input, what is allowed and the default; values are not
quoted (the agent knows what it sent, and a value can hold anything).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flora_mcp.api.models import (
    Action,
    ActionInput,
    ActionIO,
    ActionParam,
    Model,
    ModelParam,
    Technique,
    TechniqueInput,
)
from flora_mcp.api.urls import link_url
from flora_mcp.runs.source_media import MEDIA_PARAMS, check_source, publishes_media, takes_param

MAX_LISTED = 12  # options or names listed in one problem


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a start, found before sending it."""

    where: str  # e.g. "params.aspect_ratio" or "inputs.subject"
    message: str  # what is wrong and what is allowed

    def __str__(self) -> str:
        return f"- {self.where}: {self.message}"


# --- generation params -------------------------------------------------------------------------
def _listed(values: Sequence[Any]) -> str:
    shown = ", ".join(_show(v) for v in values[:MAX_LISTED])
    return shown + (f" and {len(values) - MAX_LISTED} more" if len(values) > MAX_LISTED else "")


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def option_values(param: ModelParam) -> list[Any]:
    """The values a param's options allow: `{label, value}` items, or bare values."""
    values = []
    for option in param.options or []:
        values.append(option.get("value") if isinstance(option, Mapping) else option)
    return values


def _default(param: ModelParam) -> str:
    return "" if param.default is None else f"; default {_show(param.default)}"


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


# type name -> (test, what the agent should send)
_TYPES: dict[str, tuple[Any, str]] = {
    "string": (lambda v: isinstance(v, str), "a string"),
    "string[]": (lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v), "a list of strings"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (_is_int, "a whole number"),
    "int?": (lambda v: v is None or _is_int(v), "a whole number or null"),
    "seed": (lambda v: v is None or _is_int(v), "a whole number (a seed) or null"),
    "float": (_is_number, "a number"),
    "dict": (lambda v: isinstance(v, Mapping), "an object"),
}
KNOWN_PARAM_TYPES = frozenset(_TYPES)
_NUMERIC = frozenset({"int", "int?", "seed", "float"})


def _in_options(value: Any, allowed: list[Any]) -> bool:
    # 1 and 1.0 are the same JSON number; True is not 1.
    return any(
        (type(value) is type(a) and value == a) or (_is_number(value) and _is_number(a) and value == a) for a in allowed
    )


def check_param(param: ModelParam, value: Any) -> str | None:
    """What is wrong with `value` for `param`, or None when it is fine (or cannot be judged)."""
    kind = (param.type or "").strip()
    if kind not in _TYPES:
        return None  # a type FLORA added: not ours to judge
    test, expected = _TYPES[kind]
    if not test(value):
        return f"must be {expected} (type {kind}){_default(param)}"
    allowed = option_values(param)
    if allowed and value is not None:
        items = value if isinstance(value, list) else [value]
        if any(not _in_options(item, allowed) for item in items):
            return f"is not one of the allowed options {_listed(allowed)}{_default(param)}"
    if kind in _NUMERIC and _is_number(value):
        low, high = param.min, param.max
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"{_show(low) if low is not None else '-∞'}..{_show(high) if high is not None else '∞'}"
            return f"must be within {bounds}{_default(param)}"
    return None


def check_generation_params(
    params: Mapping[str, Any] | None, model: Model, models: Sequence[Model] = ()
) -> list[Problem]:
    """The problems with `params` for `model`, in a stable order (given names first).

    Source media (image_url, image_urls, video_urls) are not published; the model's id implies
    which one it takes (runs/source_media.py). `models`, the listing of the model's type, lets a
    refusal name the models that take the source the agent sent.
    """
    published = {p.name: p for p in model.params or []}
    given = dict(params or {})
    problems: list[Problem] = []
    for name, value in given.items():
        param = published.get(name)
        if param is None and name in MEDIA_PARAMS and not publishes_media(model):
            wrong = check_source(name, value, model, models)
            if wrong:
                problems.append(Problem(f"params.{name}", wrong))
            continue
        if param is None:
            names = _listed(sorted(published)) if published else "none"
            problems.append(
                Problem(f"params.{name}", f"model {model.model_id} has no such param (its params: {names})")
            )
            continue
        wrong = check_param(param, value)
        if wrong:
            problems.append(Problem(f"params.{name}", wrong))
    for name, param in published.items():
        if param.required and name not in given:
            allowed = option_values(param)
            hint = f"; allowed: {_listed(allowed)}" if allowed else f" ({param.type})" if param.type else ""
            problems.append(
                Problem(f"params.{name}", f"required by model {model.model_id} but missing{hint}{_default(param)}")
            )
    return problems


def check_param_names(params: Mapping[str, Any] | None, models: Sequence[Model], generation_type: str) -> list[Problem]:
    """Without a known model: a name no model of the type publishes (or takes as its source) cannot be right."""
    published = {p.name for m in models for p in m.params or []}
    published |= {name for name in MEDIA_PARAMS if any(takes_param(m, name) for m in models)}
    if not models:
        return []
    return [
        Problem(
            f"params.{name}",
            f"no {generation_type} model has such a param (their params: {_listed(sorted(published)) or 'none'})",
        )
        for name in (params or {})
        if name not in published
    ]


# --- technique inputs --------------------------------------------------------------------------
_URL_TYPES = frozenset({"imageUrl", "videoUrl", "audioUrl", "documentUrl"})
# Types whose value is a string, so a list of them is several values (an allow_multiple input).
_STRING_TYPES = frozenset({"text"}) | _URL_TYPES
# "json" takes any JSON value, a list included: its value is one value whatever its shape.
KNOWN_INPUT_TYPES = _STRING_TYPES | {"json"}


def _value_count(kind: str | None, value: Any) -> int:
    """How many values `value` gives an input of type `kind` (a type FLORA added counts as JSON)."""
    return len(value) if isinstance(value, list) and kind in _STRING_TYPES else 1


def _value_problem(kind: str, value: Any) -> str | None:
    if kind == "text" and not isinstance(value, str):
        return "must be text (a string)"
    if kind in _URL_TYPES and (not isinstance(value, str) or link_url(value) is None):
        return f"must be an http(s) URL ({kind})"
    return None


def _shape_problem(kind: str, value: Any) -> str | None:
    """What is wrong with `value` for an input of type `kind`: each of a list's values is checked."""
    if kind not in _STRING_TYPES:
        return None  # json (or a type FLORA added): any JSON value
    values = value if isinstance(value, list) else [value]
    return next((w for w in (_value_problem(kind, v) for v in values) if w), None)


def check_technique_inputs(inputs: Sequence[TechniqueInput], technique: Technique) -> list[Problem]:
    """The problems with `inputs` for `technique`."""
    specs = {s.id: s for s in technique.inputs or []}
    problems: list[Problem] = []
    counts: dict[str, int] = {}
    for item in inputs:
        spec = specs.get(item.id)
        # The declared type decides: for json or a type FLORA added, a list is the value itself.
        kind = spec.type if spec is not None else item.type
        counts[item.id] = counts.get(item.id, 0) + _value_count(kind, item.value)
    for item in inputs:
        spec = specs.get(item.id)
        where = f"inputs.{item.id}"
        if spec is None:
            names = _listed(sorted(specs)) if specs else "none"
            problems.append(
                Problem(where, f"technique {technique.technique_id} has no such input (its inputs: {names})")
            )
            continue
        if spec.type not in KNOWN_INPUT_TYPES:
            continue  # a type FLORA added: neither the type given nor the value is ours to judge
        if item.type != spec.type:
            problems.append(
                Problem(where, f"has type {item.type} but the input is of type {spec.type}: give type {spec.type}")
            )
            continue
        wrong = _shape_problem(spec.type, item.value)
        if wrong:
            problems.append(Problem(where, wrong))
    for input_id, count in counts.items():
        spec = specs.get(input_id)
        if spec is not None and count > 1 and not spec.allow_multiple:
            problems.append(Problem(f"inputs.{input_id}", f"takes one value, not {count} (allow_multiple is not set)"))
    for spec in specs.values():
        if spec.optional is False and spec.id not in counts:
            kind = f" ({spec.type})" if spec.type else ""
            problems.append(
                Problem(f"inputs.{spec.id}", f"required by technique {technique.technique_id} but missing{kind}")
            )
    return problems


def check_inputs_unchecked(inputs: Sequence[TechniqueInput]) -> list[Problem]:
    """Without the technique: a value of the wrong shape for the type given, and several values for
    one input (they need allow_multiple, which is unknown)."""
    problems: list[Problem] = []
    counts: dict[str, int] = {}
    for item in inputs:
        counts[item.id] = counts.get(item.id, 0) + _value_count(item.type, item.value)
        wrong = _shape_problem(item.type, item.value)
        if wrong:
            problems.append(Problem(f"inputs.{item.id}", wrong))
    problems.extend(
        Problem(f"inputs.{input_id}", f"has {count} values, but whether it allows several could not be checked")
        for input_id, count in counts.items()
        if count > 1
    )
    return problems


def refusal_text(tool: str, subject: str, problems: Sequence[Problem], *, fix_with: str) -> str:
    """The tool-error text for problems found before sending: nothing went to FLORA."""
    lines = [
        f"Refused before sending: checking {subject} against FLORA's catalog found the problems below. Nothing "
        "was sent to FLORA and nothing was charged (FLORA would run an unknown value at the default and bill it)."
    ]
    lines.extend(str(p) for p in problems)
    lines.append("Start outcome: not started. Nothing was charged.")
    lines.append(f"Next step: fix these (see {fix_with}) and call {tool} again.")
    return "\n".join(lines)


# --- action params and inputs ------------------------------------------------------------------
# FLORA's action params are typed number, string or boolean; a type this server does not know
# is passed unchecked, as for models (FLORA adds types).
_ACTION_TYPE_CHECKS = {
    "number": (_is_number, "a number"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "boolean": (lambda v: isinstance(v, bool), "true or false"),
}


def _action_param_problem(param: ActionParam, value: Any) -> str | None:
    default = f" (default {_show(param.default_value)})" if param.default_value is not None else ""
    check = _ACTION_TYPE_CHECKS.get(param.type or "")
    if check is not None and not check[0](value):
        return f"must be {check[1]}{default}"
    if param.available_values is not None and not _in_options(value, list(param.available_values)):
        return f"must be one of {_listed(param.available_values)}{default}"
    if _is_number(value):
        low, high = param.min_number_value, param.max_number_value
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"{_show(low) if low is not None else '…'}..{_show(high) if high is not None else '…'}"
            return f"must be within {bounds}{default}"
    return None


def check_action_params(params: Mapping[str, Any] | None, action: Action) -> list[Problem]:
    """The problems with `params` for `action`: unknown keys (the known ones named), types, values."""
    specs = {p.key: p for p in action.params or []}
    problems: list[Problem] = []
    for key, value in (params or {}).items():
        spec = specs.get(key)
        if spec is None:
            known = _listed(list(specs)) if specs else "none"
            problems.append(
                Problem(f"params.{key}", f"action {action.action_id} has no such param (its params: {known})")
            )
            continue
        wrong = _action_param_problem(spec, value)
        if wrong:
            problems.append(Problem(f"params.{key}", wrong))
    return problems


def _count_bounds(spec: ActionIO) -> tuple[int, int | None]:
    """How many values an action input takes: `multiple` is true, {min?, max?}, or absent (one)."""
    if isinstance(spec.multiple, dict):
        low, high = spec.multiple.get("min"), spec.multiple.get("max")
        return (low if isinstance(low, int) else 1), (high if isinstance(high, int) else None)
    return (1, None) if spec.multiple else (1, 1)


def check_action_inputs(inputs: Sequence[ActionInput], action: Action) -> list[Problem]:
    """The problems with `inputs` for `action`: names, types, required inputs and how many values.

    An input without a name fills the first declared input of its type, as FLORA matches it.
    """
    specs = {s.name: s for s in action.inputs or []}
    names = _listed(list(specs)) if specs else "none"
    problems: list[Problem] = []
    counts: dict[str, int] = {}
    for index, item in enumerate(inputs):
        name = item.name or next((s.name for s in specs.values() if s.type == item.type), None)
        spec = specs.get(name) if name is not None else None
        where = f"inputs.{item.name or index}"
        if spec is None:
            what = "no such input" if item.name else f"no {item.type} input"
            problems.append(Problem(where, f"action {action.action_id} has {what} (its inputs: {names})"))
            continue
        if spec.type in ("image", "video", "text", "audio") and item.type != spec.type:
            problems.append(Problem(where, f"has type {item.type} but input {spec.name} is of type {spec.type}"))
            continue
        counts[spec.name] = counts.get(spec.name, 0) + 1
    for spec in specs.values():
        count = counts.get(spec.name, 0)
        low, high = _count_bounds(spec)
        kind = f" ({spec.type})" if spec.type else ""
        if count == 0:
            if not spec.optional:
                problems.append(
                    Problem(f"inputs.{spec.name}", f"required by action {action.action_id} but missing{kind}")
                )
        elif count < low:
            problems.append(Problem(f"inputs.{spec.name}", f"takes at least {low} values, not {count}"))
        elif high is not None and count > high:
            problems.append(Problem(f"inputs.{spec.name}", f"takes at most {high} value(s), not {count}"))
    return problems

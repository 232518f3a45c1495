"""Where a generation's source media go: the param a model takes, implied by its id.

FLORA's `GET /models` does not list these params. A model's id says which one it takes (FLORA's
own agent guidance, /work/shared/flora-api.md "What FLORA really does"), and the wrong form is
worse than refused: FLORA ignores it, runs the model blind and bills the run. So the rules are
data here, in one table, and runs/param_checks.py checks a start against them before sending.

What FLORA publishes wins: a model whose `params` list any media param is checked against its
published params only, never against the rule its id implies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from flora_mcp.api.models import Model
from flora_mcp.api.urls import link_url

MAX_NAMED = 8  # models named in one refusal


@dataclass(frozen=True)
class SourceRule:
    """Models whose id starts (or ends) with `pattern` take their source media as `params.<param>`."""

    pattern: str  # "i2v-" matches a prefix; "-vref" (leading dash) a suffix
    param: str
    form: Literal["one", "list"]  # one URL string, or a list of URL strings

    def matches(self, model_id: str) -> bool:
        if self.pattern.startswith("-"):
            return model_id.endswith(self.pattern)
        return model_id.startswith(self.pattern)

    @property
    def family(self) -> str:
        """How a refusal names the models of this rule: "i2v-…" or "…-vref"."""
        return f"…{self.pattern}" if self.pattern.startswith("-") else f"{self.pattern}…"

    @property
    def takes(self) -> str:
        """What the rule takes, for a refusal: "params.image_url, one URL"."""
        shape = "one URL" if self.form == "one" else "a list of URLs"
        return f"params.{self.param}, {shape}"


# The suffix comes first: a "-vref" variant takes reference images whatever its prefix says.
RULES: tuple[SourceRule, ...] = (
    SourceRule("-vref", "image_urls", "list"),
    SourceRule("i2i-", "image_url", "one"),
    SourceRule("i2v-", "image_url", "one"),
    SourceRule("i2t-", "image_urls", "list"),
    SourceRule("v2t-", "video_urls", "list"),
    # FLORA's guidance says r2v takes "several reference images (an array)" without naming the
    # param; image_urls is the name its other image arrays use.
    SourceRule("r2v-", "image_urls", "list"),
)
MEDIA_PARAMS = frozenset(rule.param for rule in RULES)


def publishes_media(model: Model) -> bool:
    """Whether FLORA lists a media param for `model`: then its published params alone count."""
    return any(p.name in MEDIA_PARAMS for p in model.params or [])


def implied_rule(model: Model) -> SourceRule | None:
    """The source rule `model` follows, or None: no rule fits its id, or FLORA publishes its media params."""
    if publishes_media(model):
        return None  # what FLORA publishes wins over what the id implies
    return next((rule for rule in RULES if rule.matches(model.model_id)), None)


def takes_param(model: Model, name: str) -> bool:
    """Whether `model` takes `params.<name>`, published or implied by its id."""
    if any(p.name == name for p in model.params or []):
        return True
    rule = implied_rule(model)
    return rule is not None and rule.param == name


def _named(models: Sequence[Model]) -> str:
    ids = [m.model_id for m in models]
    shown = ", ".join(ids[:MAX_NAMED])
    return shown + (f" and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else "")


def _value_problem(rule: SourceRule, value: Any) -> str | None:
    blind = "FLORA ignores it, runs blind and bills"
    if rule.form == "one":
        if isinstance(value, list):
            return f'takes one URL string, not a list ({blind}); send params.{rule.param}: "https://…"'
        if not isinstance(value, str) or link_url(value) is None:
            return "must be an http(s) URL"
        return None
    if isinstance(value, str):
        return f'takes a list of URLs, not a string ({blind}); send params.{rule.param}: ["https://…"]'
    if not isinstance(value, list) or not value:
        return "must be a list of one or more http(s) URLs"
    bad = [n for n, item in enumerate(value) if not isinstance(item, str) or link_url(item) is None]
    if bad:
        return f"item {bad[0]} must be an http(s) URL (every item must be)"
    return None


def check_source(name: str, value: Any, model: Model, models: Sequence[Model] = ()) -> str | None:
    """What is wrong with source media `params.<name>` for `model` (which publishes no media param), or None.

    `models` is the catalog listing of the model's type, to name the models that do take it.
    """
    rule = implied_rule(model)
    if rule is not None and rule.param == name:
        return _value_problem(rule, value)
    if rule is not None:
        return (
            f"{rule.family} models take {rule.takes}; you sent {name}, which FLORA ignores, running "
            f"{model.model_id} blind and billing it"
        )
    kind = model.type or "other"
    takers = [m for m in models if m.model_id != model.model_id and takes_param(m, name)]
    if takers:
        where = f"{kind} models that take params.{name}: {_named(takers)}"
    else:
        with_source = [m for m in models if any(takes_param(m, p) for p in sorted(MEDIA_PARAMS))]
        where = (
            f"{kind} models that take a source: {_named(with_source)}"
            if with_source
            else f"no {kind} model listed takes a source"
        )
    return f"model {model.model_id} takes no source media (FLORA ignores it and bills); {where}"

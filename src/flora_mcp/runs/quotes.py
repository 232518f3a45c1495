"""What a start will cost, known before it is sent: technique run_cost and model estimated_credits.

Looked up through the per-caller catalog cache (runs/catalog.py: GET /techniques/{id},
GET /models?type=...), the same cache the param checks use, so the spend cap and the
confirmation threshold cost no read of their own. A failed lookup makes the quote unknown; it
never blocks a start by itself.

Units, stated where an agent and a user can read them (docs/ROBUSTNESS.md):
- a technique's run_cost is USD, as FLORA documents it; so is an action's charged_cost, and an
  action listed at 0 is taken as free (FLORA lists many transforms at 0 USD);
- a model's estimated_credits are FLORA credits, not USD. They become a USD estimate only
  through FLORA_USD_PER_CREDIT (default 0.001: FLORA's guidance measured 1 credit as about
  0.001 USD), and every such figure is labelled an estimate;
- a generation without `model` runs FLORA's default model for the type. When the catalog
  knows which that is, its estimate is used; otherwise the most expensive model of the type
  (an upper bound, marked as one);
- params (e.g. a longer video) can change the real cost; the quote is the model's estimate;
- `estimated_credits: 0` is no price: FLORA's own guidance found gateway models (300 s video
  runs) listing 0 credits, while a few models are really free and the catalog cannot tell them
  apart. A 0 is an unknown quote, labelled so, for the cap and the confirmation alike: under a
  cap such a start goes out one at a time, until FLORA reports what it charged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flora_mcp.api.client import FloraClient
from flora_mcp.api.errors import FloraError
from flora_mcp.runs.catalog import Catalog

logger = logging.getLogger("flora_mcp.runs")

DEFAULT_USD_PER_CREDIT = 0.001
ZERO_CREDITS = "which FLORA also lists for paid models: not known to be free"


@dataclass(frozen=True)
class Quote:
    """A start's known cost in USD (None: unknown) and where the figure comes from."""

    usd: float | None
    source: str
    upper_bound: bool = False
    estimate: bool = False  # converted from credits at a configured rate

    def describe(self) -> str:
        if self.usd is None:
            return f"cost unknown ({self.source})"
        prefix = "up to " if self.upper_bound else "about " if self.estimate else ""
        label = ", an estimate" if self.estimate else ""
        return f"{prefix}{self.usd:g} USD ({self.source}{label})"


NOT_LOOKED_UP = Quote(None, "not looked up: no spend cap or confirmation threshold is set")


def credits_to_usd(credits: float, usd_per_credit: float) -> float:
    """A credit count as USD at the configured rate, rounded to 6 decimals."""
    return round(credits * usd_per_credit, 6)


class QuoteBook:
    """Quotes from the shared catalog cache, in USD."""

    def __init__(self, catalog: Catalog | None = None, *, usd_per_credit: float = DEFAULT_USD_PER_CREDIT) -> None:
        self.catalog = catalog or Catalog()
        self.usd_per_credit = usd_per_credit

    async def technique(self, client: FloraClient, caller: str, technique_id: str) -> Quote:
        try:
            technique = await self.catalog.technique(client, caller, technique_id)
        except (FloraError, ValueError) as exc:
            logger.warning("could not look up the run cost of technique %s: %s", technique_id, type(exc).__name__)
            return Quote(None, f"could not look up technique {technique_id}")
        if technique.run_cost is None:
            return Quote(None, f"technique {technique_id} lists no run_cost")
        return Quote(technique.run_cost, f"technique {technique_id} run_cost")

    async def action(self, client: FloraClient, caller: str, action_id: str) -> Quote:
        """An action's charged_cost, in USD as FLORA documents it. Unlike a model's 0 credits, an
        action's 0 is a price: FLORA lists many actions (resize, crop) as free, in USD."""
        try:
            action = await self.catalog.action(client, caller, action_id)
        except (FloraError, ValueError) as exc:
            logger.warning("could not look up the cost of action %s: %s", action_id, type(exc).__name__)
            return Quote(None, f"could not look up action {action_id}")
        if action is None or action.charged_cost is None:
            return Quote(None, f"action {action_id} lists no charged_cost")
        return Quote(action.charged_cost, f"action {action_id} charged_cost")

    async def generation(self, client: FloraClient, caller: str, generation_type: str, model_id: str | None) -> Quote:
        try:
            models = await self.catalog.models(client, caller, generation_type)
            model = await self.catalog.model(client, caller, generation_type, model_id) if model_id else None
        except (FloraError, ValueError) as exc:
            logger.warning("could not look up %s model costs: %s", generation_type, type(exc).__name__)
            return Quote(None, f"could not look up {generation_type} models")
        rate = f"at {self.usd_per_credit:g} USD per credit (FLORA_USD_PER_CREDIT)"
        if model_id is not None:
            if model is None or model.estimated_credits is None:
                return Quote(None, f"model {model_id} lists no estimated_credits")
            if not model.estimated_credits:
                return Quote(None, f"model {model_id} lists 0 credits, {ZERO_CREDITS}")
            usd = credits_to_usd(model.estimated_credits, self.usd_per_credit)
            return Quote(usd, f"model {model_id}: {model.estimated_credits:g} credits {rate}", estimate=True)
        default = self.catalog.default_model(caller, generation_type, models)
        if default is not None and default.estimated_credits is not None:
            if not default.estimated_credits:
                return Quote(None, f"default model {default.model_id} lists 0 credits, {ZERO_CREDITS}")
            usd = credits_to_usd(default.estimated_credits, self.usd_per_credit)
            source = f"default model {default.model_id}: {default.estimated_credits:g} credits {rate}"
            return Quote(usd, source, estimate=True)
        known = [m.estimated_credits for m in models if m.estimated_credits is not None]
        if not known:
            return Quote(None, f"no {generation_type} model lists estimated_credits")
        if 0 in known:
            # The dearest model bounds the cost only if every price is real; a 0 may not be.
            return Quote(None, f"no model given, and a {generation_type} model lists 0 credits, {ZERO_CREDITS}")
        credits = max(known)
        return Quote(
            credits_to_usd(credits, self.usd_per_credit),
            f"no model given: the most expensive {generation_type} model, {credits:g} credits {rate}",
            upper_bound=len(set(known)) > 1,
            estimate=True,
        )

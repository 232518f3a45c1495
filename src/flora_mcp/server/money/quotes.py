"""What a start will cost, known before it is sent: technique run_cost and model estimated_credits.

Looked up with the caller's client (GET /techniques/{id}, GET /models?type=...) and cached for
the life of the process, so the spend cap and the confirmation threshold cost one read per
technique or generation type, not one per start. A failed lookup is not cached and makes the
quote unknown; it never blocks a start by itself.

Assumptions, stated where an agent and a user can read them (docs/ROBUSTNESS.md):
- a model's estimated_credits is read as USD: FLORA bills charged_cost in USD and a workspace's
  credits are USD;
- a generation without `model` runs FLORA's default model for the type, which the API does not
  name, so its quote is the most expensive model of that type (an upper bound, marked as one);
- params (e.g. a longer video) can change the real cost; the quote is the model's estimate.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import TypeVar

from flora_mcp.api.client import FloraClient
from flora_mcp.api.errors import FloraError
from flora_mcp.api.models import ModelListQuery

logger = logging.getLogger("flora_mcp.server")

V = TypeVar("V")


@dataclass(frozen=True)
class Quote:
    """A start's known cost in USD (None: unknown) and where the figure comes from."""

    usd: float | None
    source: str
    upper_bound: bool = False

    def describe(self) -> str:
        if self.usd is None:
            return f"cost unknown ({self.source})"
        return f"{'up to ' if self.upper_bound else ''}{self.usd:g} USD ({self.source})"


NOT_LOOKED_UP = Quote(None, "not looked up: no spend cap or confirmation threshold is set")


class QuoteBook:
    """Per-process cache of technique run costs and model estimates."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._techniques: OrderedDict[str, float | None] = OrderedDict()
        self._models: OrderedDict[str, dict[str, float | None]] = OrderedDict()

    async def technique(self, client: FloraClient, technique_id: str) -> Quote:
        if technique_id not in self._techniques:
            try:
                technique = await client.get_technique(technique_id)
            except (FloraError, ValueError) as exc:
                logger.warning("could not look up the run cost of technique %s: %s", technique_id, type(exc).__name__)
                return Quote(None, f"could not look up technique {technique_id}")
            self._remember(self._techniques, technique_id, technique.run_cost)
        cost = self._techniques[technique_id]
        if cost is None:
            return Quote(None, f"technique {technique_id} lists no run_cost")
        return Quote(cost, f"technique {technique_id} run_cost")

    async def generation(self, client: FloraClient, generation_type: str, model_id: str | None) -> Quote:
        if generation_type not in self._models:
            try:
                listing = await client.list_models(ModelListQuery.model_validate({"type": generation_type}))
            except (FloraError, ValueError) as exc:
                logger.warning("could not look up %s model costs: %s", generation_type, type(exc).__name__)
                return Quote(None, f"could not look up {generation_type} models")
            costs = {m.model_id: m.estimated_credits for m in listing.models if m.type in (None, generation_type)}
            self._remember(self._models, generation_type, costs)
        costs = self._models[generation_type]
        if model_id is not None:
            cost = costs.get(model_id)
            if cost is None:
                return Quote(None, f"model {model_id} lists no estimated_credits")
            return Quote(cost, f"model {model_id} estimated_credits")
        known = [c for c in costs.values() if c is not None]
        if not known:
            return Quote(None, f"no {generation_type} model lists estimated_credits")
        return Quote(
            max(known),
            f"no model given: the most expensive {generation_type} model's estimated_credits",
            upper_bound=len(set(known)) > 1,
        )

    def _remember(self, table: OrderedDict[str, V], key: str, value: V) -> None:
        table[key] = value
        while len(table) > self._capacity:
            table.popitem(last=False)

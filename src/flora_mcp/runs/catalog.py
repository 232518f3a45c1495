"""FLORA's catalog as this server reads it: models per type, techniques and actions, cached per caller.

Two consumers share one cache: the param checks before a start (server/preflight.py) and the
quotes for the spend cap and the confirmation threshold (runs/quotes.py). So a start costs at
most one GET /models?type=... or GET /techniques/{id} per caller per TTL, not one per use.

Per caller, because a key sees its own workspace's catalog (techniques are workspace things;
models may be too). Short-lived (five minutes), because
FLORA adds models and params over time. A model id missing from a cached list is looked up
again at once (it may have just been added), at most once a second per type, so a typo loop
cannot hammer FLORA. A failed fetch is never cached; its error reaches the caller.

Which model runs when a start names none is not published. It is known when FLORA's start
answer said (`learn_default`), when the listing marks one (`default: true` or
`is_default: true`), or when the type has a single model.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from flora_mcp.api.client import FloraClient
from flora_mcp.api.models import Action, Model, ModelListQuery, Technique

TTL_SECONDS = 300.0
MISS_REFETCH_SECONDS = 1.0  # a missing model id refetches the list at most this often per type

V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    value: V
    at: float


class _Table(Generic[V]):
    """A bounded LRU of (caller, key) -> value with its fetch time."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[tuple[str, str], _Entry[V]] = OrderedDict()

    def get(self, key: tuple[str, str]) -> _Entry[V] | None:
        entry = self._items.get(key)
        if entry is not None:
            self._items.move_to_end(key)
        return entry

    def put(self, key: tuple[str, str], value: V, at: float) -> None:
        self._items[key] = _Entry(value, at)
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)


class Catalog:
    """Per-caller, short-TTL cache of GET /models (per type) and GET /techniques/{id}."""

    def __init__(
        self, *, ttl_seconds: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic, capacity: int = 512
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._models: _Table[list[Model]] = _Table(capacity)
        self._techniques: _Table[Technique] = _Table(capacity)
        self._defaults: _Table[str] = _Table(capacity)
        self._actions: _Table[list[Action]] = _Table(capacity)

    def _fresh(self, entry: _Entry[V] | None) -> bool:
        return entry is not None and self._clock() - entry.at < self.ttl_seconds

    async def models(self, client: FloraClient, caller: str, generation_type: str) -> list[Model]:
        """The models of `generation_type` (raises the client's FloraError or ValueError when the fetch fails)."""
        entry = self._models.get((caller, generation_type))
        if entry is not None and self._fresh(entry):
            return entry.value
        return await self._fetch_models(client, caller, generation_type)

    def remember_models(self, caller: str, generation_type: str | None, models: Sequence[Model]) -> None:
        """A listing the caller fetched anyway (list_models): cache it per type, so checks need no read."""
        if generation_type is not None:
            self._models.put(
                (caller, generation_type), [m for m in models if m.type in (None, generation_type)], self._clock()
            )
            return
        by_type: dict[str, list[Model]] = {}
        for model in models:
            if model.type:
                by_type.setdefault(model.type, []).append(model)
        for kind, listed in by_type.items():
            self._models.put((caller, kind), listed, self._clock())

    def remember_technique(self, caller: str, technique_id: str, technique: Technique) -> None:
        """A technique the caller fetched anyway (get_technique)."""
        self._techniques.put((caller, technique_id), technique, self._clock())

    def cached_models(self, caller: str, generation_type: str) -> list[Model] | None:
        """The models of that type when a fresh listing is cached, without fetching; else None."""
        entry = self._models.get((caller, generation_type))
        return entry.value if entry is not None and self._fresh(entry) else None

    async def _fetch_models(self, client: FloraClient, caller: str, generation_type: str) -> list[Model]:
        listing = await client.list_models(ModelListQuery.model_validate({"type": generation_type}))
        # FLORA filters by type; a model of another type in the answer is not for this start.
        models = [m for m in listing.models if m.type in (None, generation_type)]
        self._models.put((caller, generation_type), models, self._clock())
        return models

    async def model(self, client: FloraClient, caller: str, generation_type: str, model_id: str) -> Model | None:
        """The model `model_id` of that type, or None when FLORA does not list it (after one refetch)."""
        models = await self.models(client, caller, generation_type)
        found = _find(models, model_id)
        if found is not None:
            return found
        entry = self._models.get((caller, generation_type))
        if entry is not None and self._clock() - entry.at < MISS_REFETCH_SECONDS:
            return None
        return _find(await self._fetch_models(client, caller, generation_type), model_id)

    async def technique(self, client: FloraClient, caller: str, technique_id: str) -> Technique:
        """The technique (id or slug); raises the client's FloraError (not_found included) when it fails."""
        entry = self._techniques.get((caller, technique_id))
        if entry is not None and self._fresh(entry):
            return entry.value
        technique = await client.get_technique(technique_id)
        self._techniques.put((caller, technique_id), technique, self._clock())
        return technique

    # --- actions (GET /actions: one listing per caller, keyed under "") ---------------------
    def remember_actions(self, caller: str, actions: Sequence[Action]) -> None:
        """A listing the caller fetched anyway (list_actions): starts check against it, with no read."""
        self._actions.put((caller, ""), list(actions), self._clock())

    async def actions(self, client: FloraClient, caller: str) -> list[Action]:
        """FLORA's actions (raises the client's FloraError or ValueError when the fetch fails)."""
        entry = self._actions.get((caller, ""))
        if entry is not None and self._fresh(entry):
            return entry.value
        return await self._fetch_actions(client, caller)

    async def _fetch_actions(self, client: FloraClient, caller: str) -> list[Action]:
        actions = (await client.list_actions()).actions
        self._actions.put((caller, ""), actions, self._clock())
        return actions

    async def action(self, client: FloraClient, caller: str, action_id: str) -> Action | None:
        """The action `action_id`, or None when FLORA does not list it (after one refetch, as for models)."""
        found = next((a for a in await self.actions(client, caller) if a.action_id == action_id), None)
        entry = self._actions.get((caller, ""))
        if found is not None or (entry is not None and self._clock() - entry.at < MISS_REFETCH_SECONDS):
            return found
        return next((a for a in await self._fetch_actions(client, caller) if a.action_id == action_id), None)

    def learn_default(self, caller: str, generation_type: str, model_id: str | None) -> None:
        """FLORA's answer to a start without `model` named the model it ran: that is the type's default."""
        if model_id:
            self._defaults.put((caller, generation_type), model_id, self._clock())

    def default_model(self, caller: str, generation_type: str, models: Sequence[Model]) -> Model | None:
        """The model a start of this type without `model` runs, when that is known (see the module doc)."""
        learnt = self._defaults.get((caller, generation_type))
        if learnt is not None and self._fresh(learnt):
            found = _find(models, learnt.value)
            if found is not None:
                return found
        marked = [m for m in models if _marked_default(m)]
        if len(marked) == 1:
            return marked[0]
        return models[0] if len(models) == 1 else None


def _marked_default(model: Model) -> bool:
    extra = model.model_extra or {}
    return extra.get("default") is True or extra.get("is_default") is True


def _find(models: Sequence[Model], model_id: str) -> Model | None:
    return next((m for m in models if m.model_id == model_id), None)

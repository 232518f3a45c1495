"""Which runs belong to which caller: the `RunIndex` interface and its in-process implementation.

Resources are scoped to a caller (a fingerprint of the API key, see AppState.caller): a caller
may read and list the outputs of runs it started or read through this server, and another
caller's run is simply not found. `RunIndex` is the interface resources.py needs; `JournalRunIndex`
implements it from the state store's journal (every start of the caller, from any process on
the store) and the runs this process saw the caller read.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from flora_mcp.api.models import RunOutput

if TYPE_CHECKING:
    from flora_mcp.state import StartRecord, Store


@dataclass(frozen=True)
class KnownRun:
    """A run a caller may see, with what is known of it."""

    run_id: str
    technique_id: str | None = None
    status: str | None = None
    outputs: tuple[RunOutput, ...] = ()
    at: float = 0.0  # unix seconds it was last seen (the index stamps it)


class RunIndex(Protocol):
    """Runs per caller. `record` is told of every run a caller reads; the rest answers questions."""

    async def record(self, caller: str, run: KnownRun) -> None: ...

    async def owns(self, caller: str, run_id: str) -> bool: ...

    async def runs_of(self, caller: str, limit: int = 50) -> list[KnownRun]: ...

    async def find(self, caller: str, run_id: str) -> KnownRun | None: ...


def _from_record(record: StartRecord) -> KnownRun | None:
    if record.run_id is None:
        return None
    outputs: list[RunOutput] = []
    for item in record.outputs or []:
        try:
            outputs.append(RunOutput.model_validate(item))
        except ValueError:
            continue  # an output the journal kept but this version cannot read: left out
    return KnownRun(
        run_id=record.run_id,
        technique_id=record.technique_id,
        status=record.run_status,
        outputs=tuple(outputs),
        at=record.updated_at,
    )


@dataclass
class JournalRunIndex:
    """A RunIndex over the state store's journal (the caller's starts, from any process on the
    store, with the outputs their reads saw) and the runs this process saw the caller read."""

    store: Store
    per_caller: int = 200
    clock: Callable[[], float] = time.time
    _seen: dict[str, OrderedDict[str, KnownRun]] = field(default_factory=dict)

    async def record(self, caller: str, run: KnownRun) -> None:
        runs = self._seen.setdefault(caller, OrderedDict())
        runs.pop(run.run_id, None)
        runs[run.run_id] = dataclasses.replace(run, at=self.clock())
        while len(runs) > self.per_caller:
            runs.popitem(last=False)

    async def owns(self, caller: str, run_id: str) -> bool:
        return await self.find(caller, run_id) is not None

    async def find(self, caller: str, run_id: str) -> KnownRun | None:
        runs = self._seen.get(caller)
        seen = runs.get(run_id) if runs else None
        if seen is not None:
            return seen
        record = await self.store.find_run(caller, run_id)
        return _from_record(record) if record is not None else None

    async def runs_of(self, caller: str, limit: int = 50) -> list[KnownRun]:
        """The caller's runs, most recently seen first: those read here, then the journal's."""
        known: dict[str, KnownRun] = {}
        for run in reversed(self._seen.get(caller, {}).values()):
            known.setdefault(run.run_id, run)
        for record in await self.store.recent(caller, limit):
            found = _from_record(record)
            if found is not None:
                known.setdefault(found.run_id, found)
        return sorted(known.values(), key=lambda run: run.at, reverse=True)[:limit]

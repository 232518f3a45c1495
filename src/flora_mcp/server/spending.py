"""What this process has spent on FLORA: one ledger entry per logical start, and the spend cap.

Entries are keyed by idempotency key, so a retry with the same key (which FLORA never charges
twice) never counts twice here either. An entry's cost is FLORA's charged_cost (from the start
answer, updated when a later read of the run reports one), else the quote known before sending
(technique run_cost, model estimated_credits), else 0.

The cap rule, checked before anything is sent:

    committed = spent        runs started, or accepted earlier (their answer was lost)
              + unconfirmed  quotes of starts whose outcome is unknown (FLORA may have run them)
              + in flight    quotes of starts being sent right now
    refuse when committed >= cap, or when a known quote would take committed past the cap.

`reserve` checks and books in one synchronous step, so concurrent starts cannot all slip under
the cap together. A start whose key is already in the ledger is never refused: FLORA cannot
charge it again. The ledger is bounded: past `capacity` entries the oldest are folded into
running totals (still counted, no longer listed, and a retry of one would count it again: the
safe direction).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Literal

Outcome = Literal["started", "accepted_earlier", "outcome_unknown"]
_RANK: dict[Outcome, int] = {"outcome_unknown": 0, "accepted_earlier": 1, "started": 2}


@dataclass
class SpendEntry:
    """One logical start this process sent."""

    idempotency_key: str
    tool: str
    outcome: Outcome
    quote_usd: float | None
    owner: str  # a fingerprint of the API key the start used (never the key), for per-caller listings
    at: float  # unix seconds
    charged_usd: float | None = None
    run_id: str | None = None
    technique_id: str | None = None
    model_id: str | None = None

    @property
    def cost_usd(self) -> float:
        if self.charged_usd is not None:
            return self.charged_usd
        return self.quote_usd or 0.0

    @property
    def priced(self) -> bool:
        """False when neither FLORA's charge nor a quote is known (e.g. accepted, answer lost, no quote)."""
        return self.charged_usd is not None or self.quote_usd is not None

    @property
    def counts_as_spent(self) -> bool:
        return self.outcome != "outcome_unknown"


class SpendCapReached(Exception):
    """A start was refused before sending: it would pass the spend cap."""

    def __init__(self, *, committed: float, spent: float, cap: float, quote: float | None) -> None:
        super().__init__(f"spend cap reached: {committed:g} of {cap:g} USD committed")
        self.committed = committed
        self.spent = spent
        self.cap = cap
        self.quote = quote


@dataclass
class Reservation:
    """A start being sent: its quote counts against the cap until it is settled."""

    ledger: SpendLedger
    token: int
    key: str
    tool: str
    quote_usd: float | None
    owner: str
    settled: bool = False

    def started(
        self, run_id: str, charged_usd: float | None, *, technique_id: str | None, model_id: str | None
    ) -> None:
        self._settle("started", run_id=run_id, charged_usd=charged_usd, technique_id=technique_id, model_id=model_id)

    def accepted_earlier(self, *, technique_id: str | None) -> None:
        self._settle("accepted_earlier", technique_id=technique_id)

    def unknown(self, *, technique_id: str | None) -> None:
        """The start may or may not have run: count its quote until a retry with its key says which."""
        self._settle("outcome_unknown", technique_id=technique_id)

    def not_started(self) -> None:
        """FLORA refused it, or it was never sent: nothing to count."""
        if not self.settled:
            self.settled = True
            self.ledger._in_flight.pop(self.token, None)

    def _settle(self, outcome: Outcome, **details: str | float | None) -> None:
        if self.settled:
            return
        self.settled = True
        self.ledger._in_flight.pop(self.token, None)
        self.ledger._record(self, outcome, **details)


@dataclass
class SpendLedger:
    """The process's spend: entries by idempotency key, in-flight reservations, the cap."""

    cap_usd: float | None = None
    clock: Callable[[], float] = time.time
    capacity: int = 1000
    _entries: OrderedDict[str, SpendEntry] = field(default_factory=OrderedDict)
    _by_run: dict[str, str] = field(default_factory=dict)  # run id -> idempotency key
    _in_flight: dict[int, float] = field(default_factory=dict)  # reservation token -> quote
    _tokens: count[int] = field(default_factory=count)
    _folded_spent: float = 0.0  # cost of entries dropped from the listing
    _folded_starts: int = 0

    # --- figures ----------------------------------------------------------------------------
    @property
    def spent_usd(self) -> float:
        return self._folded_spent + sum(e.cost_usd for e in self._entries.values() if e.counts_as_spent)

    @property
    def unconfirmed_usd(self) -> float:
        return sum(e.cost_usd for e in self._entries.values() if not e.counts_as_spent)

    @property
    def in_flight_usd(self) -> float:
        return sum(self._in_flight.values())

    @property
    def committed_usd(self) -> float:
        return self.spent_usd + self.unconfirmed_usd + self.in_flight_usd

    @property
    def remaining_usd(self) -> float | None:
        return None if self.cap_usd is None else max(0.0, self.cap_usd - self.committed_usd)

    @property
    def unpriced(self) -> int:
        """Listed starts whose cost is not known at all (counted as 0)."""
        return sum(not e.priced for e in self._entries.values())

    @property
    def starts(self) -> int:
        return self._folded_starts + len(self._entries)

    def entries(self, owner: str | None = None) -> list[SpendEntry]:
        """Entries, newest first; only `owner`'s when given."""
        return [e for e in reversed(self._entries.values()) if owner is None or e.owner == owner]

    def knows(self, idempotency_key: str | None) -> bool:
        return idempotency_key is not None and idempotency_key in self._entries

    # --- the cap ----------------------------------------------------------------------------
    def check(self, idempotency_key: str | None, quote_usd: float | None) -> None:
        """Raise SpendCapReached when a start with this key and quote may not be sent."""
        if self.cap_usd is None or self.knows(idempotency_key):
            return
        committed = self.committed_usd
        over = committed >= self.cap_usd or (quote_usd is not None and committed + quote_usd > self.cap_usd)
        if over:
            raise SpendCapReached(committed=committed, spent=self.spent_usd, cap=self.cap_usd, quote=quote_usd)

    def reserve(self, idempotency_key: str, quote_usd: float | None, *, tool: str, owner: str) -> Reservation:
        """Check the cap and book the start's quote as in flight, in one step (no await between)."""
        self.check(idempotency_key, quote_usd)
        token = next(self._tokens)
        if not self.knows(idempotency_key):
            self._in_flight[token] = quote_usd or 0.0
        return Reservation(self, token, idempotency_key, tool, quote_usd, owner)

    # --- later news -------------------------------------------------------------------------
    def observe(self, run_id: str, charged_usd: float | None) -> None:
        """A read of a run this process started reported its charge: the final figure wins."""
        key = self._by_run.get(run_id)
        if key is not None and charged_usd is not None and key in self._entries:
            self._entries[key].charged_usd = charged_usd

    def _record(self, reservation: Reservation, outcome: Outcome, **details: str | float | None) -> None:
        entry = self._entries.get(reservation.key)
        if entry is None:
            entry = SpendEntry(
                idempotency_key=reservation.key,
                tool=reservation.tool,
                outcome=outcome,
                quote_usd=reservation.quote_usd,
                owner=reservation.owner,
                at=self.clock(),
            )
            self._entries[reservation.key] = entry
        # A retry can settle an unknown outcome, never unsettle a known one.
        if _RANK[outcome] > _RANK[entry.outcome]:
            entry.outcome = outcome
        for name, value in details.items():
            if value is not None:
                setattr(entry, name, value)
        if entry.run_id:
            self._by_run[entry.run_id] = entry.idempotency_key
        self._fold()

    def _fold(self) -> None:
        while len(self._entries) > self.capacity:
            _, oldest = self._entries.popitem(last=False)
            # An unknown outcome folds in as spent: the cap errs toward refusing, never toward paying.
            self._folded_spent += oldest.cost_usd
            self._folded_starts += 1
            if oldest.run_id:
                self._by_run.pop(oldest.run_id, None)

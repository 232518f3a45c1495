"""The shapes the state store keeps and answers with: starts, reservations, spend, tasks.

Times are unix seconds (float). Money is USD: a finite float >= 0, or None for "unknown".
Records are frozen: a store hands out snapshots, and a change goes through a store method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

START_STATUSES = ("in_flight", "started", "unknown", "accepted_earlier", "recovered", "not_started")
"""Every status a start record can have (see `STATUS_RANK` for how they may change)."""

COUNTING_STATUSES = frozenset({"in_flight", "started", "unknown", "accepted_earlier", "recovered"})
"""Statuses whose cost counts against a caller's cap: everything except a start that never went out."""

SPENT_STATUSES = frozenset({"started", "accepted_earlier", "recovered"})
"""Statuses of a start FLORA is known to have accepted."""

STATUS_RANK = {"in_flight": 0, "not_started": 1, "unknown": 2, "accepted_earlier": 3, "recovered": 4, "started": 5}
"""A settle moves a record up this ranking, never down; "not_started" is reachable only from "in_flight"."""

TASK_STATUSES = ("working", "completed", "failed", "cancelled")
TERMINAL_TASK_STATUSES = frozenset({"completed", "failed", "cancelled"})


def valid_money(value: float | None) -> bool:
    """True for an amount a store may keep: a finite number >= 0 (None, "unknown", is not one)."""
    return value is not None and not isinstance(value, bool) and math.isfinite(value) and value >= 0


@dataclass(frozen=True)
class StartRecord:
    """One paid start as the journal knows it, from its reservation to FLORA's final charge."""

    idempotency_key: str
    caller: str
    tool: str
    args_digest: str
    status: str
    created_at: float
    updated_at: float
    workspace_id: str | None = None
    project_id: str | None = None
    technique_id: str | None = None
    model_id: str | None = None
    prompt_summary: str | None = None
    quote_usd: float | None = None
    charged_usd: float | None = None
    run_id: str | None = None
    run_status: str | None = None
    run_finished: bool = False
    outputs: list[dict[str, Any]] | None = None
    sent_at: float | None = None
    charge_checked_at: float | None = None

    @property
    def cost_usd(self) -> float:
        """What this start counts as: FLORA's latest charge, else the quote, else nothing.

        While a run is unfinished the stores keep `charged_usd` at or above the quote, so a
        partial charge never makes a start look cheaper than it was quoted.
        """
        if self.charged_usd is not None:
            return self.charged_usd
        return self.quote_usd or 0.0

    @property
    def counts_against_cap(self) -> bool:
        return self.status in COUNTING_STATUSES


@dataclass(frozen=True)
class ReserveRequest:
    """What the booking asks for before a start goes out. See `Store.reserve` for the rules."""

    caller: str
    tool: str
    args_digest: str
    idempotency_key: str
    quote_usd: float | None
    cap_usd: float | None
    now: float
    window_start: float | None = None
    repeat_since: float | None = None
    workspace_id: str | None = None
    project_id: str | None = None
    technique_id: str | None = None
    model_id: str | None = None
    prompt_summary: str | None = None
    # Set when the start goes out the moment it is reserved (a single start): the record is born
    # "sent", sparing a second write. None: mark_sent records it when it goes out.
    sent_at: float | None = None

    def __post_init__(self) -> None:
        # A NaN quote or cap would make every comparison false and let spending through.
        for name in ("quote_usd", "cap_usd"):
            value = getattr(self, name)
            if value is not None and not valid_money(value):
                raise ValueError(f"ReserveRequest.{name} must be a finite number >= 0 or None, got {value!r}")
        if not self.idempotency_key:
            raise ValueError("ReserveRequest.idempotency_key must not be empty")


@dataclass(frozen=True)
class Reserved:
    """A new record was inserted with status "in_flight": the start may go out."""

    record: StartRecord


@dataclass(frozen=True)
class Existing:
    """The start is already on the books: "same_key" (the key was used for this very start) or "repeat"."""

    record: StartRecord
    reason: Literal["same_key", "repeat"]


ConflictReason = Literal["other_caller", "other_tool", "other_arguments"]


@dataclass(frozen=True)
class KeyConflict:
    """The key is already used for something else. For "other_caller" nothing about that record is told."""

    reason: ConflictReason


@dataclass(frozen=True)
class CapRefused:
    """The caller's cap leaves no room for this start."""

    committed_usd: float
    spent_usd: float
    cap_usd: float
    unknown_in_flight: int


ReserveResult = Reserved | Existing | KeyConflict | CapRefused


@dataclass(frozen=True)
class SpendSummary:
    """A caller's spend since a time, split by how sure the store is of each amount (all in USD)."""

    spent_usd: float = 0.0  # started, accepted_earlier, recovered
    unconfirmed_usd: float = 0.0  # unknown: may or may not have been accepted
    in_flight_usd: float = 0.0  # reserved, answer not in yet
    starts: int = 0  # records that count against the cap
    unpriced: int = 0  # of those, records with neither a charge nor a quote

    @property
    def committed_usd(self) -> float:
        """Everything that counts against the cap."""
        return self.spent_usd + self.unconfirmed_usd + self.in_flight_usd


@dataclass(frozen=True)
class TaskRecord:
    """A long-running MCP task (tasks extension) that any process on the store can answer for."""

    task_id: str
    caller: str
    tool: str
    status: str
    created_at: float
    updated_at: float
    run_refs: list[dict[str, Any]] = field(default_factory=list)
    status_message: str | None = None
    result: dict[str, Any] | None = None
    poll_interval_ms: int | None = None
    ttl_ms: int | None = None
    cancel_requested: bool = False

    def __post_init__(self) -> None:
        if self.status not in TASK_STATUSES:
            raise ValueError(f"TaskRecord.status must be one of {', '.join(TASK_STATUSES)}, got {self.status!r}")

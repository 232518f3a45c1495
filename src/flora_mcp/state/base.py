"""The Store interface: what every state backend promises. These docstrings are the contract.

A store is built unopened (`open_store`), then opened once: `async with open_store(url) as store:`
or `await store.open()` ... `await store.close()`. Every read scoped to a caller filters by that
caller: one caller never sees another's records or tasks. The rules shared by all backends
(status ranking, charge floor, cap) live in `rules.py`.

Errors: `StoreError` for a store that cannot be used (bad file, server down); `StoreTooNew` when
the schema was written by a newer flora-mcp.
"""

from __future__ import annotations

import abc
import hashlib
import hmac
from types import TracebackType
from typing import Any, Self

from .records import ReserveRequest, ReserveResult, SpendSummary, StartRecord, TaskRecord

FINGERPRINT_SECRET = "fingerprint"
"""Name of the meta secret that keys caller fingerprints when no FLORA_STATE_SECRET is given."""


class StoreError(Exception):
    """The state store cannot be opened or used; the message says which store and what to do."""


class StoreTooNew(StoreError):
    """The store's schema is newer than this flora-mcp knows."""

    def __init__(self, where: str, found: int, known: int) -> None:
        super().__init__(
            f"the state store at {where} was written by a newer flora-mcp (schema {found}, this one knows"
            f" {known}): upgrade flora-mcp or point FLORA_STATE_URL elsewhere"
        )
        self.found = found
        self.known = known


class Store(abc.ABC):
    """The run journal, the spend ledger and the task table, shared by every process on the store."""

    def __init__(self, *, secret: str | None = None) -> None:
        self._given_secret = secret.encode() if secret else None
        self._fingerprint_key: bytes | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, run the migrations (refusing a schema that is too new) and load the fingerprint key."""
        await self._open()
        self._fingerprint_key = self._given_secret or await self.meta_secret(FINGERPRINT_SECRET)

    @abc.abstractmethod
    async def _open(self) -> None:
        """Backend part of `open`: connect and migrate."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections and files. Safe to call twice."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    @abc.abstractmethod
    def where(self) -> str:
        """Where the store is, for messages: a path, or a database URL without its password."""

    # -- identity --------------------------------------------------------------------------

    def fingerprint(self, api_key: str) -> str:
        """The caller id for an API key: "c_" + 24 hex chars of HMAC-SHA256 under the store's secret.

        The secret is FLORA_STATE_SECRET when given to `open_store` (a fleet on several stores
        agrees on callers), else a random secret created once in the store's meta table. The
        key itself is never stored. Synchronous; only after `open`. Called once per request (the
        MCP layer keeps the request's caller), so nothing is cached here.
        """
        if self._fingerprint_key is None:
            raise StoreError("the state store is not open: call `await store.open()` first")
        digest = hmac.new(self._fingerprint_key, api_key.encode(), hashlib.sha256).hexdigest()
        return "c_" + digest[:24]

    @abc.abstractmethod
    async def meta_secret(self, name: str) -> bytes:
        """A named random secret (32 bytes), created once and then the same for every process on the store."""

    # -- the ledger and the journal --------------------------------------------------------

    @abc.abstractmethod
    async def reserve(self, req: ReserveRequest) -> ReserveResult:
        """Book a start before it goes out, atomically per caller across every process on the store.

        In this order:
        1. Key lookup: a record with `req.idempotency_key` exists -> `Existing(record, "same_key")`
           when caller, tool and args_digest all match, else `KeyConflict` with "other_caller",
           "other_tool" or "other_arguments" (for "other_caller" nothing of the record is told).
        2. Repeat lookup (only when `repeat_since` is set): the caller's newest record with the
           same tool and args_digest created at/after `repeat_since` whose status is not
           "not_started" -> `Existing(record, "repeat")`.
        3. Cap (only when `cap_usd` is set), over the caller's records created at/after
           `window_start` (None: all) that count against the cap: committed = sum of cost_usd,
           unknown_in_flight = those "in_flight" without a quote. Refused (`CapRefused`) when
           committed >= cap, or a known quote would take committed over the cap, or the quote
           is unknown and unknown_in_flight >= 1.
        4. Insert a new record, status "in_flight", sent_at None -> `Reserved(record)`.
        """

    @abc.abstractmethod
    async def mark_sent(self, key: str, now: float) -> None:
        """Note that the first attempt of the start went out: sets sent_at (only if unset)."""

    @abc.abstractmethod
    async def settle(
        self,
        key: str,
        *,
        status: str,
        now: float,
        run_id: str | None = None,
        charged_usd: float | None = None,
        model_id: str | None = None,
        run_status: str | None = None,
        run_finished: bool | None = None,
        outputs: list[dict[str, Any]] | None = None,
    ) -> StartRecord | None:
        """Record how a start went; returns the record after the change, or None for an unknown key.

        Status moves up in_flight < not_started < unknown < accepted_earlier < recovered < started
        and never down (a "started" start never becomes "unknown"); "not_started" is taken only
        from "in_flight". The other fields still apply on a status that did not move: run_id and
        model_id fill in when given (a record keeps its first run id), run_status and outputs
        replace when given, run_finished never goes back to False. A charge that is not a finite
        number >= 0 is ignored; while the run is unfinished the kept charge is at least the quote.
        run_finished=True also sets charge_checked_at to `now`.
        """

    @abc.abstractmethod
    async def observe_run(
        self,
        caller: str,
        run_id: str,
        *,
        now: float,
        run_status: str | None,
        finished: bool,
        charged_usd: float | None,
        outputs: list[dict[str, Any]] | None = None,
    ) -> StartRecord | None:
        """Update the caller's record of `run_id` from a read of the run; None when the caller has none.

        run_status and outputs replace when given. Charges that are not a finite number >= 0
        are ignored. The chosen rule for "never below the quote": while the run is unfinished the
        STORED charged_usd is max(reported, quote), so cost_usd needs no special case; once
        finished the reported charge wins as is. finished=True sets run_finished and
        charge_checked_at. An unfinished reading of a run already seen finished is stale and
        changes nothing but updated_at.
        """

    @abc.abstractmethod
    async def get(self, key: str) -> StartRecord | None:
        """The record of an idempotency key, whoever's it is (the booking checks the caller)."""

    @abc.abstractmethod
    async def find_run(self, caller: str, run_id: str) -> StartRecord | None:
        """The caller's record holding `run_id`."""

    @abc.abstractmethod
    async def find_repeat(self, caller: str, tool: str, args_digest: str, since: float) -> StartRecord | None:
        """The caller's latest start of `tool` with these arguments booked since `since` (not "not_started").

        What `reserve` answers as a repeat, looked up without booking: the consent question is
        not asked again for a start that will be answered as one.
        """

    @abc.abstractmethod
    async def claimed_run_ids(self, run_ids: list[str]) -> set[str]:
        """Those of `run_ids` that some record (any caller's) already holds."""

    @abc.abstractmethod
    async def spend(self, caller: str, since: float | None) -> SpendSummary:
        """The caller's spend over records created at/after `since` (None: all), by certainty."""

    @abc.abstractmethod
    async def recent(self, caller: str, limit: int = 20) -> list[StartRecord]:
        """The caller's latest records, newest first."""

    @abc.abstractmethod
    async def search(
        self,
        caller: str,
        *,
        text: str | None = None,
        tool: str | None = None,
        status: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 20,
    ) -> list[StartRecord]:
        """The caller's records matching every given filter, newest first.

        text: case-insensitive substring of prompt_summary; tool: exact; status: equals the
        record's status or its run_status; since <= created_at < until.
        """

    @abc.abstractmethod
    async def needing_charge_recheck(
        self, older_than: float, limit: int = 50, *, caller: str | None = None, created_since: float | None = None
    ) -> list[StartRecord]:
        """Finished runs whose charge was last read before `older_than` (or never), oldest check first.

        FLORA settles a charge after the run ends; the server re-reads these and calls observe_run.
        `caller`: only that caller's records (None: any caller's); `created_since`: only records
        created at/after it, so runs too old to change stop being read.
        """

    @abc.abstractmethod
    async def purge(self, older_than: float) -> int:
        """Retention: delete start records and tasks created before `older_than`; returns how many rows went."""

    # -- tasks -----------------------------------------------------------------------------

    @abc.abstractmethod
    async def create_task(self, task: TaskRecord) -> None:
        """Store a new task; durable before it returns. A task_id already in use -> ValueError."""

    @abc.abstractmethod
    async def get_task(self, task_id: str, caller: str) -> TaskRecord | None:
        """The task, if it is this caller's; another caller's task is None, as if it did not exist."""

    @abc.abstractmethod
    async def update_task(
        self,
        task_id: str,
        *,
        now: float,
        status: str | None = None,
        status_message: str | None = None,
        result: dict[str, Any] | None = None,
        poll_interval_ms: int | None = None,
        cancel_requested: bool | None = None,
    ) -> TaskRecord | None:
        """Change the given fields (None: leave as is); returns the task after, or None if unknown.

        A task in a terminal status (completed, failed, cancelled) keeps its status, message,
        result and cancel flag: only poll_interval_ms and updated_at still change.
        """

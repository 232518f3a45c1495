"""The booking: the one owner of a paid start, from its idempotency key to the outcome the agent reads.

Every start tool hands the booking a `StartPlan` (what to start, in canonical form) and a
`send` function (how to send it with a given key). The booking, and nothing else:

1. names the caller: a keyed fingerprint of the API key the request uses (never the key);
2. picks the idempotency key: the caller's own, or one derived from the caller, the tool and
   the canonical arguments (runs/keys.py), so a re-sent call carries the same key;
3. reserves the start in the store, in one atomic step: a key already used for this very start
   is that start (a repeat, or an identical call in flight: it waits for that one's outcome);
   a key used with other arguments, by another tool or by another caller is a conflict; within
   the repeat window the same start answers the run already started; over the cap it is
   refused. Nothing is sent in any of these cases;
4. sends it, shielded from cancellation: once the request may have gone out, the outcome is
   recorded even when the client gives up on the call, so the re-sent call finds it;
5. settles it: started (run id and quote), or, when the outcome is unknown (answer lost after
   every retry, idempotency_duplicate, idempotency_conflict), recovers the run itself
   (runs/recovery.py); refused by FLORA: not started, nothing counted;
6. hands the tool a `Booked` outcome, which always carries the run id or the key and where the
   run will be found.

Reads of runs come back through `observe`, which keeps the journal's status, outputs and
charges (FLORA settles a charge after the run ends) up to date.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio

from flora_mcp.api.client import AcceptedEarlier, FloraClient, Started
from flora_mcp.api.errors import FloraError, IdempotencyDuplicateError
from flora_mcp.api.models import RunState, StartResponse
from flora_mcp.runs import texts
from flora_mcp.runs.caller import Caller
from flora_mcp.runs.keys import derived_key, fresh_key
from flora_mcp.runs.plan import StartPlan
from flora_mcp.runs.quotes import Quote
from flora_mcp.runs.recovery import Recovery, find_lost_run
from flora_mcp.runs.refusals import (
    CapReached,
    KeyExpired,
    KeyInUse,
    Refusal,
    StartFailed,
    StillInFlight,
    UnpricedOpen,
    Unsendable,
)
from flora_mcp.runs.seen import SeenReadings
from flora_mcp.state import (
    CapRefused,
    Existing,
    KeyConflict,
    ReserveRequest,
    SpendSummary,
    StartRecord,
    Store,
)

logger = logging.getLogger("flora_mcp.runs")

Send = Callable[[FloraClient, str], Awaitable["Started[Any] | AcceptedEarlier"]]
Outcome = Literal["started", "repeat", "recovered", "accepted_earlier"]

# How long a call waits for an identical call already in flight to learn its outcome: under the
# ~60 s many clients allow a call, so the re-sent call answers ("still being sent, call again")
# before its own client gives up, even when FLORA is slow or the first sender's process died.
IN_FLIGHT_WAIT_SECONDS = 45.0
# An identical call in flight in another process (or in one that died mid-start) is waited for
# only this long: after it, this call sends the start itself under the same key, which FLORA
# never runs twice, so a dead sender costs a re-sent call seconds, not 45 s each time.
FOREIGN_IN_FLIGHT_WAIT_SECONDS = 5.0
_IN_FLIGHT_POLL_SECONDS = 0.05
# FLORA holds an Idempotency-Key for two hours after a run was created (flora-api.md,
# "Idempotency"): within that, a start sent again under its key cannot start a second run. Past
# it (with a margin for clocks), a start of unknown outcome is only searched for, never re-sent.
KEY_HELD_SECONDS = 2 * 3600.0 - 600.0
# Journal writes once FLORA has answered with a run id: retried this many times, this far apart.
JOURNAL_RETRY_DELAYS = (0.2, 0.5, 1.0)
WINDOWS = {"24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
# How many of a caller's latest starts are searched for one whose cost is still unknown.
UNPRICED_LOOKBACK = 200


@dataclass(frozen=True)
class Booked:
    """How a start ended, for the tool's answer. `run_id` is None only for accepted_earlier."""

    outcome: Outcome
    key: str
    run_id: str | None
    spend: SpendSummary | None  # None: the state store could not be read just now
    answer: Started[Any] | None = None  # FLORA's start answer, for "started"
    record: StartRecord | None = None
    age_seconds: float | None = None  # for "repeat": how long ago the first start was sent
    recovery: Recovery | None = None
    notes: list[str] = field(default_factory=list)


def asks_about(quote: Quote, threshold: float | None) -> bool:
    """The consent rule: with a threshold set, a start above it, or of a cost not known in advance, is asked about."""
    return threshold is not None and (quote.usd is None or quote.usd > threshold)


def finite_or_none(value: float | None) -> float | None:
    """A money or time figure from FLORA, or None when it is not a finite number >= 0."""
    if value is None or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def charge_seen(value: float | None, finished: bool) -> float | None:
    """A charge FLORA reported, as the journal should take it: None when it tells nothing.

    Not a finite number >= 0: nothing. Zero while the run is not finished: nothing either, since
    FLORA settles charges late and a paid run reads 0 until then; taken as a cost, it would free
    room under the cap that the run is about to use (with a known quote the store floors it at
    the quote anyway; with an unknown one it would let the next start of unknown cost go).
    """
    charge = finite_or_none(value)
    return None if charge == 0 and not finished else charge


class Booking:
    """The start path's owner (see the module docstring); one per server, shared by every call."""

    def __init__(
        self,
        store: Store,
        *,
        cap_usd: float | None,
        spend_window: str = "24h",
        repeat_window_seconds: float = 600.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.cap_usd = cap_usd
        self.spend_window = spend_window
        self.repeat_window_seconds = repeat_window_seconds
        self._now = wall_clock
        self._process_started = wall_clock()
        self._seen = SeenReadings()  # the journal writes of reads, so an unchanged reading is not written again
        self._sending: set[str] = set()  # keys this process is sending right now
        # Settles FLORA answered but the store refused (locked, down): written on a later call.
        self._unwritten: dict[str, dict[str, Any]] = {}

    # --- when ------------------------------------------------------------------------------
    def now(self) -> float:
        """Unix time, as the journal and the task table record it."""
        return self._now()

    def window_start(self) -> float | None:
        """Where the budget window opens now (None: all time)."""
        if self.spend_window == "all":
            return None
        if self.spend_window == "process":
            return self._process_started
        return self._now() - WINDOWS[self.spend_window]

    def key_for(self, caller: str, plan: StartPlan) -> str:
        """The idempotency key of a start: the agent's, a derived one, or (for a repeat on purpose) a new one."""
        if plan.given_key:
            return plan.given_key
        if plan.repeat or self.repeat_window_seconds <= 0:
            return fresh_key()
        return derived_key(caller, plan.tool, plan.digest, self._now(), self.repeat_window_seconds)

    async def summary(self, caller: str) -> SpendSummary:
        await self.write_unwritten()
        return await self.store.spend(caller, self.window_start())

    async def readable_summary(self, caller: str) -> SpendSummary | None:
        """The spend, or None when the store cannot be read: a start FLORA accepted is answered anyway."""
        try:
            return await self.summary(caller)
        except Exception:
            logger.warning("could not read the spend from the state store", exc_info=True)
            return None

    async def write_unwritten(self) -> None:
        """Write the settles the store refused earlier (see `_journal`), oldest first; keep what fails."""
        for key, fields in list(self._unwritten.items()):
            try:
                await self.store.settle(key, **fields)
            except Exception:
                return  # still failing: the next call tries again
            self._unwritten.pop(key, None)
            logger.info("state store: wrote the outcome of start %s that it had refused earlier", key)

    async def _journal(self, key: str, **fields: Any) -> StartRecord | None:
        """Settle `key` once FLORA has answered; retried, then kept for later, never raised.

        The run exists and will be billed whatever the store does: its id must reach the agent.
        Until the write lands, the record stays "in flight", which counts at the quote against
        the cap (the cautious side), and a re-sent call finds the run under the same key.
        """
        for delay in (*JOURNAL_RETRY_DELAYS, None):
            try:
                return await self.store.settle(key, **fields)
            except Exception:
                if delay is None:
                    logger.error("state store: could not record the outcome of start %s; kept to write later", key)
                    self._unwritten[key] = fields
                    return None
                await anyio.sleep(delay)
        return None

    async def spend_line(self, caller: str) -> str:
        return texts.spend_line(await self.readable_summary(caller), self.cap_usd, self.spend_window)

    # --- before asking the user -------------------------------------------------------------
    async def needs_consent(self, who: Caller, plan: StartPlan, quote: Quote, threshold: float | None) -> bool:
        """Whether the person must approve this start: its quote is above `threshold` (or unknown).

        False under the threshold, and when this start is already booked (a retry or a repeat:
        nothing new to approve). Raises the cap refusal early, so nobody is asked to approve a
        start that would be refused.
        """
        if not asks_about(quote, threshold):
            return False
        caller = who.fingerprint
        if await self._booked(caller, plan):
            return False
        await self._check_cap(caller, plan.tool, quote)
        await self._check_unpriced(caller, plan, quote)
        return True

    async def needs_batch_consent(self, who: Caller, plans: Sequence[StartPlan], quote: Quote) -> bool:
        """`needs_consent` for a batch: `quote` is the total of the items not booked yet.

        False when every item is booked already (the batch re-sent); raises the cap refusal
        when the batch as a whole would go over the cap, so nobody approves a refused batch.
        """
        caller = who.fingerprint
        booked = 0
        for plan in plans:
            booked += await self._booked(caller, plan)
        if booked == len(plans):
            return False
        await self._check_cap(caller, plans[0].tool, quote)
        return True

    async def _booked(self, caller: str, plan: StartPlan) -> bool:
        """Whether `reserve` would answer this start as one already booked (its key, or a repeat)."""
        record = await self.store.get(self.key_for(caller, plan))
        if record is not None and record.caller == caller:
            return True
        if not plan.looks_for_repeat or self.repeat_window_seconds <= 0:
            return False
        since = self._now() - self.repeat_window_seconds
        return await self.store.find_repeat(caller, plan.tool, plan.digest, since) is not None

    # --- the start ---------------------------------------------------------------------------
    async def start(self, who: Caller, plan: StartPlan, quote: Quote, send: Send) -> Booked:
        """Book, send, settle and recover one start (module docstring); raises a `Refusal` when refused."""
        proceed = await self.reserve(who, plan, quote, send, sends_now=True)
        return await proceed()

    async def start_many(
        self,
        who: Caller,
        starts: Sequence[tuple[StartPlan, Quote, Send]],
        *,
        at_once: int = 4,
    ) -> list[Booked | Refusal]:
        """Several starts as one: every one reserved before any is sent, then sent `at_once` at a time.

        Reserving them all first makes the cap hold for the whole set: an item the cap (or a key
        conflict) refuses is refused before anything goes out, and its `Refusal` (`before_sending`)
        stands in its place in the answer. An item FLORA refuses is its `StartFailed`; the others go on.
        The sends are shielded together: a cancelled call never leaves a reserved item unsent
        and unrecorded.
        """
        outcomes: list[Booked | Refusal] = []
        pending: list[tuple[int, Callable[[], Awaitable[Booked]]]] = []
        for plan, quote, send in starts:
            try:
                pending.append((len(outcomes), await self.reserve(who, plan, quote, send)))
                outcomes.append(Refusal("not sent"))  # replaced below
            except Refusal as refusal:
                outcomes.append(refusal)
        limiter = anyio.CapacityLimiter(max(1, at_once))

        async def run(index: int, proceed: Callable[[], Awaitable[Booked]]) -> None:
            async with limiter:
                try:
                    outcomes[index] = await proceed()
                except Refusal as refusal:
                    outcomes[index] = refusal

        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as group:
                for index, proceed in pending:
                    group.start_soon(run, index, proceed)
        return outcomes

    async def reserve(
        self,
        who: Caller,
        plan: StartPlan,
        quote: Quote,
        send: Send,
        *,
        sends_now: bool = False,
    ) -> Callable[[], Awaitable[Booked]]:
        """Steps 1-3 of the module docstring: reserve the start; returns what sends and settles it.

        Refusals (a key conflict, over the cap) are raised here, before anything is sent.
        `sends_now`: the caller sends it at once (a single start, not a batch), so the record is
        written as sent in the same step, unless the unknown-cost check could still refuse it.
        """
        caller, client = who.fingerprint, who.client
        key = self.key_for(caller, plan)
        digest = plan.digest
        now = self._now()
        # Only a start without a key of the agent's is looked up as a repeat (plan.py): a new
        # key, like repeat=true, is the agent asking for another run on purpose.
        looks_for_repeat = plan.looks_for_repeat and self.repeat_window_seconds > 0
        repeat_since = now - self.repeat_window_seconds if looks_for_repeat else None
        # Sent the moment it is booked, unless _check_unpriced below may still hold it back.
        sent_at = now if sends_now and (self.cap_usd is None or quote.usd is not None) else None
        result = await self.store.reserve(
            ReserveRequest(
                caller=caller,
                tool=plan.tool,
                args_digest=digest,
                idempotency_key=key,
                quote_usd=quote.usd,
                cap_usd=self.cap_usd,
                now=now,
                window_start=self.window_start(),
                repeat_since=repeat_since,
                workspace_id=plan.workspace_id,
                project_id=plan.project_id,
                technique_id=plan.technique_id,
                model_id=plan.model_id,
                prompt_summary=plan.prompt_summary,
                sent_at=sent_at,
            )
        )
        if isinstance(result, KeyConflict):
            raise KeyInUse(texts.conflict_text(result.reason, plan.tool, key))
        if isinstance(result, CapRefused):
            raise CapReached(texts.cap_text(result.committed_usd, result.spent_usd, result.cap_usd, plan.tool, quote))
        if isinstance(result, Existing):
            existing = result

            async def settle_existing() -> Booked:
                record = await self._settled(existing.record)
                key = record.idempotency_key
                orphaned = record.status == "in_flight" and key not in self._sending
                if record.status == "unknown" or orphaned:
                    # A start whose outcome is unknown, asked for again, or one still "in flight" in
                    # another process that has not answered (slow, or it died mid-start): send it
                    # again under its own key, which FLORA cannot start twice, to learn what
                    # happened. Its quote already counts against the cap. Once FLORA no longer
                    # holds the key, sending it could start a second run: then it is only searched for.
                    if self._now() - (record.sent_at or record.created_at) < KEY_HELD_SECONDS:
                        return await self._send(client, plan, caller, key, send, marked=record.sent_at is not None)
                    return await self._recover(client, plan, caller, key, cause=None, key_expired=True)
                if record.status == "accepted_earlier" and record.run_id is None:
                    # FLORA took it but the run was not identified then: look again (it may be listed now).
                    return await self._recover(client, plan, caller, key, cause=None)
                if record.status == "not_started" and existing.reason == "same_key":
                    # FLORA refused it earlier and charged nothing; the same key may go out again
                    # (e.g. after credits were added), within the cap like any new start.
                    await self._check_cap(caller, plan.tool, quote)
                    await self._check_unpriced(caller, plan, quote, own_key=record.idempotency_key)
                    return await self._send(client, plan, caller, record.idempotency_key, send)
                return await self._repeat(caller, record)

            return settle_existing
        reserved_key = result.record.idempotency_key
        # A new start, booked: checked for unknown costs only now, so that of two starts of unknown
        # cost booked at once each sees the other (and neither slips through); a refused one is
        # released (not_started: it counts for nothing, and the same key may go out later).
        try:
            await self._check_unpriced(caller, plan, quote, own_key=reserved_key)
        except Refusal:
            await self.store.settle(reserved_key, status="not_started", now=self._now())
            raise

        async def send_reserved() -> Booked:
            return await self._send(client, plan, caller, reserved_key, send, marked=sent_at is not None)

        return send_reserved

    async def _settled(self, record: StartRecord) -> StartRecord:
        """The record once it is no longer in flight: an identical call is being sent right now.

        Waited for up to IN_FLIGHT_WAIT_SECONDS while this process is sending it; a start in
        flight elsewhere only FOREIGN_IN_FLIGHT_WAIT_SECONDS, since that sender may be dead.
        """
        began = anyio.current_time()
        while record.status == "in_flight":
            ours = record.idempotency_key in self._sending
            if anyio.current_time() - began >= (IN_FLIGHT_WAIT_SECONDS if ours else FOREIGN_IN_FLIGHT_WAIT_SECONDS):
                break
            await anyio.sleep(_IN_FLIGHT_POLL_SECONDS)
            record = await self.store.get(record.idempotency_key) or record
        return record

    async def _repeat(self, caller: str, record: StartRecord) -> Booked:
        spend = await self.readable_summary(caller)
        age = max(0.0, self._now() - (record.sent_at or record.created_at))
        if record.run_id is None:
            if record.status == "in_flight":
                raise StillInFlight(texts.still_in_flight_text(record))
            return Booked("accepted_earlier", record.idempotency_key, None, spend, record=record, age_seconds=age)
        return Booked("repeat", record.idempotency_key, record.run_id, spend, record=record, age_seconds=age)

    async def _check_cap(self, caller: str, tool: str, quote: Quote) -> None:
        if self.cap_usd is None:
            return
        spend = await self.summary(caller)
        committed = spend.committed_usd
        if committed >= self.cap_usd or (quote.usd is not None and committed + quote.usd > self.cap_usd):
            raise CapReached(texts.cap_text(committed, spend.spent_usd, self.cap_usd, tool, quote))

    async def _check_unpriced(self, caller: str, plan: StartPlan, quote: Quote, own_key: str | None = None) -> None:
        """Under a cap, one start of unknown cost at a time: not only while it is sent, until its cost is known.

        The store refuses a second unpriced start while one is in flight; this covers the time
        after: a start FLORA answered without a charge still has an unknown cost, and a second
        one would let the cap be passed by two starts (or, one after another, by any number).
        It clears once a read of that run reports its charge (get_run, wait_for_run). `own_key`:
        this start's own record, which is not another start.
        """
        if self.cap_usd is None or quote.usd is not None:
            return
        since = self.window_start()
        pending = [
            r
            for r in await self.store.recent(caller, UNPRICED_LOOKBACK)
            if r.counts_against_cap
            and r.charged_usd is None
            and r.quote_usd is None
            and r.idempotency_key != own_key
            and (since is None or r.created_at >= since)
        ]
        if pending:
            raise UnpricedOpen(texts.unpriced_text(pending, self.cap_usd, plan.tool, quote))

    async def _send(
        self,
        client: FloraClient,
        plan: StartPlan,
        caller: str,
        key: str,
        send: Send,
        *,
        marked: bool = False,
    ) -> Booked:
        # Shielded: a client that cancels the call (or disconnects) must not leave a start that
        # FLORA may have accepted unrecorded; the re-sent call will then find its outcome here.
        with anyio.CancelScope(shield=True):
            booked = await self._send_and_settle(client, plan, caller, key, send, marked=marked)
        return booked

    async def _send_and_settle(
        self, client: FloraClient, plan: StartPlan, caller: str, key: str, send: Send, *, marked: bool
    ) -> Booked:
        if not marked:  # the record does not say it was sent yet (see reserve's sends_now)
            await self.store.mark_sent(key, self._now())
        self._sending.add(key)
        try:
            try:
                outcome = await send(client, key)
            except FloraError as exc:
                if not exc.may_have_been_processed and not isinstance(exc, IdempotencyDuplicateError):
                    await self._journal(key, status="not_started", now=self._now())
                    raise StartFailed(exc, plan.tool, plan.batch_key or key) from exc
                return await self._recover(client, plan, caller, key, cause=exc)
            except ValueError as exc:
                # The client refused to send it (e.g. one technique input given twice).
                await self._journal(key, status="not_started", now=self._now())
                raise Unsendable(exc, plan.tool) from exc
            except BaseException:
                # Anything else once the request may be out (a bug, a cancellation from outside the
                # shield): the outcome is unknown, and says so in the journal.
                await self._journal(key, status="unknown", now=self._now())
                raise
            if isinstance(outcome, AcceptedEarlier):
                return await self._recover(client, plan, caller, key, cause=None)
            return await self._started(plan, caller, key, outcome)
        finally:
            self._sending.discard(key)

    async def _started(self, plan: StartPlan, caller: str, key: str, outcome: Started[Any]) -> Booked:
        answer = outcome.response
        model_id = plan.model_id
        run_status = None
        finished = None
        if isinstance(answer, StartResponse) and answer.model is not None:
            model_id = answer.model.model_id
        if isinstance(answer, RunState):
            run_status, finished = answer.status, answer.is_terminal
        charged = charge_seen(answer.charged_cost, bool(finished))
        record = await self._journal(
            key,
            status="started",
            now=self._now(),
            run_id=answer.run_id,
            charged_usd=charged,
            model_id=model_id,
            run_status=run_status,
            run_finished=finished,
        )
        spend = await self.readable_summary(caller)
        return Booked("started", key, answer.run_id, spend, answer=outcome, record=record)

    async def _recover(
        self,
        client: FloraClient,
        plan: StartPlan,
        caller: str,
        key: str,
        *,
        cause: FloraError | None,
        key_expired: bool = False,
    ) -> Booked:
        """The start may have been accepted but its run id is unknown: find the run (runs/recovery.py).

        `cause` None: FLORA said it accepted the start (or an earlier call did). `key_expired`:
        nothing was sent now, FLORA no longer holds the key, and the search is all there is.
        """
        try:
            record = await self.store.get(key)
        except Exception:
            record = None
        sent_at = (record.sent_at if record else None) or self._now()
        named = getattr(cause, "run_id", None)  # a start answer that named its run but was not readable whole
        if isinstance(named, str):
            recovery = Recovery(searched="FLORA's start answer (which it could not read whole)", run_id=named)
        else:
            recovery = await find_lost_run(client, self.store, plan, sent_at=sent_at)
        if recovery.run_id is not None:
            settled = await self._journal(key, status="recovered", now=self._now(), run_id=recovery.run_id)
            spend = await self.readable_summary(caller)
            return Booked("recovered", key, recovery.run_id, spend, record=settled, recovery=recovery)
        if key_expired:
            await self._journal(key, status="unknown", now=self._now())
            raise KeyExpired(texts.key_expired_text(record, plan.tool, key, recovery.describe()))
        if cause is None or isinstance(cause, IdempotencyDuplicateError):
            # FLORA said the start was accepted: it is spent, even though the run is not found yet.
            settled = await self._journal(key, status="accepted_earlier", now=self._now())
            spend = await self.readable_summary(caller)
            return Booked("accepted_earlier", key, None, spend, record=settled or record, recovery=recovery)
        await self._journal(key, status="unknown", now=self._now())
        raise StartFailed(cause, plan.tool, plan.batch_key or key, searched=recovery.describe())

    # --- reads -------------------------------------------------------------------------------
    async def observe(self, who: Caller, run: RunState) -> None:
        """A read of a run: keep the caller's journal entry (status, outputs, charge) current."""
        try:
            outputs = [o.model_dump(mode="json") for o in run.outputs or []] or None
            caller, now = who.fingerprint, self._now()
            charged = charge_seen(run.charged_cost, run.is_terminal)
            reading = self._seen.reading(run.status, run.is_terminal, charged, outputs)
            if self._seen.already_written(caller, run.run_id, reading, now):
                return
            recorded = await self.store.observe_run(
                caller,
                run.run_id,
                now=now,
                run_status=run.status,
                finished=run.is_terminal,
                charged_usd=charged,
                outputs=outputs,
            )
            if recorded is not None:  # a run outside the journal has nothing to keep current
                self._seen.written(caller, run.run_id, reading, now)
        except Exception:  # the journal is an aid to the read, never a reason to fail it
            logger.warning("could not record a read of run %s in the state store", run.run_id, exc_info=True)

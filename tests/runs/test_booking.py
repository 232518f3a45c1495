"""The booking's rules on the core alone: the cap, unknown costs, the repeat window, keys, settle, batches.

Each test runs on the in-memory store and on a SQLite file, with a real FLORA client talking to
the sandbox in process. "Sent" counts the start requests that reached the sandbox.
"""

from __future__ import annotations

from typing import Any

import pytest

from flora_mcp.api import FloraClient
from flora_mcp.api.client import AcceptedEarlier, Started
from flora_mcp.api.models import RunState
from flora_mcp.runs.booking import Booked, Send
from flora_mcp.runs.caller import Caller
from flora_mcp.runs.plan import StartPlan
from flora_mcp.runs.refusals import CapReached, KeyInUse, UnpricedOpen
from flora_mcp.sandbox import Sandbox
from flora_mcp.state import Store
from flora_mcp.state.rules import SETTLE_WINDOW_SECONDS
from tests.fake_clock import FakeClock

from .conftest import MakeBooking
from .support import image_plan, priced, sender, start_image, starts_sent

pytestmark = pytest.mark.anyio


def finished(run_id: str, charged_cost: float) -> RunState:
    """A read of a run that has completed, reporting `charged_cost`."""
    return RunState.model_validate({"run_id": run_id, "status": "completed", "charged_cost": charged_cost})


# --- the cap ---------------------------------------------------------------------------------------
async def test_starts_up_to_the_cap_go_through(make_booking: MakeBooking, me: Caller, sandbox: Sandbox) -> None:
    booking = make_booking(cap_usd=0.08)

    first = await start_image(booking, me, "a heron", 0.04)
    second = await start_image(booking, me, "a crane", 0.04)

    assert (first.outcome, second.outcome) == ("started", "started")
    assert starts_sent(sandbox) == 2
    assert len(sandbox.runs) == 2
    assert (await booking.summary(me.fingerprint)).committed_usd == pytest.approx(0.08)


async def test_a_start_whose_quote_would_pass_the_cap_is_refused_and_nothing_is_sent(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox
) -> None:
    booking = make_booking(cap_usd=0.10)
    await start_image(booking, me, "a heron", 0.04)

    with pytest.raises(CapReached):
        await start_image(booking, me, "a crane", 0.07)

    assert starts_sent(sandbox) == 1
    summary = await booking.summary(me.fingerprint)
    assert (summary.starts, summary.committed_usd) == (1, pytest.approx(0.04))


async def test_a_charge_of_0_read_back_within_the_settle_window_frees_nothing_under_the_cap(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox, clock: FakeClock
) -> None:
    booking = make_booking(cap_usd=0.08)
    first = await start_image(booking, me, "a heron", 0.04)
    await start_image(booking, me, "a crane", 0.04)
    assert first.run_id is not None

    clock.advance(SETTLE_WINDOW_SECONDS - 60)
    await booking.observe(me, finished(first.run_id, 0))

    assert (await booking.summary(me.fingerprint)).committed_usd == pytest.approx(0.08)
    with pytest.raises(CapReached):
        await start_image(booking, me, "a stork", 0.04)
    assert starts_sent(sandbox) == 2


async def test_a_charge_of_0_read_back_after_the_settle_window_frees_its_room_under_the_cap(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox, clock: FakeClock
) -> None:
    booking = make_booking(cap_usd=0.08)
    first = await start_image(booking, me, "a heron", 0.04)
    await start_image(booking, me, "a crane", 0.04)
    assert first.run_id is not None

    clock.advance(SETTLE_WINDOW_SECONDS + 60)
    await booking.observe(me, finished(first.run_id, 0))

    assert (await booking.summary(me.fingerprint)).committed_usd == pytest.approx(0.04)
    third = await start_image(booking, me, "a stork", 0.04)
    assert third.outcome == "started"
    assert starts_sent(sandbox) == 3


async def test_a_start_quoted_0_stays_free_under_the_cap(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox
) -> None:
    booking = make_booking(cap_usd=0.04)
    free = await start_image(booking, me, "a free sketch", 0)
    assert free.run_id is not None
    await booking.observe(me, finished(free.run_id, 0))  # within the settle window: a 0 quoted 0 is believed

    assert (await booking.summary(me.fingerprint)).committed_usd == 0
    paid = await start_image(booking, me, "a heron", 0.04)

    assert (free.outcome, paid.outcome) == ("started", "started")
    assert starts_sent(sandbox) == 2


# --- unknown quotes under a cap ---------------------------------------------------------------------
async def test_under_a_cap_a_second_start_of_unknown_cost_waits_until_the_first_ones_charge_is_known(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox
) -> None:
    booking = make_booking(cap_usd=1.0)
    first = await start_image(booking, me, "a heron", None)
    assert first.run_id is not None

    with pytest.raises(UnpricedOpen):
        await start_image(booking, me, "a crane", None)
    assert starts_sent(sandbox) == 1
    assert (await booking.summary(me.fingerprint)).unpriced == 1

    await booking.observe(me, finished(first.run_id, 0.04))
    second = await start_image(booking, me, "a crane", None)

    assert second.outcome == "started"
    assert starts_sent(sandbox) == 2
    assert (await booking.summary(me.fingerprint)).spent_usd == pytest.approx(0.04)


# --- the repeat window -------------------------------------------------------------------------------
async def test_the_same_start_within_the_repeat_window_answers_the_first_run_and_sends_nothing(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox, clock: FakeClock
) -> None:
    booking = make_booking(repeat_window_seconds=600)
    first = await start_image(booking, me, "a heron", 0.04)

    clock.advance(30)
    again = await start_image(booking, me, "a heron", 0.04)

    assert again.outcome == "repeat"
    assert again.run_id == first.run_id
    assert again.age_seconds == pytest.approx(30)
    assert starts_sent(sandbox) == 1
    assert (await booking.summary(me.fingerprint)).starts == 1


async def test_the_same_start_after_the_repeat_window_is_a_new_run(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox, clock: FakeClock
) -> None:
    booking = make_booking(repeat_window_seconds=600)
    first = await start_image(booking, me, "a heron", 0.04)

    clock.advance(601)
    later = await start_image(booking, me, "a heron", 0.04)

    assert later.outcome == "started"
    assert later.run_id != first.run_id
    assert starts_sent(sandbox) == 2
    assert len(sandbox.runs) == 2


async def test_repeat_true_starts_another_run_of_the_same_thing_on_purpose(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox
) -> None:
    booking = make_booking(repeat_window_seconds=600)
    first = await start_image(booking, me, "a heron", 0.04)

    another = await start_image(booking, me, "a heron", 0.04, repeat=True)

    assert another.outcome == "started"
    assert another.run_id != first.run_id
    assert another.key != first.key
    assert len(sandbox.runs) == 2


# --- idempotency keys ---------------------------------------------------------------------------------
async def test_a_key_reused_with_other_arguments_is_refused_and_nothing_is_sent(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox
) -> None:
    booking = make_booking()
    await start_image(booking, me, "a heron", 0.04, key="my-key-1")

    with pytest.raises(KeyInUse):
        await start_image(booking, me, "a crane", 0.04, key="my-key-1")

    assert starts_sent(sandbox) == 1
    assert (await booking.summary(me.fingerprint)).starts == 1


async def test_a_key_reused_by_another_caller_is_refused_and_nothing_is_sent(
    make_booking: MakeBooking, me: Caller, someone_else: Caller, sandbox: Sandbox
) -> None:
    booking = make_booking()
    await start_image(booking, me, "a heron", 0.04, key="my-key-1")

    with pytest.raises(KeyInUse):
        await start_image(booking, someone_else, "a heron", 0.04, key="my-key-1")

    assert starts_sent(sandbox) == 1
    assert (await booking.summary(someone_else.fingerprint)).starts == 0


# --- settle --------------------------------------------------------------------------------------------
async def test_a_started_run_is_recorded_with_its_run_id_and_quote(
    make_booking: MakeBooking, me: Caller, store: Store, sandbox: Sandbox
) -> None:
    booking = make_booking(cap_usd=1.0)
    booked = await start_image(booking, me, "a heron", 0.04)

    record = await store.get(booked.key)

    assert record is not None
    assert [r.run_id for r in sandbox.runs] == [booked.run_id]
    assert (record.status, record.run_id, record.quote_usd) == ("started", booked.run_id, 0.04)
    assert record.caller == me.fingerprint
    assert booked.record is not None and booked.record.run_id == booked.run_id


# --- start_many ------------------------------------------------------------------------------------------
async def test_a_batch_reserves_every_item_before_sending_any(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox
) -> None:
    booking = make_booking(cap_usd=1.0)
    plans = [image_plan(prompt) for prompt in ("a heron", "a crane", "a stork")]
    seen_at_first_send: list[tuple[int, int]] = []

    def watched(plan: StartPlan) -> Send:
        send = sender(plan)

        async def send_watched(client: FloraClient, key: str) -> Started[Any] | AcceptedEarlier:
            if not seen_at_first_send:
                reserved = (await booking.summary(me.fingerprint)).starts
                seen_at_first_send.append((reserved, starts_sent(sandbox)))
            return await send(client, key)

        return send_watched

    outcomes = await booking.start_many(me, [(plan, priced(0.04), watched(plan)) for plan in plans])

    assert seen_at_first_send == [(3, 0)]  # all three booked, none sent yet
    assert [o.outcome for o in outcomes if isinstance(o, Booked)] == ["started"] * 3
    assert starts_sent(sandbox) == 3


async def test_a_batch_item_over_the_cap_is_refused_in_its_place_while_the_others_start(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox
) -> None:
    booking = make_booking(cap_usd=0.10)
    items = [(image_plan("a heron"), 0.04), (image_plan("a whale"), 0.10), (image_plan("a crane"), 0.04)]

    outcomes = await booking.start_many(me, [(plan, priced(usd), sender(plan)) for plan, usd in items])

    first, middle, last = outcomes
    assert isinstance(first, Booked) and first.outcome == "started"
    assert isinstance(middle, CapReached) and middle.before_sending
    assert isinstance(last, Booked) and last.outcome == "started"
    assert starts_sent(sandbox) == 2
    assert {r.run_id for r in sandbox.runs} == {first.run_id, last.run_id}
    assert (await booking.summary(me.fingerprint)).committed_usd == pytest.approx(0.08)

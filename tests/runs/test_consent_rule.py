"""The consent rule: who must approve a start before it goes out, asked on the core alone.

Each test runs on the in-memory store and on a SQLite file, against the sandbox in process.
"""

from __future__ import annotations

import pytest

from flora_mcp.runs.booking import asks_about
from flora_mcp.runs.caller import Caller
from flora_mcp.runs.refusals import CapReached
from flora_mcp.sandbox import Sandbox
from tests.fake_clock import FakeClock

from .conftest import MakeBooking
from .support import image_plan, priced, start_image, starts_sent

pytestmark = pytest.mark.anyio

THRESHOLD = 0.10


def test_the_rule_asks_about_a_start_above_the_threshold_or_of_unknown_cost_and_only_with_a_threshold() -> None:
    assert asks_about(priced(0.11), THRESHOLD) is True
    assert asks_about(priced(None), THRESHOLD) is True
    assert asks_about(priced(0.10), THRESHOLD) is False  # at the threshold: not above it
    assert asks_about(priced(0.04), THRESHOLD) is False
    assert asks_about(priced(5.0), None) is False


async def test_a_start_under_the_threshold_needs_no_consent(make_booking: MakeBooking, me: Caller) -> None:
    booking = make_booking(cap_usd=1.0)

    assert await booking.needs_consent(me, image_plan("a heron"), priced(0.04), THRESHOLD) is False


async def test_a_start_above_the_threshold_needs_consent_and_nothing_is_sent_to_ask(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox
) -> None:
    booking = make_booking(cap_usd=1.0)

    assert await booking.needs_consent(me, image_plan("a heron"), priced(0.50), THRESHOLD) is True
    assert starts_sent(sandbox) == 0
    assert (await booking.summary(me.fingerprint)).starts == 0


async def test_a_start_of_unknown_cost_needs_consent(make_booking: MakeBooking, me: Caller) -> None:
    booking = make_booking(cap_usd=1.0)

    assert await booking.needs_consent(me, image_plan("a heron"), priced(None), THRESHOLD) is True


async def test_a_start_already_booked_needs_no_consent_again(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox
) -> None:
    booking = make_booking(cap_usd=1.0)
    await start_image(booking, me, "a heron", 0.50)

    assert await booking.needs_consent(me, image_plan("a heron"), priced(0.50), THRESHOLD) is False
    assert starts_sent(sandbox) == 1


async def test_nobody_is_asked_to_approve_a_start_the_cap_would_refuse(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox
) -> None:
    booking = make_booking(cap_usd=0.50)
    await start_image(booking, me, "a heron", 0.04)

    with pytest.raises(CapReached):
        await booking.needs_consent(me, image_plan("a crane"), priced(0.50), THRESHOLD)

    assert starts_sent(sandbox) == 1


async def test_a_repeat_across_a_key_bucket_boundary_needs_no_consent_again(
    make_booking: MakeBooking, me: Caller, sandbox: Sandbox, clock: FakeClock
) -> None:
    booking = make_booking(cap_usd=1.0, repeat_window_seconds=600)
    clock.now = 1_700_000_390.0  # 10 s before a 600 s bucket ends
    first = await start_image(booking, me, "a heron", 0.50)
    clock.advance(20)  # within the repeat window, in the next bucket

    asked = await booking.needs_consent(me, image_plan("a heron"), priced(0.50), THRESHOLD)
    again = await start_image(booking, me, "a heron", 0.50)

    assert (again.outcome, again.run_id, starts_sent(sandbox)) == ("repeat", first.run_id, 1)
    assert asked is False

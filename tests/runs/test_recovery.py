"""A start whose answer is lost is found, not sent twice; a start FLORA refuses counts for nothing.

Each test runs on the in-memory store and on a SQLite file, against the sandbox in process.
The client retries twice (three attempts), as the server's default does.
"""

from __future__ import annotations

import pytest

from flora_mcp.api.errors import FloraAPIError
from flora_mcp.runs.caller import Caller
from flora_mcp.runs.refusals import StartFailed
from flora_mcp.sandbox import Fault, Sandbox
from flora_mcp.state import Store

from .conftest import MakeBooking
from .support import START_ROUTE, start_image, starts_sent

pytestmark = pytest.mark.anyio


async def test_a_start_whose_every_answer_is_lost_is_recovered_with_the_one_run_flora_made(
    make_booking: MakeBooking, me: Caller, store: Store, sandbox: Sandbox
) -> None:
    booking = make_booking(cap_usd=1.0)
    sandbox.faults.push(START_ROUTE, Fault.dropped_after_create(), times=3)

    booked = await start_image(booking, me, "a heron", 0.04)

    assert starts_sent(sandbox) == 3  # the first attempt and both retries, under one key
    assert len(sandbox.runs) == 1
    assert booked.outcome == "recovered"
    assert booked.run_id == sandbox.runs[0].run_id
    record = await store.get(booked.key)
    assert record is not None and (record.status, record.run_id) == ("recovered", booked.run_id)
    assert (await booking.summary(me.fingerprint)).spent_usd == pytest.approx(0.04)


async def test_a_start_flora_refuses_fails_after_sending_and_counts_for_nothing(
    make_booking: MakeBooking, me: Caller, store: Store, sandbox: Sandbox
) -> None:
    booking = make_booking(cap_usd=1.0)

    with pytest.raises(StartFailed) as refused:
        await start_image(booking, me, "a heron", 0.04, model="t2i-no-such-model")

    assert refused.value.before_sending is False
    error = refused.value.error
    assert isinstance(error, FloraAPIError) and error.status == 400
    assert starts_sent(sandbox) == 1  # a refusal is not retried
    assert sandbox.runs == []
    summary = await booking.summary(me.fingerprint)
    assert (summary.starts, summary.committed_usd) == (0, 0)
    record = await store.get(refused.value.key)
    assert record is not None and record.status == "not_started"

"""Issue 10's promises, each tried through the real server (booking_campaign.py): none may break.

The in-memory cases run on virtual time; the wire cases start flora-mcp as a subprocess over
Streamable HTTP (or serve its HTTP app on a loopback socket) and take a few seconds of real time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from . import booking_campaign as campaign
from . import booking_wire as wire
from .booking_campaign import Row

pytestmark = pytest.mark.anyio


def assert_held(rows: Row | list[Row]) -> None:
    for row in rows if isinstance(rows, list) else [rows]:
        assert row.tried > 0, row
        assert row.failed == 0, f"{row.promise}: {row.failed} of {row.tried} failed ({row.measured})"


@pytest.mark.parametrize(
    "case",
    [
        campaign.identical_concurrent,
        campaign.reused_keys,
        campaign.unknown_quotes_under_cap,
        campaign.hostile_charges,
        campaign.huge_estimates,
        campaign.lost_answers,
        campaign.slug_with_workspace,
    ],
    ids=lambda case: case.__name__,
)
async def test_in_memory_promises_hold(case: Callable[[], Awaitable[Row | list[Row]]]) -> None:
    assert_held(await case())


@pytest.mark.slow  # real subprocesses and wall-clock waits: in .ci/run's slow pass
async def test_a_call_re_sent_after_a_client_timeout_makes_one_run_over_http() -> None:
    assert_held(await wire.resent_after_client_timeout())


async def test_two_callers_over_http_neither_reuse_keys_nor_see_each_other() -> None:
    assert_held(await wire.callers_apart())


@pytest.mark.slow  # real subprocesses and wall-clock waits: in .ci/run's slow pass
async def test_a_3_s_wait_against_a_20_s_read_is_back_within_4_s() -> None:
    assert_held(await wire.bounded_wait())


async def test_the_campaign_counts_a_broken_promise() -> None:
    # The figures must be able to fail: with the cap off, twenty starts of unknown cost all go out.
    flora = campaign.PricedFlora("down")
    async with campaign.priced_client(flora, max_spend_usd=None) as client:
        await campaign.gather(
            [
                lambda i=i: client.call_tool("start_generation_run", campaign.image(f"n{i}", model="t2i-priced"))
                for i in range(20)
            ]
        )
    assert flora.spent == pytest.approx(20 * campaign.PRICE)


async def test_a_start_of_unknown_cost_waits_until_the_last_ones_charge_is_known() -> None:
    flora = campaign.PricedFlora("down", start_body=campaign.NO_CHARGE, read_charge="null")
    async with campaign.priced_client(flora) as client:
        first = await client.call_tool("start_generation_run", campaign.image("first", model="t2i-priced"))
        refused = await client.call_tool("start_generation_run", campaign.image("second", model="t2i-priced"))
        run_id = campaign.data(first)["run_id"]
        await client.call_tool("get_run", {"run_id": run_id})  # FLORA still names no charge
        still = await client.call_tool("start_generation_run", campaign.image("second", model="t2i-priced"))
        flora.read_charge = "0.25"
        await client.call_tool("get_run", {"run_id": run_id})
        second = await client.call_tool("start_generation_run", campaign.image("second", model="t2i-priced"))
    assert refused.is_error and still.is_error
    text = campaign.text_of(refused)
    assert run_id in text and "nothing was sent" in text and "Next step: read that run with get_run" in text
    assert not second.is_error, campaign.text_of(second)
    assert len(flora.runs) == 2


async def test_a_run_made_before_the_start_went_out_is_never_taken_as_its_lost_run() -> None:
    # Another flora-mcp (another state store) made a run of the same model in the same project 30 s
    # earlier; this start's three attempts are all lost before FLORA made anything.
    clock = campaign.FakeClock()
    sandbox = campaign.new_sandbox(clock)
    async with campaign.connected(sandbox, clock) as other:
        earlier = await other.call_tool("start_generation_run", campaign.image("someone else's"))
    clock.now += 30
    for _ in range(3):
        sandbox.faults.push("POST /runs/generation", campaign.Fault.dropped())
    async with campaign.connected(sandbox, clock) as client:
        lost = await client.call_tool("start_generation_run", campaign.image("mine"))
    others = campaign.data(earlier)["run_id"]
    assert campaign.data(lost).get("run_id") != others
    assert lost.is_error and "Start outcome: unknown" in campaign.text_of(lost)
    assert others in campaign.text_of(lost), "it is listed as a candidate, for the agent to check"

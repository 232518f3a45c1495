"""Issue 19's money findings, each tried again (edges_money.py measures them; the report prints them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer

from . import edges_money as money

pytestmark = pytest.mark.anyio


async def test_charges_of_zero_read_back_never_free_the_cap() -> None:
    accepted, _ = await money.zero_charges_cap(unknown_quote=False)
    assert accepted == 5  # 0.20 USD at 0.04: five, and the sixth is refused though every run reads 0


async def test_charges_of_zero_at_an_unknown_quote_let_at_most_one_start_through() -> None:
    accepted, _ = await money.zero_charges_cap(unknown_quote=True)
    assert accepted <= 6
    assert accepted == 1  # its cost is unknown until FLORA reports a real charge: one at a time


async def test_a_charge_of_true_is_not_one_dollar() -> None:
    assert await money.boolean_charge() == pytest.approx(0.12)


async def test_following_a_failed_batch_items_advice_starts_each_item_once() -> None:
    runs, advice = await money.failed_item_advice_followed()
    assert runs == 20, advice


async def test_every_lost_batch_answer_finds_its_own_run() -> None:
    own, made = await money.lost_batch_answers()
    assert (own, made) == (20, 20)


@pytest.mark.parametrize("spelling", ["runId", "id"])
async def test_a_start_answer_may_name_its_run_in_any_spelling(spelling: str) -> None:
    assert await money.run_id_spelled(spelling)


async def test_a_failed_run_read_in_camel_case_keeps_its_reason() -> None:
    assert await money.camel_case_failure_read()


async def test_zero_credits_is_an_unknown_quote_for_the_threshold_and_the_cap() -> None:
    asked, held = await money.zero_credit_quote()
    assert asked, "a 0-credit model under a 1 USD threshold must be asked about"
    assert held, "a second 0-credit start must wait until the first one's charge is known"


async def test_a_slug_start_is_recovered_through_its_tech_id() -> None:
    recovered, filters = await money.slug_start_recovered()
    assert recovered
    assert filters and set(filters) == {"tech_sandboxposter"}


async def test_a_nested_start_that_fails_at_once_says_why_and_what_was_charged() -> None:
    said = await money.nested_start_failing_at_once()
    assert "It already failed. FLORA error provider_error" in said
    assert "FLORA reports a charge of 0.12 USD" in said and "new paid run" in said


async def test_the_run_id_reaches_the_agent_while_the_store_is_locked(tmp_path: Path) -> None:
    answered, journal = await money.store_locked_after_accept(tmp_path)
    assert answered is not None and answered.startswith("run_")
    assert journal == answered, "the kept settle is written once the store answers again"


@pytest.mark.slow
async def test_a_server_killed_mid_start_leaves_no_second_run_sqlite(tmp_path: Path) -> None:
    figures = await money.killed_mid_start(lambda: f"sqlite:///{tmp_path}/state.db", rounds=5)
    assert figures.second_runs == 0
    assert figures.answered_with_the_run == 5, figures.said
    assert figures.slowest_resend_seconds < 30  # no longer 45 s waiting on a dead sender


@pytest.mark.slow
async def test_a_server_killed_mid_start_leaves_no_second_run_postgres(postgres: PostgresServer) -> None:
    figures = await money.killed_mid_start(postgres.new_database, rounds=5)
    assert figures.second_runs == 0
    assert figures.answered_with_the_run == 5, figures.said

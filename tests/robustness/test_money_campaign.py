"""No start is charged twice or lost: the seeded fault campaign through the MCP tools (fault_campaign.py)."""

from __future__ import annotations

import pytest

from .fault_campaign import FAULT_KINDS, CampaignFigures, plan_starts, run_fault_campaign

pytestmark = pytest.mark.anyio

FULL_SIZE = 400  # the size docs/ROBUSTNESS.md reports: 200 generation starts, 200 technique starts


def assert_nothing_lost_or_doubled(figures: CampaignFigures) -> None:
    assert figures.runs_lost == 0, "a start reported as started or accepted has no run"
    assert figures.double_charges == 0, "a logical start created more than one run"
    assert figures.charged_but_reported_failed == 0, "a start reported as failed created a run"
    assert figures.run_id_mismatches == 0, "a start reported another run than the one it created"
    assert figures.reported["unresolved"] == 0, "an agent following the advice could not settle a start"
    assert figures.valid_starts_reported_failed == 0
    assert figures.invalid_starts_reported_started == 0
    accepted = figures.reported["started"] + figures.reported["recovered"] + figures.reported["accepted_earlier"]
    assert figures.runs_created == accepted


async def test_the_full_campaign_ends_with_one_run_per_accepted_start_and_none_per_failed_one() -> None:
    figures = await run_fault_campaign(seed=0, starts=FULL_SIZE)
    assert_nothing_lost_or_doubled(figures)
    assert figures.starts_by_kind["generation"] >= 200
    assert figures.starts_by_kind["technique_top_level"] + figures.starts_by_kind["technique_nested"] >= 200
    assert set(figures.faults_injected) == set(FAULT_KINDS), "every kind of fault must actually be played"
    # Lost answers must have happened and been recovered, with their run ids, by the server itself.
    assert figures.reported["recovered"] > 0
    assert figures.outcome_unknown_reports > 0
    assert figures.reported["failed"] > 0


async def test_the_same_faults_make_a_client_without_idempotency_keys_pay_twice() -> None:
    figures = await run_fault_campaign(seed=0, starts=100)
    assert figures.double_charges == 0
    assert figures.naive_double_charges > 0
    assert figures.naive_extra_usd > 0
    assert figures.naive_runs_created > figures.runs_created


# Three more campaigns of the same kind: in the slow run (.ci/run: pytest -m slow).
@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_other_seeds_hold_too(seed: int) -> None:
    assert_nothing_lost_or_doubled(await run_fault_campaign(seed=seed, starts=FULL_SIZE // 2))


async def test_a_seed_always_plans_the_same_starts_and_faults() -> None:
    first, second = plan_starts(7, 50), plan_starts(7, 50)
    assert [(p.arguments, p.faults, p.own_key) for p in first] == [(p.arguments, p.faults, p.own_key) for p in second]
    assert [p.faults for p in first] != [p.faults for p in plan_starts(8, 50)]

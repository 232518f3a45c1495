"""Polling cadence, progress figures and run memory: the rules behind `next` and wait_for_run."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flora_mcp.api.models import RunState
from flora_mcp.runs import following


def started(estimate: float | None, **seen: float) -> following.RunFacts:
    """Facts of a run this process started at clock 0, optionally read since."""
    return following.RunFacts(estimated_seconds=estimate, started_at=0.0, **seen)


optional_time = st.one_of(st.none(), st.floats(min_value=0, max_value=1e4))


@given(
    estimate=st.one_of(st.none(), st.floats(min_value=-10, max_value=1e4)),
    polled_at=optional_time,
    fraction=st.one_of(st.none(), st.floats(min_value=0, max_value=1)),
    rate=st.one_of(st.none(), st.floats(min_value=1e-6, max_value=10)),
    later=st.floats(min_value=0, max_value=1e3),
    reads=st.integers(min_value=0, max_value=10_000),
)
def test_reads_are_never_under_a_second_apart_and_never_over_ten_seconds_away(
    estimate: float | None,
    polled_at: float | None,
    fraction: float | None,
    rate: float | None,
    later: float,
    reads: int,
) -> None:
    facts = following.RunFacts(
        estimated_seconds=estimate, started_at=0.0, polled_at=polled_at, fraction=fraction, rate=rate
    )
    now = (polled_at or 0.0) + later
    delay = following.next_read_in(facts, now, reads=reads)
    assert 0 <= delay <= 10
    if polled_at is not None:
        assert now + delay - polled_at >= 1 - 1e-9


def test_a_run_started_here_is_first_read_at_its_expected_end() -> None:
    assert following.next_read_in(started(5), 0.0, reads=0) == 5


def test_reads_before_the_expected_end_are_spread_evenly_and_land_on_it() -> None:
    assert following.next_read_in(started(30), 0.0, reads=0) == 6  # 20% of 30 s
    assert following.next_read_in(started(120), 0.0, reads=0) == 10  # never more than 10 s
    assert following.next_read_in(started(12), 0.0, reads=0) == 4  # 12 s in reads at least 5 s apart


def test_a_run_past_its_expected_end_and_not_read_since_is_read_now() -> None:
    assert following.next_read_in(started(5), 7.0, reads=0) == 0
    assert following.next_read_in(started(5, polled_at=3.0, fraction=0.5), 7.0, reads=1) == 0


def test_an_overdue_run_is_read_again_within_its_tolerance() -> None:
    # 20% of 60 s: a 60 s run may be noticed 12 s late, but reads never pause over 10 s.
    assert following.next_read_in(started(60, polled_at=60.0, fraction=0.9), 60.0, reads=1) == 10
    assert following.next_read_in(started(5, polled_at=5.0, fraction=0.9), 5.0, reads=1) == 2


def test_observed_progress_can_only_stretch_the_gap_after_the_expected_end() -> None:
    # At 50% and 1% a second, 50 s are left: no use reading every 2 s.
    slow = started(5, polled_at=6.0, fraction=0.5, rate=0.01)
    assert following.next_read_in(slow, 6.0, reads=2) == 10
    # Stuck at 99%: the rate says "almost done" but the gap stays the tolerance, not 1 s.
    stuck = started(5, polled_at=6.0, fraction=0.99, rate=0.2)
    assert following.next_read_in(stuck, 6.0, reads=2) == 2


def test_a_run_known_only_by_its_progress_is_paced_by_its_rate() -> None:
    # 30% done at 1% a second: a ~100 s run with 70 s left.
    facts = following.RunFacts(polled_at=10.0, fraction=0.3, rate=0.01)
    assert following.next_read_in(facts, 10.0, reads=2) == 10


def test_a_run_known_nothing_about_is_read_at_once_then_with_a_gentle_back_off() -> None:
    assert following.next_read_in(following.RunFacts(), 0.0, reads=0) == 0
    seen = following.RunFacts(polled_at=0.0, fraction=0.0)
    delays = [following.next_read_in(seen, 0.0, reads=n) for n in range(1, 7)]
    assert delays == sorted(delays)
    assert delays[0] == 2 and delays[-1] == 10


def test_a_zero_estimate_says_nothing_about_when_a_run_ends() -> None:
    assert following.next_read_in(started(0), 0.0, reads=0) == 0
    assert following.next_read_in(started(0, polled_at=0.0, fraction=0.0), 0.0, reads=1) == 2


def test_a_read_a_moment_ago_delays_the_next_one_to_a_second_after_it() -> None:
    # Due now (its 5 s are up and it was last read before that), but read 0.25 s ago.
    assert following.next_read_in(started(5, polled_at=4.75, fraction=0.9), 5.0, reads=0) == 0.75
    # Known only from a read 0.25 s ago (by an earlier call): the back-off runs from that read.
    assert following.next_read_in(following.RunFacts(polled_at=0.0, fraction=0.2), 0.25, reads=0) == 1.75


def test_the_rate_comes_from_two_reads_whose_progress_moved() -> None:
    facts = following.RunFacts()
    facts.observe(0.0, 0.0)
    facts.observe(2.0, 0.0)  # still pending: no rate yet
    assert facts.rate is None
    facts.observe(4.0, 0.2)
    assert facts.rate == 0.1
    facts.observe(6.0, 0.2)  # a stall keeps the last rate
    assert facts.rate == 0.1 and facts.polled_at == 6.0


def test_before_any_read_progress_is_reported_from_the_estimate_but_never_as_done() -> None:
    assert following.expected_fraction(started(30), 12.0) == 0.4
    assert following.expected_fraction(started(30), 300.0) == 0.99
    assert following.expected_fraction(following.RunFacts(fraction=0.3), 5.0) == 0.3
    assert following.expected_fraction(following.RunFacts(), 5.0) == 0


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=50))
def test_progress_figures_strictly_increase_even_when_the_run_stalls(fractions: list[float]) -> None:
    track = following.ProgressTrack()
    values = [track.next_value(f) for f in fractions]
    assert all(b > a for a, b in itertools.pairwise(values))


def test_progress_reads_fractions_and_percentages_alike() -> None:
    def state(progress: float, status: str = "running") -> RunState:
        return RunState(run_id="run_a", status=status, progress=progress)  # type: ignore[arg-type]

    assert following.progress_fraction(state(0.25)) == 0.25
    assert following.progress_fraction(state(25)) == 0.25
    assert following.progress_fraction(state(0, "completed")) == 1.0


def test_a_long_run_is_worth_waiting_for_only_once_it_fits_in_one_wait() -> None:
    assert following.after_start("run_a", None, 6).after_seconds == 0
    assert following.after_start("run_a", None, 300).after_seconds == 250
    assert following.after_start("run_a", "tech_x", None).arguments == {"run_id": "run_a", "technique_id": "tech_x"}


def test_run_memory_forgets_the_oldest_runs_first() -> None:
    memory = following.RunMemory(capacity=2)
    for n in range(3):
        memory.remember(f"run_{n}", following.RunFacts(estimated_seconds=n))
    assert memory.recall("run_0") == following.RunFacts()
    assert memory.recall("run_2").estimated_seconds == 2


def test_run_memory_remembers_runs_it_only_read() -> None:
    memory = following.RunMemory()
    memory.observe("run_a", 1.0, 0.1)
    memory.observe("run_a", 3.0, 0.3)
    facts = memory.recall("run_a")
    assert facts.polled_at == 3.0 and facts.rate == pytest.approx(0.1)


def test_a_lost_generation_start_is_looked_up_in_the_generation_history() -> None:
    step = following.find_accepted_start("generation", workspace_id="ws_a", project_id="prj_b")
    assert step.tool == "list_generations"
    assert step.arguments == {"limit": 10, "workspace_id": "ws_a", "project_id": "prj_b"}
    technique = following.find_accepted_start("technique", workspace_id="ws_a", technique_id="tech_c")
    assert technique.tool == "list_technique_runs"
    assert technique.arguments == {"limit": 10, "workspace_id": "ws_a", "technique_id": "tech_c"}

"""Polling cadence, progress figures and run memory: the rules behind `next` and wait_for_run."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from flora_mcp.api.models import RunState
from flora_mcp.server import hints


@given(
    remaining=st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6)),
    polls=st.integers(min_value=0, max_value=10_000),
)
def test_a_poll_delay_is_never_under_one_second_nor_over_ten(remaining: float | None, polls: int) -> None:
    assert 1 <= hints.poll_delay(remaining, polls) <= 10


def test_polls_come_closer_together_as_a_run_nears_its_end() -> None:
    assert hints.poll_delay(60, 0) > hints.poll_delay(9, 0) > hints.poll_delay(2, 0)


def test_without_any_estimate_polling_backs_off_gently() -> None:
    delays = [hints.poll_delay(None, n) for n in range(6)]
    assert delays == sorted(delays)
    assert delays[0] == 2 and delays[-1] == 10


def test_observed_progress_beats_the_start_estimate() -> None:
    # Half done and moving 5% a second: 10 s left, whatever the start estimate said.
    assert hints.remaining_seconds(fraction=0.5, rate=0.05, estimated_seconds=600, since_start=10) == 10
    assert hints.remaining_seconds(fraction=0.5, rate=None, estimated_seconds=60, since_start=10) == 50
    assert hints.remaining_seconds(fraction=0.0, rate=None, estimated_seconds=None, since_start=None) is None


@given(st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=50))
def test_progress_figures_strictly_increase_even_when_the_run_stalls(fractions: list[float]) -> None:
    track = hints.ProgressTrack()
    values = [track.next_value(f) for f in fractions]
    assert all(b > a for a, b in itertools.pairwise(values))


def test_progress_reads_fractions_and_percentages_alike() -> None:
    def state(progress: float, status: str = "running") -> RunState:
        return RunState(run_id="run_a", status=status, progress=progress)  # type: ignore[arg-type]

    assert hints.progress_fraction(state(0.25)) == 0.25
    assert hints.progress_fraction(state(25)) == 0.25
    assert hints.progress_fraction(state(0, "completed")) == 1.0


def test_a_long_run_is_worth_waiting_for_only_once_it_fits_in_one_wait() -> None:
    assert hints.after_start("run_a", None, 6).after_seconds == 0
    assert hints.after_start("run_a", None, 300).after_seconds == 250
    assert hints.after_start("run_a", "tech_x", None).arguments == {"run_id": "run_a", "technique_id": "tech_x"}


def test_run_memory_forgets_the_oldest_runs_first() -> None:
    memory = hints.RunMemory(capacity=2)
    for n in range(3):
        memory.remember(f"run_{n}", hints.RunFacts(estimated_seconds=n))
    assert memory.recall("run_0") == hints.RunFacts()
    assert memory.recall("run_2").estimated_seconds == 2

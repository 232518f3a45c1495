"""SeenReadings: which journal writes of reads can be skipped (runs/seen.py)."""

from __future__ import annotations

from flora_mcp.runs.seen import SeenReadings

DONE = SeenReadings.reading("completed", True, 0.04, [{"output_id": "o1", "url": "https://x/o1.png"}])


def test_only_the_same_reading_for_the_same_caller_and_run_within_the_refresh_time_is_skipped() -> None:
    seen = SeenReadings(refresh_seconds=60)
    seen.written("alice", "run_1", DONE, now=100.0)
    assert seen.already_written("alice", "run_1", DONE, now=159.0)
    assert not seen.already_written("alice", "run_1", DONE, now=160.0), "aged: written again"
    assert not seen.already_written("alice", "run_1", DONE, now=99.0), "a clock that went back proves nothing"
    assert not seen.already_written("bob", "run_1", DONE, now=101.0)
    assert not seen.already_written("alice", "run_2", DONE, now=101.0)
    assert not seen.already_written("alice", "run_1", SeenReadings.reading("completed", True, 0.05, None), now=101.0)
    assert not seen.already_written("alice", "run_1", SeenReadings.reading("running", False, None, None), now=101.0)


def test_it_remembers_a_bounded_number_of_runs_forgetting_the_least_recent() -> None:
    seen = SeenReadings(size=3)
    for n in range(3):
        seen.written("alice", f"run_{n}", DONE, now=0.0)
    seen.written("alice", "run_0", DONE, now=1.0)  # used again: now the most recent
    seen.written("alice", "run_3", DONE, now=1.0)
    assert seen.already_written("alice", "run_0", DONE, now=2.0)
    assert not seen.already_written("alice", "run_1", DONE, now=2.0), "the least recent is forgotten"
    assert seen.already_written("alice", "run_3", DONE, now=2.0)

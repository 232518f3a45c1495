"""State across restarts and replicas: real server processes sharing one SQLite file or one PostgreSQL db.

The scenarios live in state_campaign.py (scripts/robustness_report.py reports the same figures):
- a fleet: two streamable-http processes on one store, 40 parallel starts split across both,
  cap 1.00 USD, 0.25 USD each: exactly 4 accepted, 36 refused, 4 runs upstream;
- a confirmation whose second round lands on the other process succeeds;
- restarts: the stdio server restarted three times between starts on one SQLite file: 4 accepted.
Several OS processes each: outside the default run (`pytest -m slow`; .ci/run runs it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer

from .state_campaign import confirm_across, fleet_starts, restart_starts

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


STORES = pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)


@STORES
async def test_two_processes_on_one_store_accept_exactly_four_of_forty_parallel_starts(store_url: str) -> None:
    figures = await fleet_starts(store_url)
    assert (figures.accepted, figures.refused) == (4, 36), figures.refusals[:3]
    assert all("Spend cap reached" in said for said in figures.refusals), figures.refusals[0]
    assert figures.runs == 4 and figures.upstream == 4


@STORES
async def test_a_confirmations_second_round_on_the_other_process_succeeds(store_url: str) -> None:
    figures = await confirm_across(store_url)
    assert figures.routed_to == [0, 1], "the question came from one process, the answer went to the other"
    assert figures.succeeded, figures.said
    assert len(figures.questions) == 1 and "0.25 USD" in figures.questions[0]
    assert figures.runs == 1


async def test_a_restarted_stdio_server_keeps_the_cap_across_restarts(tmp_path: Path) -> None:
    outcomes, runs = await restart_starts(f"sqlite:///{tmp_path}/state.db")
    assert outcomes == [True] * 4 + [False] * 4
    assert runs == 4

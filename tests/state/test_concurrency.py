"""Two OS processes on one store share one budget: 40 parallel starts under a 1.00 USD cap, 4 go."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flora_mcp.state import SpendSummary, open_store

from .contend import CALLER

CHILD = Path(__file__).with_name("contend.py")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _spend(url: str) -> SpendSummary:
    async with open_store(url) as store:
        return await store.spend(CALLER, None)


@pytest.mark.slow
def test_two_processes_share_one_cap(store_url: str) -> None:
    # Open once up front, so the children race on reservations rather than on the migration.
    assert asyncio.run(_spend(store_url)).starts == 0
    go_at = time.time() + 2.0
    children = [
        subprocess.Popen(
            [sys.executable, str(CHILD), store_url, name, "20", str(go_at)], stdout=subprocess.PIPE, text=True
        )
        for name in ("a", "b")
    ]
    outcomes = [json.loads(child.communicate(timeout=60)[0]) for child in children]
    assert sum(o["reserved"] for o in outcomes) == 4, outcomes
    assert sum(o["refused"] for o in outcomes) == 36, outcomes
    summary = asyncio.run(_spend(store_url))
    assert (summary.starts, summary.in_flight_usd) == (4, 1.0)

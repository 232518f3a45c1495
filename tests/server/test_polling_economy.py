"""Polling economy: wait_for_run reads a run far less often than polling every second would,
and still notices its end soon after it happens.

The targets (issue 6, item 6): at most a third of the GETs of an agent polling once a second
(a run of D seconds costs it D + 1), and the end noticed within max(20% of D, 2 s). Runs are
image generations on a sandbox whose time_scale makes them last D seconds of the fake clock,
so its estimated_seconds says D too; the counts are exact, not timed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest
from mcp import Client

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server
from tests.fake_clock import FakeClock

from .support import call_ok, generation

pytestmark = pytest.mark.anyio

IMAGE_SECONDS = 6.0  # the sandbox's image run length at time_scale 1
READ = "GET /runs/{run_id}"


def lasting(seconds: float) -> SandboxConfig:
    return SandboxConfig(time_scale=seconds / IMAGE_SECONDS)


def naive_reads(duration: float) -> int:
    """GETs of an agent polling once a second, from the start until it sees the end."""
    return int(duration) + 1


def lag_target(duration: float) -> float:
    return max(0.2 * duration, 2.0)


async def follow(client: Client, fake_time: FakeClock, run_id: str, *, hinted: bool, first_pause: float = 0) -> int:
    """Call wait_for_run until the run ends; a hinted agent first sleeps as each `next` says.

    Returns the number of wait_for_run calls."""
    fake_time.now += first_pause if hinted else 0
    for calls in range(1, 50):
        state = (await call_ok(client, "wait_for_run", {"run_id": run_id})).structured_content or {}
        if state["finished"]:
            return calls
        if hinted:
            fake_time.now += state["next"]["after_seconds"]
    raise AssertionError("the run never ended")


async def follow_a_run(client: Client, sandbox: Sandbox, fake_time: FakeClock, *, hinted: bool) -> tuple[int, float]:
    """Start one image run and follow it to its end: (upstream GETs, lag after its end in s)."""
    start = (await call_ok(client, "start_generation_run", generation())).structured_content or {}
    await follow(client, fake_time, start["run_id"], hinted=hinted, first_pause=start["next"]["after_seconds"])
    [run] = sandbox.runs
    return sandbox.requests[READ], fake_time.now - (run.created + run.duration)


@asynccontextmanager
async def another_server(sandbox: Sandbox, fake_time: FakeClock) -> AsyncIterator[Client]:
    """A second server process on the same FLORA (and clock): it remembers none of the first's runs."""
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        server = create_server(
            Settings(max_retries=2),
            http_client=http,
            sandbox=sandbox,
            sleep=fake_time.sleep,
            clock=fake_time.time,
            wall_clock=fake_time.time,
        )
        async with Client(server) as connected:
            yield connected


@pytest.mark.parametrize("hinted", [False, True], ids=["calling-at-once", "following-hints"])
@pytest.mark.parametrize(
    ("duration", "sandbox_config"), [(d, lasting(d)) for d in (5, 30, 120)], ids=["5s", "30s", "120s"]
)
async def test_waiting_reads_a_run_at_most_a_third_as_often_as_polling_every_second(
    client: Client, sandbox: Sandbox, fake_time: FakeClock, duration: float, hinted: bool
) -> None:
    reads, lag = await follow_a_run(client, sandbox, fake_time, hinted=hinted)
    assert reads * 3 <= naive_reads(duration), f"{reads} GETs for a {duration} s run"
    assert 0 <= lag <= lag_target(duration)


@pytest.mark.parametrize("sandbox_config", [lasting(5)])
async def test_a_five_second_run_is_read_once_at_its_expected_end(
    client: Client, sandbox: Sandbox, fake_time: FakeClock
) -> None:
    reads, lag = await follow_a_run(client, sandbox, fake_time, hinted=False)
    assert reads == 1
    assert lag == pytest.approx(0, abs=0.1)


@pytest.mark.parametrize("sandbox_config", [lasting(30)])
async def test_a_wait_opens_with_progress_from_the_estimate_instead_of_a_read(
    client: Client, sandbox: Sandbox, fake_time: FakeClock
) -> None:
    start = (await call_ok(client, "start_generation_run", generation())).structured_content or {}
    fake_time.now += 12  # 40% of the run, by its estimate
    updates: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        updates.append((value, message))
        if len(updates) == 1:
            assert sandbox.requests[READ] == 0, "the opening notification comes before any read"

    result = await call_ok(client, "wait_for_run", {"run_id": start["run_id"]}, progress_callback=on_progress)
    state = result.structured_content or {}
    assert state["finished"]
    value, message = updates[0]
    assert value == pytest.approx(40) and "estimate" in (message or "")
    assert len(updates) == state["polls"] + 1, "one notification per read, plus the opening one"


async def test_a_run_this_server_did_not_start_is_read_at_once(
    client: Client, sandbox: Sandbox, fake_time: FakeClock
) -> None:
    start = (await call_ok(client, "start_generation_run", generation())).structured_content or {}
    updates: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        if not updates:
            assert sandbox.requests[READ] == 1, "an unknown run is read before anything is reported"
        updates.append(message)

    # Another server process (say, behind a load balancer) follows it, knowing nothing of it.
    async with another_server(sandbox, fake_time) as other:
        fake_time.sleeps.clear()
        result = await call_ok(other, "wait_for_run", {"run_id": start["run_id"]}, progress_callback=on_progress)
    assert (result.structured_content or {})["finished"]
    assert len(updates) == sandbox.requests[READ]
    assert fake_time.sleeps and all(1 <= pause <= 10 for pause in fake_time.sleeps), fake_time.sleeps


@pytest.mark.parametrize("late_by", [2.0, 30.0], ids=["a-little", "a-lot"])
@pytest.mark.parametrize("sandbox_config", [lasting(30)])
async def test_a_run_that_outlasts_its_estimate_is_still_noticed_in_time_without_hammering(
    client: Client, sandbox: Sandbox, fake_time: FakeClock, late_by: float
) -> None:
    start = (await call_ok(client, "start_generation_run", generation())).structured_content or {}
    [run] = sandbox.runs
    run.duration += late_by  # FLORA's estimate was short
    await follow(client, fake_time, start["run_id"], hinted=False)
    lag = fake_time.now - (run.created + run.duration)
    assert 0 <= lag <= lag_target(30)
    assert sandbox.requests[READ] * 3 <= naive_reads(run.duration)


@pytest.mark.parametrize("sandbox_config", [lasting(30)])
async def test_a_run_that_ends_early_is_noticed_within_the_gap_between_reads(
    client: Client, sandbox: Sandbox, fake_time: FakeClock
) -> None:
    start = (await call_ok(client, "start_generation_run", generation())).structured_content or {}
    [run] = sandbox.runs
    run.duration = 20.5  # FLORA's 30 s estimate was long
    await follow(client, fake_time, start["run_id"], hinted=False)
    assert 0 <= fake_time.now - (run.created + run.duration) <= lag_target(30)

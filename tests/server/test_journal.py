"""find_runs (the journal search) and the background upkeep (late charges, retention), on a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client

from flora_mcp.config import Settings
from flora_mcp.runs.upkeep import ORPHAN_AFTER_SECONDS, RECHECK_EVERY_SECONDS, RECHECK_FOR_SECONDS
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server
from flora_mcp.server.tools.journal import when_to_unix
from flora_mcp.state import ReserveRequest, Store, open_store
from tests.fake_clock import START, FakeClock

from .support import POSTER, call_error, call_ok, generation, text_of

pytestmark = pytest.mark.anyio
DAY = 86400.0


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/state.db"


@pytest.fixture
def live() -> Sandbox:
    return Sandbox(SandboxConfig(time_scale=0))


def server_on(live: Sandbox, http: httpx2.AsyncClient, url: str, clock: FakeClock, **settings: Any) -> Any:
    return create_server(
        Settings(state_url=url, **settings),
        http_client=http,
        sandbox=live,
        sleep=clock.sleep,
        wall_clock=clock.time,
        upkeep_tick_seconds=0.02,  # of the fake clock: each clock.elapse(>= 0.02) runs one tick
        upkeep_sleep=clock.wait,
    )


@pytest.fixture
async def http(live: Sandbox) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=live.transport()) as client:
        yield client


async def test_find_runs_finds_past_starts_by_prompt_words_tool_status_and_date(
    live: Sandbox, http: httpx2.AsyncClient, state_url: str
) -> None:
    clock = FakeClock()
    async with Client(server_on(live, http, state_url, clock)) as client:
        mug = await call_ok(client, "start_generation_run", generation(prompt="A blue MUG on a desk"))
        clock.now += 2 * DAY
        await call_ok(client, "start_generation_run", generation(prompt="a fox in snow"))
        subject = {"id": "subject", "type": "text", "value": "mug"}
        poster = {"technique_id": POSTER, "workspace_id": "ws_sandbox", "inputs": [subject]}
        await call_ok(client, "start_technique_run", poster)
        await call_ok(client, "wait_for_run", {"run_id": (mug.structured_content or {})["run_id"]})

        async def found(**filters: Any) -> list[dict[str, Any]]:
            result = await call_ok(client, "find_runs", filters)
            return list((result.structured_content or {})["runs"])

        mugs = await found(text="mug")
        assert len(mugs) == 2 and mugs[0]["tool"] == "start_technique_run", "newest first"
        picture = mugs[1]
        assert picture["run_id"] == (mug.structured_content or {})["run_id"]
        assert picture["run_status"] == "completed" and picture["finished"] is True
        assert picture["outputs"] and picture["outputs"][0]["url"].startswith("http")
        assert picture["cost_usd"] == pytest.approx(0.04)
        assert [r["prompt"] for r in await found(text="mug", tool="start_generation_run")] == ["A blue MUG on a desk"]
        assert len(await found(status="completed")) == 1
        assert [r["prompt"] for r in await found(since="1d")] == ["mug", "a fox in snow"]
        assert [r["prompt"] for r in await found(until="1d")] == ["A blue MUG on a desk"]
        assert await found(text="giraffe") == []
        text = text_of(await client.call_tool("find_runs", {"text": "mug"}))
        assert "2 start(s)" in text and picture["run_id"] in text and picture["outputs"][0]["url"] in text


async def test_find_runs_refuses_an_unreadable_date_naming_the_field(
    live: Sandbox, http: httpx2.AsyncClient, state_url: str
) -> None:
    async with Client(server_on(live, http, state_url, FakeClock())) as client:
        text = await call_error(client, "find_runs", {"since": "yesterday"})
    assert "since" in text and "2026-07-01" in text and "2d" in text


def test_dates_and_ages_read_as_unix_times() -> None:
    assert when_to_unix("2d", 1_000_000.0) == 1_000_000.0 - 2 * DAY
    assert when_to_unix("6h", 1_000_000.0) == 1_000_000.0 - 6 * 3600
    assert when_to_unix("1970-01-02", 0.0) == DAY
    assert when_to_unix("1970-01-01T01:00:00+01:00", 0.0) == 0.0


async def test_another_caller_never_finds_your_runs(live: Sandbox, http: httpx2.AsyncClient, state_url: str) -> None:
    clock = FakeClock()
    async with Client(server_on(live, http, state_url, clock)) as client:
        await call_ok(client, "start_generation_run", generation(prompt="secret mug"))
    async with open_store(state_url) as store:
        other = store.fingerprint("sk-someone-else")
        assert await store.search(other, text="mug") == []
        assert len(await store.search(store.fingerprint(live.config.api_key), text="mug")) == 1


async def _record(store: Store, key: str) -> Any:
    return await store.get(key)


async def test_a_charge_settled_after_the_end_is_read_again_and_reaches_the_ledger(
    live: Sandbox, http: httpx2.AsyncClient, state_url: str
) -> None:
    clock = FakeClock()
    async with Client(server_on(live, http, state_url, clock)) as client:
        started = await call_ok(client, "start_generation_run", generation())
        run_id = (started.structured_content or {})["run_id"]
        key = (started.structured_content or {})["idempotency_key"]
        await call_ok(client, "wait_for_run", {"run_id": run_id})
        reads = live.requests["GET /runs/{run_id}"]
        # FLORA settles the bill later than the run's end.
        live.state.by_id[run_id].charged_cost = 0.031
        await clock.elapse(1)  # a tick
        assert live.requests["GET /runs/{run_id}"] == reads, "not re-read before RECHECK_EVERY_SECONDS"
        await clock.elapse(RECHECK_EVERY_SECONDS)  # the next tick, RECHECK_EVERY_SECONDS + 1 after the read
        assert live.requests["GET /runs/{run_id}"] == reads + 1
        spend = (await call_ok(client, "get_spend", {})).structured_content or {}
    assert spend["spent_usd"] == pytest.approx(0.031)
    async with open_store(state_url) as store:
        record = await _record(store, key)
    assert record.charged_usd == pytest.approx(0.031) and record.charge_checked_at == clock.now


async def test_runs_older_than_the_recheck_horizon_are_not_read_again(
    live: Sandbox, http: httpx2.AsyncClient, state_url: str
) -> None:
    clock = FakeClock()
    async with Client(server_on(live, http, state_url, clock)) as client:
        started = await call_ok(client, "start_generation_run", generation())
        await call_ok(client, "wait_for_run", {"run_id": (started.structured_content or {})["run_id"]})
        reads = live.requests["GET /runs/{run_id}"]
        await clock.elapse(RECHECK_FOR_SECONDS + 1)  # a tick
    assert live.requests["GET /runs/{run_id}"] == reads


async def test_the_upkeep_waits_on_the_fake_clock_and_never_moves_it(
    live: Sandbox, http: httpx2.AsyncClient, state_url: str
) -> None:
    clock = FakeClock()
    async with Client(server_on(live, http, state_url, clock)) as client:
        await clock.background_asleep()
        for _ in range(3):
            await client.list_tools()
        assert (clock.now, clock.sleeps) == (START, []), "only the test, or a run's wait, moves the clock"
        await clock.elapse(60)
        assert clock.now == START + 60


async def test_journal_rows_older_than_the_retention_are_removed_at_start(
    live: Sandbox, http: httpx2.AsyncClient, state_url: str
) -> None:
    clock = FakeClock()
    async with open_store(state_url) as store:
        for key, age_days in (("old-start-0001", 31.0), ("new-start-0001", 29.0)):
            request = ReserveRequest(
                caller="c_x", tool="start_generation_run", args_digest=key, idempotency_key=key,
                quote_usd=0.1, cap_usd=None, now=clock.now - age_days * DAY,
            )  # fmt: skip
            await store.reserve(request)
    async with Client(server_on(live, http, state_url, clock, state_retention_days=30)) as client:
        await client.list_tools()
        await clock.background_asleep()  # the upkeep's first purge is over
    async with open_store(state_url) as store:
        assert await store.get("old-start-0001") is None
        assert await store.get("new-start-0001") is not None


async def test_a_reading_already_in_the_journal_is_not_written_again_until_it_changes_or_ages(
    live: Sandbox, http: httpx2.AsyncClient, state_url: str
) -> None:
    clock = FakeClock()
    async with Client(server_on(live, http, state_url, clock)) as client:
        started = await call_ok(client, "start_generation_run", generation(prompt="a mug read often"))
        run_id = (started.structured_content or {})["run_id"]
        await call_ok(client, "get_run", {"run_id": run_id})
        async with open_store(state_url) as store:
            caller = store.fingerprint(live.config.api_key)
            first = await store.find_run(caller, run_id)
        assert first is not None and first.run_finished
        for _ in range(3):
            clock.now += 5
            await call_ok(client, "get_run", {"run_id": run_id})
        async with open_store(state_url) as store:
            again = await store.find_run(caller, run_id)
        assert again is not None and again.updated_at == first.updated_at, "the same reading, not written again"
        clock.now += 61
        await call_ok(client, "get_run", {"run_id": run_id})
        async with open_store(state_url) as store:
            aged = await store.find_run(caller, run_id)
        assert aged is not None and aged.updated_at == clock.now, "written again once a minute has passed"


async def test_a_start_left_in_flight_by_a_stopped_process_is_found_by_the_next_one(
    live: Sandbox, http: httpx2.AsyncClient, state_url: str
) -> None:
    clock = FakeClock()
    # What a process killed mid-start leaves: FLORA made the run, the journal says "in flight".
    answer = await http.post(
        live.base_url("http://sandbox.test") + "/runs/generation",
        json=generation(prompt="an orphan"),
        headers={"Authorization": f"Bearer {live.config.api_key}", "Idempotency-Key": "orphan-key-0001"},
    )
    made = answer.json()["run_id"]
    async with open_store(state_url) as store:
        await store.reserve(
            ReserveRequest(
                caller=store.fingerprint(live.config.api_key),
                tool="start_generation_run",
                args_digest="digest-of-the-orphan",
                idempotency_key="orphan-key-0001",
                quote_usd=0.04,
                cap_usd=None,
                now=clock.now,
                sent_at=clock.now,
                workspace_id="ws_sandbox",
                project_id="prj_sandbox",
            )
        )
    async with Client(server_on(live, http, state_url, clock)):
        await clock.elapse(1)  # a tick
        async with open_store(state_url) as store:
            assert (await _record(store, "orphan-key-0001")).status == "in_flight", "a live send may still be going"
        await clock.elapse(ORPHAN_AFTER_SECONDS)  # the next tick, ORPHAN_AFTER_SECONDS + 1 after the send
    async with open_store(state_url) as store:
        record = await _record(store, "orphan-key-0001")
    assert (record.status, record.run_id) == ("recovered", made)

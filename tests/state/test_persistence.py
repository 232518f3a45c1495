"""What only a store on disk or on a server promises: it outlives the Store object and is shared."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from flora_mcp.state import CapRefused, Reserved, ReserveRequest, StoreError, StoreTooNew, migrations, open_store

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def start(key: str) -> ReserveRequest:
    return ReserveRequest(
        caller="c_" + "a" * 24,
        tool="start_generation_run",
        args_digest="d",
        idempotency_key=key,
        quote_usd=0.25,
        cap_usd=1.0,
        now=1.0,
        prompt_summary="a red kite",
    )


async def test_records_and_fingerprints_survive_a_reopen(store_url: str) -> None:
    async with open_store(store_url) as first:
        fp = first.fingerprint("fl_key_1")
        assert isinstance(await first.reserve(start("k1")), Reserved)
        await first.settle("k1", status="started", now=2.0, run_id="run_1", charged_usd=0.25, run_finished=True)
    async with open_store(store_url) as second:
        assert second.fingerprint("fl_key_1") == fp
        rec = await second.get("k1")
        assert rec is not None and (rec.status, rec.run_id, rec.cost_usd) == ("started", "run_1", 0.25)


async def test_two_stores_on_one_location_share_secrets_and_the_budget(store_url: str) -> None:
    async with open_store(store_url) as a, open_store(store_url) as b:
        assert await a.meta_secret("request-state") == await b.meta_secret("request-state")
        assert a.fingerprint("fl_key_1") == b.fingerprint("fl_key_1")
        for i in range(4):
            assert isinstance(await (a if i % 2 else b).reserve(start(f"k{i}")), Reserved)
        assert isinstance(await a.reserve(start("k9")), CapRefused)
        assert (await b.spend(start("x").caller, None)).in_flight_usd == 1.0


async def test_a_given_secret_keys_fingerprints_the_same_on_every_store(store_url: str) -> None:
    async with open_store(store_url, secret="fleet-secret") as a, open_store("memory", secret="fleet-secret") as b:
        assert a.fingerprint("fl_key_1") == b.fingerprint("fl_key_1")
    async with open_store(store_url) as own:
        assert own.fingerprint("fl_key_1") != b.fingerprint("fl_key_1")


async def _set_schema_version(store_url: str, version: int) -> None:
    if store_url.startswith("sqlite:"):
        path = store_url.removeprefix("sqlite://")
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE flora_meta SET value = ? WHERE name = 'schema_version'", (str(version),))
    else:
        import psycopg

        async with await psycopg.AsyncConnection.connect(store_url, autocommit=True) as conn:
            await conn.execute("UPDATE flora_meta SET value = %s WHERE name = 'schema_version'", (str(version),))


async def test_a_store_written_by_a_newer_flora_mcp_refuses_to_open(store_url: str) -> None:
    async with open_store(store_url):
        pass
    await _set_schema_version(store_url, migrations.LATEST + 1)
    with pytest.raises(StoreTooNew) as refused:
        async with open_store(store_url):
            pass
    message = str(refused.value)
    assert f"schema {migrations.LATEST + 1}, this one knows {migrations.LATEST}" in message
    assert "upgrade flora-mcp or point FLORA_STATE_URL elsewhere" in message


async def test_the_schema_is_at_the_latest_version_after_open(store_url: str) -> None:
    async with open_store(store_url):
        pass
    await _set_schema_version(store_url, migrations.LATEST)
    async with open_store(store_url) as again:
        assert await again.get("nothing") is None


async def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"cannot open the state store at .*state\.db.*FLORA_STATE_URL"):
        async with open_store(f"sqlite://{path}"):
            pass


async def test_the_sqlite_file_is_created_with_its_folder_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "state.db"
    async with open_store(f"sqlite://{path}"):
        pass
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"

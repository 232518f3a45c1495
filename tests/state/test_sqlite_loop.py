"""The SQLite store on the event loop: short steps run there, yet the loop never waits on another's lock."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import anyio
import pytest

from flora_mcp.state import Reserved, ReserveRequest, open_store
from flora_mcp.state import sqlite as sqlite_store

pytestmark = pytest.mark.anyio
CALLER = "c_" + "a" * 24


def start(key: str) -> ReserveRequest:
    return ReserveRequest(
        caller=CALLER,
        tool="start_generation_run",
        args_digest=key,
        idempotency_key=key,
        quote_usd=0.25,
        cap_usd=None,
        now=1.0,
    )


async def test_a_start_waits_for_another_process_lock_without_stopping_the_loop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    async with open_store(url) as store:
        assert isinstance(await store.reserve(start("k0")), Reserved)
        # Another process's writer, holding the file's write lock for 0.5 s.
        other = sqlite3.connect(tmp_path / "state.db", isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.5, other.execute, args=("COMMIT",))
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await anyio.sleep(0.01)

        began = time.monotonic()
        release.start()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(tick)
            result = await store.reserve(start("k1"))
            tasks.cancel_scope.cancel()
        waited = time.monotonic() - began
        other.close()
    assert isinstance(result, Reserved), "the start got the lock once it was released"
    assert waited >= 0.45, "it did wait for the lock"
    assert ticks >= 20, f"the event loop kept running while it waited ({ticks} ticks in {waited:.2f} s)"


async def test_writes_made_on_the_loop_are_checkpointed_so_the_wal_stops_growing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_EVERY", 20)
    path = tmp_path / "state.db"
    wal = tmp_path / "state.db-wal"
    async with open_store(f"sqlite:///{path}") as store:
        for n in range(25):
            assert isinstance(await store.reserve(start(f"k{n:04d}")), Reserved)
        wal_after_25 = wal.stat().st_size
        for n in range(25, 125):
            assert isinstance(await store.reserve(start(f"k{n:04d}")), Reserved)
        wal_after_125 = wal.stat().st_size
    # Without checkpoints the WAL would hold all 125 writes (each adds pages); with them, it is reused.
    assert wal_after_125 <= wal_after_25, (wal_after_25, wal_after_125)
    with sqlite3.connect(path) as reader:
        assert reader.execute("SELECT count(*) FROM starts").fetchone()[0] == 125

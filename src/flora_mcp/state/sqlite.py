"""SQLiteStore: the embedded default, one file shared by every local process that points at it.

WAL mode lets readers run beside a writer; `BEGIN IMMEDIATE` takes the file's write lock at the
start of reserve and settle, so a reservation's reads and its insert cannot interleave with
another process's; `busy_timeout` makes a process wait for that lock instead of failing.
synchronous=NORMAL: in WAL mode a commit survives the process crashing (what restarts of MCP
servers do); only a power cut or OS crash may lose the last commits.

sqlite3 blocks, and waiting for another process's lock can take a while, so the event loop
never waits on the file: a short operation (one record read or changed: tens of microseconds) is
first tried on the loop itself, on a second connection whose busy timeout is zero, so that it
fails at once instead of waiting when another process (or this one's worker thread) holds the
write lock. Only then, and always for operations that may take long (searches, the retention
purge), it runs in a worker thread (anyio.to_thread.run_sync) on the waiting connection,
serialised by a threading.Lock. The hand-off to a thread costs more than most operations
(0.13-0.17 ms), and a start makes four of them.

The loop's connection never checkpoints the WAL by itself (a checkpoint writes the database
file and syncs it, which can take milliseconds on a slow disk); every CHECKPOINT_EVERY writes
made on the loop, one passive checkpoint runs in the worker thread instead.
"""

from __future__ import annotations

import math
import secrets
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from . import migrations, rules, sql
from .base import StoreError
from .records import (
    Existing,
    KeyConflict,
    Reserved,
    ReserveRequest,
    ReserveResult,
    StartRecord,
    TaskRecord,
)
from .sqlbase import SQLStore

T = TypeVar("T")
BUSY_TIMEOUT_MS = 15_000
CHECKPOINT_EVERY = 500
# SQLite's result codes for "another connection holds the lock" (the primary code, in the low byte).
_LOCKED_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _LOCKED_CODES


class SQLiteStore(SQLStore):
    """The journal, ledger and tasks in one SQLite file."""

    def __init__(self, path: Path, *, secret: str | None = None) -> None:
        super().__init__(secret=secret)
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None  # the waiting one, used in a worker thread
        self._loop_conn: sqlite3.Connection | None = None  # the one that never waits, used on the event loop
        self._lock = threading.Lock()
        self._loop_writes = 0

    @property
    def where(self) -> str:
        return str(self.path)

    # -- plumbing --------------------------------------------------------------------------

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, short: bool = True) -> T:
        """Run `fn` on a connection: on the event loop when it is short and the lock is free, else in a thread.

        `fn` must be safe to run again after a "locked" error: one atomic step (rolled back
        when it fails), or statements that change nothing the second time.
        """
        conn, loop_conn = self._conn, self._loop_conn
        if conn is None:
            raise StoreError(f"the state store at {self.path} is not open")
        if short and loop_conn is not None:
            changes = loop_conn.total_changes
            try:
                result = fn(loop_conn)
            except sqlite3.OperationalError as exc:
                if not _is_locked(exc):
                    raise StoreError(f"the state store at {self.path} failed: {exc}") from exc
                # Someone holds the write lock: wait for it in a worker thread, below.
            else:
                if loop_conn.total_changes != changes:
                    await self._count_loop_write()
                return result

        def call() -> T:
            with self._lock:
                try:
                    return fn(conn)
                except sqlite3.OperationalError as exc:
                    raise StoreError(f"the state store at {self.path} failed: {exc}") from exc

        return await anyio.to_thread.run_sync(call)

    async def _count_loop_write(self) -> None:
        self._loop_writes += 1
        if self._loop_writes >= CHECKPOINT_EVERY:
            self._loop_writes = 0
            await self._run(lambda conn: conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone(), short=False)

    @staticmethod
    def _atomic(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn holding the file's write lock, committing on success and rolling back on error."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _connect(self) -> sqlite3.Connection:
        if not self.path.parent.exists():
            # The journal holds prompt summaries: keep the folder private to the user.
            self.path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        try:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"the state store at {self.path} cannot use WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._atomic(conn, self._migrate)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open the state store at {self.path}: {exc}; point FLORA_STATE_URL at another file"
            ) from exc
        return conn

    def _connect_loop(self) -> sqlite3.Connection:
        """The connection used on the event loop: it never waits for a lock and never checkpoints."""
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=0)
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute(migrations.META_TABLE)
        row = conn.execute(migrations.READ_VERSION).fetchone()
        for version, statements in migrations.steps_after(int(row[0]) if row else 0, migrations.SQLITE, self.where):
            for statement in statements:
                conn.execute(statement)
            conn.execute(migrations.WRITE_VERSION, (str(version),))

    async def _open(self) -> None:
        if self._conn is None:
            self._conn = await anyio.to_thread.run_sync(self._connect)
            try:
                self._loop_conn = await anyio.to_thread.run_sync(self._connect_loop)
            except sqlite3.DatabaseError:
                self._loop_conn = None  # every operation then runs in the worker thread, as it can

    async def close(self) -> None:
        loop_conn, self._loop_conn = self._loop_conn, None
        if loop_conn is not None:
            loop_conn.close()
        conn, self._conn = self._conn, None
        if conn is not None:
            await anyio.to_thread.run_sync(conn.close)

    async def meta_secret(self, name: str) -> bytes:
        key = sql.SECRET_NAME.format(name)

        def op(conn: sqlite3.Connection) -> bytes:
            conn.execute(sql.INSERT_SECRET, (key, secrets.token_hex(32)))
            return bytes.fromhex(conn.execute(sql.SELECT_META, (key,)).fetchone()[0])

        return await self._run(op)

    # -- the ledger and the journal --------------------------------------------------------

    async def reserve(self, req: ReserveRequest) -> ReserveResult:
        def op(conn: sqlite3.Connection) -> ReserveResult:
            row = conn.execute(sql.SELECT_BY_KEY, (req.idempotency_key,)).fetchone()
            if row is not None:
                existing = sql.start_from_row(row)
                clash = rules.key_clash(existing, req)
                return Existing(existing, "same_key") if clash is None else KeyConflict(clash)
            if req.repeat_since is not None:
                args = (req.caller, req.tool, req.args_digest, req.repeat_since)
                row = conn.execute(sql.SELECT_REPEAT, args).fetchone()
                if row is not None:
                    return Existing(sql.start_from_row(row), "repeat")
            if req.cap_usd is not None:
                since = -math.inf if req.window_start is None else req.window_start
                summary, unknown = sql.summary_from_row(conn.execute(sql.SPEND, (req.caller, since)).fetchone())
                refusal = rules.cap_refusal(req, summary, unknown)
                if refusal is not None:
                    return refusal
            rec = rules.new_record(req)
            conn.execute(sql.INSERT_START, sql.start_params(rec))
            return Reserved(rec)

        return await self._run(lambda conn: self._atomic(conn, op))

    async def mark_sent(self, key: str, now: float) -> None:
        await self._run(lambda conn: conn.execute(sql.MARK_SENT, (now, now, key)))

    async def _change(self, query: str, args: tuple[Any, ...], change: Callable[[StartRecord], StartRecord]) -> Any:
        """Read one record under the write lock, apply a rule, write it back."""

        def op(conn: sqlite3.Connection) -> StartRecord | None:
            row = conn.execute(query, args).fetchone()
            if row is None:
                return None
            rec = change(sql.start_from_row(row))
            conn.execute(sql.UPDATE_START, sql.update_params(rec))
            return rec

        return await self._run(lambda conn: self._atomic(conn, op))

    async def _fetchone(self, query: str, args: tuple[Any, ...] | list[Any]) -> Any:
        return await self._run(lambda conn: conn.execute(query, args).fetchone())

    async def _fetchall(self, query: str, args: tuple[Any, ...] | list[Any]) -> list[Any]:
        # A search may read many rows: in the worker thread, never on the loop.
        return await self._run(lambda conn: conn.execute(query, args).fetchall(), short=False)

    async def claimed_run_ids(self, run_ids: list[str]) -> set[str]:
        if not run_ids:
            return set()
        marks = ", ".join("?" * len(run_ids))
        query = f"SELECT DISTINCT run_id FROM starts WHERE run_id IN ({marks})"
        rows = await self._fetchall(query, tuple(run_ids))
        return {row[0] for row in rows}

    async def purge(self, older_than: float) -> int:
        def op(conn: sqlite3.Connection) -> int:
            gone = conn.execute(sql.PURGE_STARTS, (older_than,)).rowcount
            return int(gone + conn.execute(sql.PURGE_TASKS, (older_than,)).rowcount)

        return await self._run(lambda conn: self._atomic(conn, op), short=False)

    # -- tasks -----------------------------------------------------------------------------

    async def create_task(self, task: TaskRecord) -> None:
        def op(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(sql.INSERT_TASK, sql.task_params(task))
            except sqlite3.IntegrityError as exc:
                raise ValueError(f"task id {task.task_id!r} is already in use") from exc

        await self._run(op)

    async def update_task(
        self,
        task_id: str,
        *,
        now: float,
        status: str | None = None,
        status_message: str | None = None,
        result: dict[str, Any] | None = None,
        poll_interval_ms: int | None = None,
        cancel_requested: bool | None = None,
    ) -> TaskRecord | None:
        def op(conn: sqlite3.Connection) -> TaskRecord | None:
            row = conn.execute(sql.SELECT_TASK, (task_id,)).fetchone()
            if row is None:
                return None
            task = rules.task_updated(
                sql.task_from_row(row),
                now=now,
                status=status,
                status_message=status_message,
                result=result,
                poll_interval_ms=poll_interval_ms,
                cancel_requested=cancel_requested,
            )
            conn.execute(sql.UPDATE_TASK, sql.task_update_params(task))
            return task

        return await self._run(lambda conn: self._atomic(conn, op))

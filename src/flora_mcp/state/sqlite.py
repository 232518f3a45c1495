"""SQLiteStore: the embedded default, one file shared by every local process that points at it.

WAL mode lets readers run beside a writer; `BEGIN IMMEDIATE` takes the file's write lock at the
start of reserve and settle, so a reservation's reads and its insert cannot interleave with
another process's; `busy_timeout` makes a process wait for that lock instead of failing.
synchronous=NORMAL: in WAL mode a commit survives the process crashing (what restarts of MCP
servers do); only a power cut or OS crash may lose the last commits.

sqlite3 blocks, and waiting for another process's lock can take a while, so every operation
runs in a worker thread (anyio.to_thread.run_sync) on the store's one connection, serialised by
a threading.Lock: the event loop never waits on the file.
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


class SQLiteStore(SQLStore):
    """The journal, ledger and tasks in one SQLite file."""

    def __init__(self, path: Path, *, secret: str | None = None) -> None:
        super().__init__(secret=secret)
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return str(self.path)

    # -- plumbing --------------------------------------------------------------------------

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise StoreError(f"the state store at {self.path} is not open")

        def call() -> T:
            with self._lock:
                try:
                    return fn(conn)
                except sqlite3.OperationalError as exc:
                    raise StoreError(f"the state store at {self.path} failed: {exc}") from exc

        return await anyio.to_thread.run_sync(call)

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

    async def close(self) -> None:
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
        return await self._run(lambda conn: conn.execute(query, args).fetchall())

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

        return await self._run(lambda conn: self._atomic(conn, op))

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

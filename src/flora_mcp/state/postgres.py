"""PostgresStore: one journal and one budget for every replica pointed at the same database.

psycopg 3, async, over a small connection pool. A reservation is one transaction that first takes
`pg_advisory_xact_lock` on a 64-bit hash of the caller: two reservations of one caller, in any
processes, run one after the other, so the cap check and the insert cannot interleave; different
callers do not wait for each other. The lock goes with the transaction, so a process that dies
mid-reservation cannot leave it held. Settles lock the record's row (SELECT ... FOR UPDATE).
Migrations run under a fixed advisory lock, so replicas starting together migrate once.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg import AsyncConnection

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
MIGRATION_LOCK = 0x466C6F72614D4350  # "FloraMCP": one lock id for every flora-mcp migrating this database
POOL_SIZE = 8


def _q(query: str) -> str:
    """The shared "?" placeholders in psycopg's style."""
    return query.replace("?", "%s")


def caller_lock(caller: str) -> int:
    """The advisory lock id of a caller: a signed 64-bit hash (a collision only makes two callers take turns)."""
    return int.from_bytes(hashlib.blake2b(caller.encode(), digest_size=8).digest(), "big", signed=True)


class PostgresStore(SQLStore):
    """The journal, ledger and tasks in a PostgreSQL database."""

    def __init__(self, url: str, *, secret: str | None = None) -> None:
        super().__init__(secret=secret)
        self.url = url
        self._pool: psycopg_pool.AsyncConnectionPool | None = None

    @property
    def where(self) -> str:
        from . import redact

        return redact(self.url).split("?", 1)[0]

    # -- plumbing --------------------------------------------------------------------------

    async def _with(
        self, fn: Callable[[AsyncConnection], Awaitable[T]], *, atomic: bool = False, pipelined: bool = False
    ) -> T:
        """Run fn on a pooled connection; database errors become StoreError.

        atomic: in one transaction. pipelined: in pipeline mode too, so statements fn sends before
        it reads a result travel together (one round trip instead of one each).
        """
        if self._pool is None:
            raise StoreError(f"the state store at {self.where} is not open")
        try:
            async with self._pool.connection() as conn:
                if not atomic:
                    return await fn(conn)
                if not pipelined:
                    async with conn.transaction():
                        return await fn(conn)
                async with conn.pipeline(), conn.transaction():
                    return await fn(conn)
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            raise StoreError(f"the state store at {self.where} failed: {exc}") from exc

    async def _open(self) -> None:
        if self._pool is not None:
            return
        pool = psycopg_pool.AsyncConnectionPool(
            self.url, min_size=1, max_size=POOL_SIZE, open=False, kwargs={"autocommit": True}, name="flora-state"
        )
        try:
            await pool.open(wait=True, timeout=15)
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            await pool.close()
            raise StoreError(
                f"cannot reach the state store at {self.where}: {exc}; check the server, or point FLORA_STATE_URL"
                " elsewhere"
            ) from exc
        self._pool = pool
        try:
            await self._with(self._migrate, atomic=True)
        except BaseException:
            await self.close()
            raise

    async def _migrate(self, conn: AsyncConnection) -> None:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await conn.execute(migrations.META_TABLE)
        row = await (await conn.execute(migrations.READ_VERSION)).fetchone()
        for version, statements in migrations.steps_after(int(row[0]) if row else 0, migrations.POSTGRES, self.where):
            for statement in statements:
                await conn.execute(statement)
            await conn.execute(_q(migrations.WRITE_VERSION), (str(version),))

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _fetchone(self, query: str, args: tuple[Any, ...] | list[Any]) -> Any:
        async def op(conn: AsyncConnection) -> Any:
            return await (await conn.execute(_q(query), args)).fetchone()

        return await self._with(op)

    async def _fetchall(self, query: str, args: tuple[Any, ...] | list[Any]) -> list[Any]:
        async def op(conn: AsyncConnection) -> list[Any]:
            return await (await conn.execute(_q(query), args)).fetchall()

        return await self._with(op)

    async def meta_secret(self, name: str) -> bytes:
        key = sql.SECRET_NAME.format(name)

        async def op(conn: AsyncConnection) -> bytes:
            await conn.execute(_q(sql.INSERT_SECRET), (key, secrets.token_hex(32)))
            row = await (await conn.execute(_q(sql.SELECT_META), (key,))).fetchone()
            assert row is not None
            return bytes.fromhex(row[0])

        return await self._with(op)

    # -- the ledger and the journal --------------------------------------------------------

    async def reserve(self, req: ReserveRequest) -> ReserveResult:
        async def op(conn: AsyncConnection) -> ReserveResult:
            # One round trip for the lock and the three reads (pipelined; each read's snapshot
            # is taken after the lock statement finished), one for the insert and the commit.
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (caller_lock(req.caller),))
            by_key = await conn.execute(_q(sql.SELECT_BY_KEY), (req.idempotency_key,))
            repeat = since = None
            if req.repeat_since is not None:
                args = (req.caller, req.tool, req.args_digest, req.repeat_since)
                repeat = await conn.execute(_q(sql.SELECT_REPEAT), args)
            if req.cap_usd is not None:
                window = -math.inf if req.window_start is None else req.window_start
                since = await conn.execute(_q(sql.SPEND), (req.caller, window))
            row = await by_key.fetchone()
            if row is not None:
                existing = sql.start_from_row(row)
                clash = rules.key_clash(existing, req)
                return Existing(existing, "same_key") if clash is None else KeyConflict(clash)
            if repeat is not None and (row := await repeat.fetchone()) is not None:
                return Existing(sql.start_from_row(row), "repeat")
            if since is not None:
                totals = await since.fetchone()
                assert totals is not None  # an aggregate always has a row
                summary, unknown = sql.summary_from_row(totals)
                refusal = rules.cap_refusal(req, summary, unknown)
                if refusal is not None:
                    return refusal
            rec = rules.new_record(req)
            await conn.execute(_q(sql.INSERT_START), sql.start_params(rec))
            return Reserved(rec)

        try:
            return await self._with(op, atomic=True, pipelined=True)
        except psycopg.errors.UniqueViolation:
            # Another caller inserted this very key meanwhile (caller locks do not exclude each
            # other); run again: the key lookup now answers.
            return await self._with(op, atomic=True, pipelined=True)

    async def mark_sent(self, key: str, now: float) -> None:
        async def op(conn: AsyncConnection) -> None:
            await conn.execute(_q(sql.MARK_SENT), (now, now, key))

        await self._with(op)

    async def _change(
        self, query: str, args: tuple[Any, ...], change: Callable[[StartRecord], StartRecord]
    ) -> StartRecord | None:
        """Lock one record's row, apply a rule, write it back.

        The commit does not wait for the WAL flush (synchronous_commit off for this transaction
        only): should the database server crash within that moment, the record keeps its
        previous state, which is the cautious one (an in-flight start still counts at its quote,
        and the charge re-check reads the charge again). Reservations do wait for the flush.
        """

        async def op(conn: AsyncConnection) -> StartRecord | None:
            await conn.execute("SET LOCAL synchronous_commit TO off")
            row = await (await conn.execute(_q(query) + " FOR UPDATE", args)).fetchone()
            if row is None:
                return None
            rec = change(sql.start_from_row(row))
            await conn.execute(_q(sql.UPDATE_START), sql.update_params(rec))
            return rec

        return await self._with(op, atomic=True, pipelined=True)

    async def claimed_run_ids(self, run_ids: list[str]) -> set[str]:
        if not run_ids:
            return set()
        rows = await self._fetchall("SELECT DISTINCT run_id FROM starts WHERE run_id = ANY(?)", (list(run_ids),))
        return {row[0] for row in rows}

    async def purge(self, older_than: float) -> int:
        async def op(conn: AsyncConnection) -> int:
            starts = await conn.execute(_q(sql.PURGE_STARTS), (older_than,))
            tasks = await conn.execute(_q(sql.PURGE_TASKS), (older_than,))
            return max(starts.rowcount, 0) + max(tasks.rowcount, 0)

        return await self._with(op, atomic=True)

    # -- tasks -----------------------------------------------------------------------------

    async def create_task(self, task: TaskRecord) -> None:
        async def op(conn: AsyncConnection) -> None:
            await conn.execute(_q(sql.INSERT_TASK), sql.task_params(task))

        try:
            await self._with(op)
        except psycopg.errors.UniqueViolation as exc:
            raise ValueError(f"task id {task.task_id!r} is already in use") from exc

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
        async def op(conn: AsyncConnection) -> TaskRecord | None:
            row = await (await conn.execute(_q(sql.SELECT_TASK) + " FOR UPDATE", (task_id,))).fetchone()
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
            await conn.execute(_q(sql.UPDATE_TASK), sql.task_update_params(task))
            return task

        return await self._with(op, atomic=True)

"""SQLStore: what SQLiteStore and PostgresStore do the same way, over the SQL in sql.py.

A database store gives three primitives: `_fetchone` and `_fetchall` (one read, rows as the
shared SQL selects them) and `_change` (read one start record under the database's lock, apply
a pure change from rules.py, write it back, in one transaction). Everything built only from
those lives here, once; what needs each database's own locking or errors stays in its module.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from typing import Any

from . import rules, sql
from .base import Store
from .records import SpendSummary, StartRecord, TaskRecord


class SQLStore(Store):
    """The reads and the record changes both database stores share."""

    @abc.abstractmethod
    async def _fetchone(self, query: str, args: tuple[Any, ...] | list[Any]) -> Any:
        """One row of `query` (written with "?" placeholders), or None."""

    @abc.abstractmethod
    async def _fetchall(self, query: str, args: tuple[Any, ...] | list[Any]) -> list[Any]:
        """Every row of `query` (written with "?" placeholders)."""

    @abc.abstractmethod
    async def _change(
        self, query: str, args: tuple[Any, ...], change: Callable[[StartRecord], StartRecord]
    ) -> StartRecord | None:
        """The record `query` selects, changed by `change` and written back atomically; None if there is none."""

    async def settle(
        self,
        key: str,
        *,
        status: str,
        now: float,
        run_id: str | None = None,
        charged_usd: float | None = None,
        model_id: str | None = None,
        run_status: str | None = None,
        run_finished: bool | None = None,
        outputs: list[dict[str, Any]] | None = None,
    ) -> StartRecord | None:
        rules.next_status("in_flight", status)  # a bad status is an error before any I/O

        def change(rec: StartRecord) -> StartRecord:
            return rules.settled(
                rec,
                status=status,
                now=now,
                run_id=run_id,
                charged_usd=charged_usd,
                model_id=model_id,
                run_status=run_status,
                run_finished=run_finished,
                outputs=outputs,
            )

        return await self._change(sql.SELECT_BY_KEY, (key,), change)

    async def observe_run(
        self,
        caller: str,
        run_id: str,
        *,
        now: float,
        run_status: str | None,
        finished: bool,
        charged_usd: float | None,
        outputs: list[dict[str, Any]] | None = None,
    ) -> StartRecord | None:
        return await self._change(
            sql.SELECT_RUN,
            (caller, run_id),
            lambda rec: rules.observed(
                rec, now=now, run_status=run_status, finished=finished, charged_usd=charged_usd, outputs=outputs
            ),
        )

    async def _record(self, query: str, args: tuple[Any, ...]) -> StartRecord | None:
        row = await self._fetchone(query, args)
        return sql.start_from_row(row) if row is not None else None

    async def _records(self, query: str, args: tuple[Any, ...] | list[Any]) -> list[StartRecord]:
        return [sql.start_from_row(row) for row in await self._fetchall(query, args)]

    async def get(self, key: str) -> StartRecord | None:
        return await self._record(sql.SELECT_BY_KEY, (key,))

    async def find_run(self, caller: str, run_id: str) -> StartRecord | None:
        return await self._record(sql.SELECT_RUN, (caller, run_id))

    async def find_repeat(self, caller: str, tool: str, args_digest: str, since: float) -> StartRecord | None:
        return await self._record(sql.SELECT_REPEAT, (caller, tool, args_digest, since))

    async def spend(self, caller: str, since: float | None) -> SpendSummary:
        row = await self._fetchone(sql.SPEND, (caller, -math.inf if since is None else since))
        return sql.summary_from_row(row)[0]

    async def recent(self, caller: str, limit: int = 20) -> list[StartRecord]:
        return await self.search(caller, limit=limit)

    async def search(
        self,
        caller: str,
        *,
        text: str | None = None,
        tool: str | None = None,
        status: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 20,
    ) -> list[StartRecord]:
        query, params = sql.search(caller, text=text, tool=tool, status=status, since=since, until=until, limit=limit)
        return await self._records(query, params)

    async def needing_charge_recheck(
        self, older_than: float, limit: int = 50, *, caller: str | None = None, created_since: float | None = None
    ) -> list[StartRecord]:
        return await self._records(sql.RECHECK, sql.recheck_params(older_than, limit, caller, created_since))

    async def get_task(self, task_id: str, caller: str) -> TaskRecord | None:
        row = await self._fetchone(sql.SELECT_TASK, (task_id,))
        if row is None:
            return None
        task = sql.task_from_row(row)
        return task if task.caller == caller else None

"""MemoryStore: the state in this process's memory, for tests and for people who want nothing on disk.

One asyncio.Lock makes each operation atomic. Records are frozen; their `outputs`, `run_refs`
and `result` are deep-copied on the way in and out so a caller's later edits cannot reach the store.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
from asyncio import Lock
from typing import Any

from . import rules
from .base import Store
from .records import (
    Existing,
    KeyConflict,
    Reserved,
    ReserveRequest,
    ReserveResult,
    SpendSummary,
    StartRecord,
    TaskRecord,
)


def _copy(rec: StartRecord) -> StartRecord:
    return dataclasses.replace(rec, outputs=copy.deepcopy(rec.outputs))


def _copy_task(task: TaskRecord) -> TaskRecord:
    return dataclasses.replace(task, run_refs=copy.deepcopy(task.run_refs), result=copy.deepcopy(task.result))


class MemoryStore(Store):
    """Everything in dicts; gone when the process ends."""

    def __init__(self, *, secret: str | None = None) -> None:
        super().__init__(secret=secret)
        self._lock = Lock()
        self._starts: dict[str, StartRecord] = {}
        self._tasks: dict[str, TaskRecord] = {}
        self._secrets: dict[str, bytes] = {}

    async def _open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    @property
    def where(self) -> str:
        return "memory"

    async def meta_secret(self, name: str) -> bytes:
        return self._secrets.setdefault(name, secrets.token_bytes(32))

    def _callers(self, caller: str) -> list[StartRecord]:
        return [r for r in self._starts.values() if r.caller == caller]

    async def reserve(self, req: ReserveRequest) -> ReserveResult:
        async with self._lock:
            existing = self._starts.get(req.idempotency_key)
            if existing is not None:
                clash = rules.key_clash(existing, req)
                return Existing(_copy(existing), "same_key") if clash is None else KeyConflict(clash)
            mine = self._callers(req.caller)
            if req.repeat_since is not None:
                repeats = [
                    r
                    for r in mine
                    if r.tool == req.tool
                    and r.args_digest == req.args_digest
                    and r.created_at >= req.repeat_since
                    and r.status != "not_started"
                ]
                if repeats:
                    return Existing(_copy(max(repeats, key=lambda r: r.created_at)), "repeat")
            if req.cap_usd is not None:
                window = [r for r in mine if req.window_start is None or r.created_at >= req.window_start]
                unknown = sum(1 for r in window if r.status == "in_flight" and r.quote_usd is None)
                refusal = rules.cap_refusal(req, rules.summarize(window), unknown)
                if refusal is not None:
                    return refusal
            rec = rules.new_record(req)
            self._starts[rec.idempotency_key] = rec
            return Reserved(_copy(rec))

    async def mark_sent(self, key: str, now: float) -> None:
        async with self._lock:
            rec = self._starts.get(key)
            if rec is not None and rec.sent_at is None:
                self._starts[key] = dataclasses.replace(rec, sent_at=now, updated_at=now)

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
        async with self._lock:
            rec = self._starts.get(key)
            if rec is None:
                rules.next_status("in_flight", status)  # a bad status is an error even for an unknown key
                return None
            rec = rules.settled(
                rec,
                status=status,
                now=now,
                run_id=run_id,
                charged_usd=charged_usd,
                model_id=model_id,
                run_status=run_status,
                run_finished=run_finished,
                outputs=copy.deepcopy(outputs),
            )
            self._starts[key] = rec
            return _copy(rec)

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
        async with self._lock:
            rec = next((r for r in self._starts.values() if r.caller == caller and r.run_id == run_id), None)
            if rec is None:
                return None
            rec = rules.observed(
                rec,
                now=now,
                run_status=run_status,
                finished=finished,
                charged_usd=charged_usd,
                outputs=copy.deepcopy(outputs),
            )
            self._starts[rec.idempotency_key] = rec
            return _copy(rec)

    async def get(self, key: str) -> StartRecord | None:
        rec = self._starts.get(key)
        return _copy(rec) if rec is not None else None

    async def find_run(self, caller: str, run_id: str) -> StartRecord | None:
        rec = next((r for r in self._starts.values() if r.caller == caller and r.run_id == run_id), None)
        return _copy(rec) if rec is not None else None

    async def find_repeat(self, caller: str, tool: str, args_digest: str, since: float) -> StartRecord | None:
        repeats = [
            r
            for r in self._callers(caller)
            if r.tool == tool and r.args_digest == args_digest and r.created_at >= since and r.status != "not_started"
        ]
        return _copy(max(repeats, key=lambda r: r.created_at)) if repeats else None

    async def claimed_run_ids(self, run_ids: list[str]) -> set[str]:
        held = {r.run_id for r in self._starts.values() if r.run_id is not None}
        return held.intersection(run_ids)

    async def spend(self, caller: str, since: float | None) -> SpendSummary:
        return rules.summarize(r for r in self._callers(caller) if since is None or r.created_at >= since)

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
        found = [
            r
            for r in self._callers(caller)
            if rules.matches(r, text=text, tool=tool, status=status, since=since, until=until)
        ]
        # Newest first; records booked at the same instant, the later booking first.
        found.reverse()
        found.sort(key=lambda r: r.created_at, reverse=True)
        return [_copy(r) for r in found[: max(limit, 0)]]

    async def needing_charge_recheck(
        self, older_than: float, limit: int = 50, *, caller: str | None = None, created_since: float | None = None
    ) -> list[StartRecord]:
        due = [
            r
            for r in self._starts.values()
            if r.run_finished
            and (r.charge_checked_at is None or r.charge_checked_at < older_than)
            and (caller is None or r.caller == caller)
            and (created_since is None or r.created_at >= created_since)
        ]
        due.sort(key=lambda r: r.charge_checked_at or 0.0)
        return [_copy(r) for r in due[: max(limit, 0)]]

    async def purge(self, older_than: float) -> int:
        async with self._lock:
            old = [k for k, r in self._starts.items() if r.created_at < older_than]
            old_tasks = [k for k, t in self._tasks.items() if t.created_at < older_than]
            for k in old:
                del self._starts[k]
            for k in old_tasks:
                del self._tasks[k]
            return len(old) + len(old_tasks)

    async def create_task(self, task: TaskRecord) -> None:
        async with self._lock:
            if task.task_id in self._tasks:
                raise ValueError(f"task id {task.task_id!r} is already in use")
            self._tasks[task.task_id] = _copy_task(task)

    async def get_task(self, task_id: str, caller: str) -> TaskRecord | None:
        task = self._tasks.get(task_id)
        return _copy_task(task) if task is not None and task.caller == caller else None

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
        async with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                return None
            task = rules.task_updated(
                task,
                now=now,
                status=status,
                status_message=status_message,
                result=copy.deepcopy(result),
                poll_interval_ms=poll_interval_ms,
                cancel_requested=cancel_requested,
            )
            self._tasks[task_id] = task
            return _copy_task(task)

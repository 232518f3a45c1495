"""The SQL both database stores speak, with "?" placeholders (PostgreSQL swaps them for "%s").

Also the conversions between rows and records: JSON columns, booleans SQLite keeps as 0/1, and
`summary_folded`, a lowercased copy of the prompt summary made in Python so that a search is
case-insensitive for every script on both databases (SQLite's lower() knows only ASCII, and
PostgreSQL's depends on the database's locale).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .records import SpendSummary, StartRecord, TaskRecord

START_COLUMNS = (
    "idempotency_key",
    "caller",
    "tool",
    "args_digest",
    "status",
    "workspace_id",
    "project_id",
    "technique_id",
    "model_id",
    "prompt_summary",
    "quote_usd",
    "charged_usd",
    "run_id",
    "run_status",
    "run_finished",
    "outputs",
    "created_at",
    "sent_at",
    "updated_at",
    "charge_checked_at",
)
TASK_COLUMNS = (
    "task_id",
    "caller",
    "tool",
    "run_refs",
    "status",
    "status_message",
    "result",
    "poll_interval_ms",
    "ttl_ms",
    "created_at",
    "updated_at",
    "cancel_requested",
)
_STARTS = ", ".join(START_COLUMNS)
_TASKS = ", ".join(TASK_COLUMNS)

SELECT_BY_KEY = f"SELECT {_STARTS} FROM starts WHERE idempotency_key = ?"
SELECT_REPEAT = (
    f"SELECT {_STARTS} FROM starts WHERE caller = ? AND tool = ? AND args_digest = ? AND created_at >= ?"
    " AND status <> 'not_started' ORDER BY created_at DESC LIMIT 1"
)
SELECT_RUN = f"SELECT {_STARTS} FROM starts WHERE caller = ? AND run_id = ? ORDER BY created_at LIMIT 1"
INSERT_START = f"INSERT INTO starts ({_STARTS}, summary_folded) VALUES ({', '.join('?' * (len(START_COLUMNS) + 1))})"
UPDATE_START = (
    "UPDATE starts SET status = ?, model_id = ?, charged_usd = ?, run_id = ?, run_status = ?, run_finished = ?,"
    " outputs = ?, updated_at = ?, charge_checked_at = ? WHERE idempotency_key = ?"
)
MARK_SENT = "UPDATE starts SET sent_at = ?, updated_at = ? WHERE idempotency_key = ? AND sent_at IS NULL"

# One row: spent, unconfirmed, in flight, starts, unpriced, unpriced in flight. Params: caller, since
# (-inf for "all": both databases order -inf below every time, and a NULL parameter would need a type).
SPEND = """SELECT
    COALESCE(SUM(CASE WHEN status IN ('started', 'accepted_earlier', 'recovered')
                      THEN COALESCE(charged_usd, quote_usd, 0) END), 0),
    COALESCE(SUM(CASE WHEN status = 'unknown' THEN COALESCE(charged_usd, quote_usd, 0) END), 0),
    COALESCE(SUM(CASE WHEN status = 'in_flight' THEN COALESCE(charged_usd, quote_usd, 0) END), 0),
    COUNT(*),
    COALESCE(SUM(CASE WHEN charged_usd IS NULL AND quote_usd IS NULL THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN status = 'in_flight' AND quote_usd IS NULL THEN 1 ELSE 0 END), 0)
  FROM starts
  WHERE caller = ? AND created_at >= ?
    AND status IN ('in_flight', 'started', 'unknown', 'accepted_earlier', 'recovered')"""

RECHECK = (
    f"SELECT {_STARTS} FROM starts WHERE run_finished = ? AND (charge_checked_at IS NULL OR charge_checked_at < ?)"
    " AND (CAST(? AS TEXT) IS NULL OR caller = ?) AND created_at >= ?"
    " ORDER BY COALESCE(charge_checked_at, 0), created_at LIMIT ?"
)


def recheck_params(older_than: float, limit: int, caller: str | None, created_since: float | None) -> tuple[Any, ...]:
    """Parameters of RECHECK (`Store.needing_charge_recheck` has the rules)."""
    return (True, older_than, caller, caller, -1e18 if created_since is None else created_since, max(limit, 0))


PURGE_STARTS = "DELETE FROM starts WHERE created_at < ?"
PURGE_TASKS = "DELETE FROM tasks WHERE created_at < ?"

SECRET_NAME = "secret:{}"
INSERT_SECRET = "INSERT INTO flora_meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
SELECT_META = "SELECT value FROM flora_meta WHERE name = ?"

INSERT_TASK = f"INSERT INTO tasks ({_TASKS}) VALUES ({', '.join('?' * len(TASK_COLUMNS))})"
SELECT_TASK = f"SELECT {_TASKS} FROM tasks WHERE task_id = ?"
UPDATE_TASK = (
    "UPDATE tasks SET status = ?, status_message = ?, result = ?, poll_interval_ms = ?, updated_at = ?,"
    " cancel_requested = ? WHERE task_id = ?"
)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _unjson(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def start_from_row(row: Sequence[Any]) -> StartRecord:
    values = dict(zip(START_COLUMNS, row, strict=True))
    values["run_finished"] = bool(values["run_finished"])
    values["outputs"] = _unjson(values["outputs"])
    return StartRecord(**values)


def start_params(rec: StartRecord) -> tuple[Any, ...]:
    """INSERT_START's parameters."""
    values = [getattr(rec, name) for name in START_COLUMNS]
    values[START_COLUMNS.index("outputs")] = _json(rec.outputs)
    folded = rec.prompt_summary.lower() if rec.prompt_summary is not None else None
    return (*values, folded)


def update_params(rec: StartRecord) -> tuple[Any, ...]:
    """UPDATE_START's parameters."""
    return (
        rec.status,
        rec.model_id,
        rec.charged_usd,
        rec.run_id,
        rec.run_status,
        rec.run_finished,
        _json(rec.outputs),
        rec.updated_at,
        rec.charge_checked_at,
        rec.idempotency_key,
    )


def summary_from_row(row: Sequence[Any]) -> tuple[SpendSummary, int]:
    """SPEND's row as a SpendSummary and the count of unpriced starts in flight."""
    spent, unconfirmed, in_flight, starts, unpriced, unknown_in_flight = row
    return SpendSummary(float(spent), float(unconfirmed), float(in_flight), int(starts), int(unpriced)), int(
        unknown_in_flight
    )


def task_from_row(row: Sequence[Any]) -> TaskRecord:
    values = dict(zip(TASK_COLUMNS, row, strict=True))
    values["run_refs"] = _unjson(values["run_refs"])
    values["result"] = _unjson(values["result"])
    values["cancel_requested"] = bool(values["cancel_requested"])
    return TaskRecord(**values)


def task_params(task: TaskRecord) -> tuple[Any, ...]:
    values = [getattr(task, name) for name in TASK_COLUMNS]
    values[TASK_COLUMNS.index("run_refs")] = _json(task.run_refs)
    values[TASK_COLUMNS.index("result")] = _json(task.result)
    return tuple(values)


def task_update_params(task: TaskRecord) -> tuple[Any, ...]:
    return (
        task.status,
        task.status_message,
        _json(task.result),
        task.poll_interval_ms,
        task.updated_at,
        task.cancel_requested,
        task.task_id,
    )


def search(
    caller: str,
    *,
    text: str | None,
    tool: str | None,
    status: str | None,
    since: float | None,
    until: float | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """The search query for the given filters and its parameters (`Store.search` has the rules)."""
    where = ["caller = ?"]
    params: list[Any] = [caller]
    if text is not None:
        # LIKE with every wildcard in the text escaped: a plain substring test on the folded copy.
        pattern = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("summary_folded LIKE ? ESCAPE '\\'")
        params.append(f"%{pattern}%")
    if tool is not None:
        where.append("tool = ?")
        params.append(tool)
    if status is not None:
        where.append("(status = ? OR run_status = ?)")
        params += [status, status]
    if since is not None:
        where.append("created_at >= ?")
        params.append(since)
    if until is not None:
        where.append("created_at < ?")
        params.append(until)
    params.append(max(limit, 0))
    query = f"SELECT {_STARTS} FROM starts WHERE {' AND '.join(where)} ORDER BY created_at DESC LIMIT ?"
    return query, params

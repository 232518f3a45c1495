"""Versioned schema migrations for the SQL stores, run at open.

The version lives in the `flora_meta` table (row "schema_version"); that table is created before
anything else and never changes shape, so any flora-mcp can read the version of any store. Each
backend has its list of steps; step N takes a store from version N-1 to N. A store whose version
is above the newest step here was written by a newer flora-mcp and is refused (`StoreTooNew`)
rather than guessed at. Add a step at the end; never edit a released one.
"""

from __future__ import annotations

from .base import StoreTooNew

META_TABLE = "CREATE TABLE IF NOT EXISTS flora_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
READ_VERSION = "SELECT value FROM flora_meta WHERE name = 'schema_version'"
WRITE_VERSION = (
    "INSERT INTO flora_meta (name, value) VALUES ('schema_version', ?)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)


def _schema_v1(real: str, boolean: str) -> list[str]:
    """Version 1, in the column types of a backend (SQLite and PostgreSQL differ only in these)."""
    return [
        f"""CREATE TABLE starts (
            idempotency_key TEXT PRIMARY KEY,
            caller TEXT NOT NULL,
            tool TEXT NOT NULL,
            args_digest TEXT NOT NULL,
            status TEXT NOT NULL,
            workspace_id TEXT, project_id TEXT, technique_id TEXT, model_id TEXT,
            prompt_summary TEXT,
            summary_folded TEXT,
            quote_usd {real}, charged_usd {real},
            run_id TEXT, run_status TEXT,
            run_finished {boolean} NOT NULL,
            outputs TEXT,
            created_at {real} NOT NULL, sent_at {real}, updated_at {real} NOT NULL,
            charge_checked_at {real}
        )""",
        "CREATE INDEX starts_by_caller ON starts (caller, created_at)",
        "CREATE INDEX starts_by_args ON starts (caller, tool, args_digest, created_at)",
        "CREATE INDEX starts_by_run ON starts (run_id)",
        "CREATE INDEX starts_by_recheck ON starts (run_finished, charge_checked_at)",
        f"""CREATE TABLE tasks (
            task_id TEXT PRIMARY KEY,
            caller TEXT NOT NULL,
            tool TEXT NOT NULL,
            run_refs TEXT NOT NULL,
            status TEXT NOT NULL,
            status_message TEXT,
            result TEXT,
            poll_interval_ms BIGINT, ttl_ms BIGINT,
            created_at {real} NOT NULL, updated_at {real} NOT NULL,
            cancel_requested {boolean} NOT NULL
        )""",
        "CREATE INDEX tasks_by_created ON tasks (created_at)",
    ]


SQLITE: list[list[str]] = [_schema_v1("REAL", "INTEGER")]
POSTGRES: list[list[str]] = [_schema_v1("DOUBLE PRECISION", "BOOLEAN")]
LATEST = len(SQLITE)
assert len(POSTGRES) == LATEST, "every backend has every schema version"


def steps_after(found: int, steps: list[list[str]], where: str) -> list[tuple[int, list[str]]]:
    """The (version, statements) still to run on a store at version `found`; refuses a newer store."""
    if found > len(steps):
        raise StoreTooNew(where, found, len(steps))
    return [(version, steps[version - 1]) for version in range(found + 1, len(steps) + 1)]

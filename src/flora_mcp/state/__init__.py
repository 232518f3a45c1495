"""State that outlives the process: the run journal, the spend ledger and the task table.

`open_store(url)` picks the backend from FLORA_STATE_URL:

    memory                              this process only (tests; nothing on disk)
    sqlite:///abs/path/state.db         a SQLite file, shared by the local processes using it
    sqlite:relative/state.db            the same, relative to the working directory
    postgresql://user@host:port/db      PostgreSQL, for replicas sharing one budget (also postgres://)

Unset, the store is the SQLite file `default_state_url()` names, in the user's state directory.
The backends import their drivers lazily, so a server that never uses PostgreSQL never loads psycopg.
The two database stores share their reads and record changes (sqlbase.py) and their SQL (sql.py).
"""

from __future__ import annotations

from pathlib import Path

from .base import Store as Store
from .base import StoreError, StoreTooNew
from .records import (
    CapRefused,
    Existing,
    KeyConflict,
    Reserved,
    ReserveRequest,
    ReserveResult,
    SpendSummary,
    StartRecord,
    TaskRecord,
)

__all__ = [
    "CapRefused",
    "Existing",
    "KeyConflict",
    "ReserveRequest",
    "ReserveResult",
    "Reserved",
    "SpendSummary",
    "StartRecord",
    "Store",
    "StoreError",
    "StoreTooNew",
    "TaskRecord",
    "default_state_path",
    "default_state_url",
    "open_store",
    "redact",
    "sqlite_path",
]

ACCEPTED_FORMS = "memory, sqlite:///absolute/path/state.db, sqlite:relative/path.db or postgresql://user@host:port/db"


def default_state_path() -> Path:
    """Where the default SQLite store lives, e.g. ~/.local/state/flora-mcp/state.db on Linux."""
    import platformdirs  # here: a start with FLORA_STATE_URL set never needs it

    return platformdirs.user_state_path("flora-mcp") / "state.db"


def default_state_url() -> str:
    return "sqlite:///" + str(default_state_path()).lstrip("/")


def _bad(url: str, why: str) -> ValueError:
    return ValueError(f"FLORA_STATE_URL {redact(url)!r} {why}; use one of: {ACCEPTED_FORMS}")


def redact(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    userinfo, _, hostpart = rest.partition("@")
    if ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    return f"{scheme}://{userinfo}@{hostpart}"


def sqlite_path(url: str) -> Path:
    """The file a sqlite: URL names. "sqlite:///a/b.db" is /a/b.db; "sqlite:b.db" is relative; "~" expands."""
    rest = url[len("sqlite:") :]
    if rest.startswith("//"):
        rest = rest[2:]
        if not rest.startswith("/"):
            raise _bad(url, "names a host; a SQLite URL takes a path: sqlite:///absolute/path/state.db")
    if not rest or rest.endswith("/"):
        raise _bad(url, "names no file")
    if "?" in rest or "#" in rest:
        raise _bad(url, "has a query or fragment, which a SQLite URL here does not take")
    return Path(rest).expanduser()


def open_store(url: str | None = None, *, secret: str | None = None) -> Store:
    """Build the store FLORA_STATE_URL names (None or "": the default SQLite file); not yet opened.

    Open it with `async with open_store(url) as store:` or `await store.open()`. `secret` is
    FLORA_STATE_SECRET: the key for caller fingerprints, for a fleet that must agree on them
    (unset: a random secret kept in the store). A bad URL raises ValueError naming
    FLORA_STATE_URL and the accepted forms.
    """
    url = (url or "").strip() or default_state_url()
    lowered = url.lower()
    if lowered == "memory":
        from .memory import MemoryStore

        return MemoryStore(secret=secret)
    if lowered.startswith("sqlite:"):
        from .sqlite import SQLiteStore

        return SQLiteStore(sqlite_path(url), secret=secret)
    if lowered.startswith(("postgresql://", "postgres://")):
        if len(url.split("://", 1)[1]) == 0:
            raise _bad(url, "names no server")
        from .postgres import PostgresStore

        return PostgresStore(url, secret=secret)
    raise _bad(url, "is not a state store URL")

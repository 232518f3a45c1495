"""FLORA_STATE_URL: the forms open_store takes, and a clear error for any other."""

from __future__ import annotations

from pathlib import Path

import pytest

from flora_mcp.state import default_state_path, default_state_url, open_store, redact
from flora_mcp.state.memory import MemoryStore
from flora_mcp.state.postgres import PostgresStore
from flora_mcp.state.sqlite import SQLiteStore


def test_memory() -> None:
    assert isinstance(open_store("memory"), MemoryStore)
    assert isinstance(open_store(" MEMORY "), MemoryStore)


def test_sqlite_absolute_relative_and_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = open_store("sqlite:///var/lib/flora/state.db")
    assert isinstance(store, SQLiteStore) and store.path == Path("/var/lib/flora/state.db")
    relative = open_store("sqlite:data/state.db")
    assert isinstance(relative, SQLiteStore) and relative.path == Path("data/state.db")
    monkeypatch.setenv("HOME", str(tmp_path))
    home = open_store("sqlite:~/state.db")
    assert isinstance(home, SQLiteStore) and home.path == tmp_path / "state.db"


def test_unset_means_the_sqlite_file_in_the_user_state_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(None)
    assert isinstance(store, SQLiteStore) and store.path == default_state_path()
    assert default_state_path().parts[-2:] == ("flora-mcp", "state.db")
    assert isinstance(open_store(""), SQLiteStore)
    assert open_store(default_state_url()).where == str(default_state_path())  # type: ignore[attr-defined]


@pytest.mark.parametrize("url", ["postgresql://flora@db.internal:5432/flora", "postgres://flora@db/flora"])
def test_postgresql(url: str) -> None:
    assert isinstance(open_store(url), PostgresStore)


@pytest.mark.parametrize(
    "url",
    ["mysql://x/y", "sqlite://host/state.db", "sqlite:", "sqlite:///tmp/", "sqlite:///a.db?mode=ro", "postgresql://"],
)
def test_anything_else_is_an_error_naming_the_variable_and_the_forms(url: str) -> None:
    with pytest.raises(ValueError, match="FLORA_STATE_URL") as bad:
        open_store(url)
    assert "memory, sqlite:///absolute/path/state.db" in str(bad.value)
    assert "postgresql://user@host:port/db" in str(bad.value)


def test_a_password_never_appears_in_messages() -> None:
    assert redact("postgresql://flora:s3cret@db:5432/x") == "postgresql://flora:***@db:5432/x"
    with pytest.raises(ValueError) as bad:
        open_store("mysql://flora:s3cret@db/x")
    assert "s3cret" not in str(bad.value)
    assert "s3cret" not in open_store("postgresql://flora:s3cret@db/x").where

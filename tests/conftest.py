"""Fixtures for every test: each test's state store lives in its own folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # The default state store is a SQLite file in the user's state directory: point that
    # directory somewhere of the run's own, so no test (nor any server process a test starts,
    # which inherits this) reads or adds to the developer's real journal and budget.
    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="flora-mcp-tests-state-")


@pytest.fixture(autouse=True)
def private_state_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Give this test (and the servers it starts) a state directory no other test uses."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-home"))

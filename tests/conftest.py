"""Fixtures for every test: a clean environment.

The tests must say the same thing in any shell. A developer who exported `FLORA_READ_ONLY=1`
or an `HTTPS_PROXY` for their own work would otherwise see servers built with those settings
(Settings reads `FLORA_*`, httpx2 reads the proxy and CA variables), and subprocesses started
without an explicit environment would inherit them. So those variables are removed twice:

- once for the whole run, when pytest configures itself, so that collection, session- and
  module-scoped fixtures and every subprocess they start see a clean environment; the shell's
  values come back when pytest ends;
- once more around every test (autouse `clean_environ`), so that a test which sets one of them
  directly cannot leak it into the next test.

A test that needs one of them sets it with `monkeypatch.setenv`.

The default state store is a SQLite file in the user's state directory: the run, and then each
test, gets a state directory of its own (XDG_STATE_HOME), so no test, nor any server process a
test starts (it inherits the variable), reads or adds to the developer's journal and budget.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer, start_postgres

# Read by httpx2 when trust_env is on (our FLORA client trusts it; see flora_http.py). SSLKEYLOGFILE
# would write TLS secrets to a file; SSL_CERT_* to a missing path make every client fail at start.
HTTP_VARIABLES = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR", "SSLKEYLOGFILE"}
)

_REMOVED = pytest.StashKey[dict[str, str]]()
_STATE_HOME = pytest.StashKey[str | None]()


def is_ambient(name: str) -> bool:
    """True for a variable that changes what flora-mcp or httpx2 does: every FLORA_* setting, the proxies."""
    upper = name.upper()
    # FLORA_TEST_* tell the test suite itself what to do (FLORA_TEST_REQUIRE_POSTGRES=1 in CI): kept.
    return (upper.startswith("FLORA_") and not upper.startswith("FLORA_TEST_")) or upper in HTTP_VARIABLES


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_REMOVED] = {name: os.environ.pop(name) for name in list(os.environ) if is_ambient(name)}
    config.stash[_STATE_HOME] = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="flora-mcp-tests-state-")


def pytest_unconfigure(config: pytest.Config) -> None:
    os.environ.update(config.stash.get(_REMOVED, {}))
    previous = config.stash.get(_STATE_HOME, None)
    if previous is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = previous


@pytest.fixture(autouse=True)
def private_state_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Give this test (and the servers it starts) a state directory no other test uses."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-home"))


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every FLORA_* and proxy variable for this test; monkeypatch restores them after."""
    for name in list(os.environ):
        if is_ambient(name):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session, shared by every test dir (tests/postgres_server.py).

    Skips with one line where PostgreSQL is missing, or fails under FLORA_TEST_REQUIRE_POSTGRES=1 (CI).
    """
    with start_postgres() as server:
        yield server

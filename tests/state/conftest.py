"""Fixtures: every store test runs against each backend, on a fresh store of its own.

`store_url` names a fresh location (a SQLite file in tmp_path, a new PostgreSQL database on the
session's server); `store` is a store opened on it. Tests that reopen a location build more
stores from the same `store_url`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from flora_mcp.state import Store, open_store
from tests.postgres_server import PostgresServer

BACKENDS = ["memory", "sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds (several OS processes)")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FLORA_") and name != "FLORA_TEST_REQUIRE_POSTGRES":
            monkeypatch.delenv(name)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: object, request: pytest.FixtureRequest) -> str:
    if backend == "memory":
        return "memory"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/state.db".replace("////", "///")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with open_store(store_url) as opened:
        yield opened

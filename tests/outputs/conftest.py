"""Fixtures for the outputs tests: the asyncio backend, and the slow marker for browser tests."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long or browser tests (CI runs them too)")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

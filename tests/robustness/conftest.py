"""Fixtures shared by the robustness tests."""

from __future__ import annotations

import pytest

from flora_mcp.sandbox import Sandbox

from .fault_support import FakeClock, new_sandbox


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    """A sandbox on `clock` (instant runs, plenty of credits)."""
    return new_sandbox(clock)


def pytest_configure(config: pytest.Config) -> None:
    # Also registered in pyproject.toml by the suite's own marker list; repeating it is harmless.
    config.addinivalue_line("markers", "slow: long-running campaigns, run by .ci/run but not by default")

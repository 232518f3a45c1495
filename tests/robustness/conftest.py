"""Fixtures shared by the robustness tests."""

from __future__ import annotations

import pytest

from flora_mcp.sandbox import Sandbox

from .fault_support import VirtualTime, new_sandbox


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
def sandbox(clock: VirtualTime) -> Sandbox:
    """A sandbox on `clock` (instant runs, plenty of credits)."""
    return new_sandbox(clock)

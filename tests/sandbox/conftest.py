"""Fixtures for the sandbox tests: a fake clock, a sandbox on it, and an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from flora_mcp.sandbox import Sandbox, SandboxConfig
from tests.fake_clock import FakeClock

from .helpers import KEY, START_TIME


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START_TIME)


@pytest.fixture
def config() -> SandboxConfig:
    return SandboxConfig()


@pytest.fixture
def sandbox(config: SandboxConfig, clock: FakeClock) -> Sandbox:
    return Sandbox(config, clock=clock.time)


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        transport=sandbox.transport(),
        base_url=sandbox.base_url(),
        headers={"Authorization": f"Bearer {KEY}"},
    ) as http:
        yield http

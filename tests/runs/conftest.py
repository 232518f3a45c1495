"""Fixtures: the booking on each store (memory, a SQLite file), a real client to the sandbox, one fake clock.

Every test here runs once per store. The sandbox and the booking read the same fake wall clock,
so the recovery's time window, the repeat window and the settle window move together.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx2
import pytest

from flora_mcp.api import FloraClient, RetryPolicy
from flora_mcp.runs.booking import Booking
from flora_mcp.runs.caller import Caller
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.state import Store, open_store
from tests.fake_clock import FakeClock

from .support import ChargesSettleLate, no_wait

STORES = ["memory", "sqlite"]
OTHER_KEY = "sk-sandbox-someone-else"
MakeBooking = Callable[..., Booking]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    return Sandbox(SandboxConfig(time_scale=0, extra_api_keys=(OTHER_KEY,)), clock=clock.time)


@pytest.fixture(params=STORES)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    url = "memory" if request.param == "memory" else f"sqlite:///{tmp_path}/state.db"
    async with open_store(url) as opened:
        yield opened


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=ChargesSettleLate(sandbox.transport())) as client:
        yield client


def _caller(store: Store, http: httpx2.AsyncClient, sandbox: Sandbox, api_key: str) -> Caller:
    client = FloraClient(
        http,
        base_url=sandbox.base_url(),
        api_key=api_key,
        retry=RetryPolicy(max_retries=2),
        sleep=no_wait,
        random=lambda: 0.0,
    )
    return Caller(store.fingerprint(api_key), client)


@pytest.fixture
def me(store: Store, http: httpx2.AsyncClient, sandbox: Sandbox) -> Caller:
    """The caller of the sandbox's own key."""
    return _caller(store, http, sandbox, sandbox.config.api_key)


@pytest.fixture
def someone_else(store: Store, http: httpx2.AsyncClient, sandbox: Sandbox) -> Caller:
    """Another caller on the same store and workspace, with a key of their own."""
    return _caller(store, http, sandbox, OTHER_KEY)


@pytest.fixture
def make_booking(store: Store, clock: FakeClock) -> MakeBooking:
    """Factory: make_booking(cap_usd=..., repeat_window_seconds=...) -> a Booking on the store and the fake clock."""

    def make(*, cap_usd: float | None = None, repeat_window_seconds: float = 600.0) -> Booking:
        return Booking(store, cap_usd=cap_usd, repeat_window_seconds=repeat_window_seconds, wall_clock=clock.time)

    return make

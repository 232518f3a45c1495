"""Fixtures for the API client's tests (helpers live in support.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from flora_mcp.api import FloraClient, RetryPolicy
from tests.fake_clock import FakeClock

from .support import BASE_URL, CANARY_KEY, Harness, MakeHarness, Reply, ScriptedFlora


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def harness() -> AsyncIterator[MakeHarness]:
    """Factory: harness(*replies, **client_kwargs) -> Harness (HTTP clients closed afterwards)."""
    http_clients: list[httpx2.AsyncClient] = []

    def make(*replies: Reply, **kwargs: Any) -> Harness:
        flora = ScriptedFlora(*replies)
        http = httpx2.AsyncClient(transport=httpx2.MockTransport(flora))
        http_clients.append(http)
        clock = FakeClock()
        kwargs.setdefault("api_key", CANARY_KEY)
        kwargs.setdefault("base_url", BASE_URL)
        kwargs.setdefault("random", lambda: 0.0)  # no jitter: backoff delays are exact
        kwargs.setdefault("retry", RetryPolicy())
        client = FloraClient(http, sleep=clock.sleep, **kwargs)
        return Harness(flora, client, clock)

    yield make
    for http in http_clients:
        await http.aclose()

"""The harness the robustness tests share: virtual time, a timeout-aware in-process transport,
and flora-mcp wired to a sandbox in memory.

Time is virtual: the server's and the client's sleeps (backoff, Retry-After) advance the fake
clock (tests/fake_clock.py, re-exported here), and an answer slower than the client's timeout
raises the timeout at once, before the sandbox handles the request (as a read timeout on a slow
proxy would), so no test waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp_types import CallToolResult, TextContent

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server
from tests.fake_clock import FakeClock, VirtualTimeout

CLIENT_TIMEOUT = 5.0  # seconds of virtual time the server's FLORA client waits for an answer
MAX_RETRIES = 2  # the client's own retries per tool call (three attempts)
WORKSPACE = "ws_sandbox"
PROJECT = "prj_sandbox"
START_ROUTES = ("POST /runs/generation", "POST /runs/technique", "POST /techniques/{technique_id}/runs")
HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


class TimeoutTransport(httpx2.AsyncBaseTransport):
    """The sandbox in process, where an answer slower than the timeout is the client's read timeout."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        try:
            return await self._inner.handle_async_request(request)
        except VirtualTimeout:
            raise httpx2.ReadTimeout("timed out waiting for the answer", request=request) from None

    async def aclose(self) -> None:
        await self._inner.aclose()


def starts_sent(sandbox: Sandbox) -> int:
    """How many run starts (generation or technique) reached the sandbox."""
    return sum(sandbox.requests[route] for route in START_ROUTES)


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def new_sandbox(clock: FakeClock, **config: Any) -> Sandbox:
    """A sandbox on the virtual clock: instant runs and plenty of credits unless told otherwise."""
    options: dict[str, Any] = {"time_scale": 0, "credits_usd": 1_000_000.0}
    return Sandbox(SandboxConfig(**(options | config)), clock=clock.time, sleep=clock.answering_within(CLIENT_TIMEOUT))


def campaign_settings(**overrides: Any) -> Settings:
    """Settings for flora-mcp in these tests: the campaign's timeout and retries, no money guard."""
    values: dict[str, Any] = {
        "timeout": CLIENT_TIMEOUT,
        "max_retries": MAX_RETRIES,
        "max_spend_usd": None,
        "confirm_above_usd": None,
        "read_only": False,
    }
    return Settings(**(values | overrides))


@asynccontextmanager
async def connected(
    sandbox: Sandbox, clock: FakeClock, settings: Settings | None = None, **client_options: Any
) -> AsyncIterator[Client]:
    """An MCP client, in memory, to flora-mcp on `sandbox`, both on the virtual clock."""
    async with httpx2.AsyncClient(transport=TimeoutTransport(sandbox.transport())) as http:
        server = create_server(
            settings or campaign_settings(),
            http_client=http,
            sandbox=sandbox,
            sleep=clock.sleep,
            clock=clock.time,
            wall_clock=clock.time,
        )
        async with Client(server, **client_options) as client:
            yield client

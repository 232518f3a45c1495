"""Fixtures: a sandbox and the server on one fake clock, and an in-memory MCP client to both."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest
from mcp import Client
from mcp.server import MCPServer

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server
from tests.fake_clock import FakeClock


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_time() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig()


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig, fake_time: FakeClock) -> Sandbox:
    return Sandbox(sandbox_config, clock=fake_time.time)


@pytest.fixture
async def server(sandbox: Sandbox, fake_time: FakeClock) -> AsyncIterator[MCPServer]:
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        yield create_server(
            Settings(max_retries=2),
            http_client=http,
            sandbox=sandbox,
            sleep=fake_time.sleep,
            clock=fake_time.time,
            wall_clock=fake_time.time,
        )


@pytest.fixture(params=["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
async def client(request: pytest.FixtureRequest, server: MCPServer) -> AsyncIterator[Client]:
    """A client to the server in memory, in both protocol eras (legacy = the initialize handshake)."""
    async with Client(server, mode=request.param) as connected:
        yield connected

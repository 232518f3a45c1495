"""Fixtures for wire tests: a sandbox on a real loopback socket, and flora-mcp as a subprocess."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from flora_mcp.sandbox import Sandbox, SandboxConfig
from tests.robustness.hostile_support import McpProcess, mcp_process

SERVER_KEY = "sk-sandbox"
ALICE = "sk-alice-0001"
BOB = "sk-bob-0002"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class KeyLog:
    """Which key each request to the sandbox carried: proof of whose key reached FLORA."""

    app: ASGIApp
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            auth = headers.get(b"authorization", b"").decode()
            key = auth.removeprefix("Bearer ") if auth else None
            self.seen.append((scope["method"], scope["path"], key))
        await self.app(scope, receive, send)

    def keys_for(self, method: str, path_part: str) -> list[str | None]:
        return [key for m, path, key in self.seen if m == method and path_part in path]


@dataclass
class LiveSandbox:
    sandbox: Sandbox
    base_url: str
    log: KeyLog


@pytest.fixture
async def live_sandbox() -> AsyncIterator[LiveSandbox]:
    """A sandbox (instant runs; keys SERVER_KEY, ALICE, BOB) served on 127.0.0.1, logging keys."""
    sandbox = Sandbox(SandboxConfig(time_scale=0, extra_api_keys=(ALICE, BOB)))
    log = KeyLog(sandbox.app)
    sandbox.app = log
    async with sandbox.serving() as base_url:
        yield LiveSandbox(sandbox, base_url, log)


Spawn = Callable[..., Awaitable[McpProcess]]


@pytest.fixture
async def spawn() -> AsyncIterator[Spawn]:
    """spawn(transport, env, *flags) -> McpProcess: flora-mcp serving HTTP on a free loopback port."""
    async with AsyncExitStack() as servers:

        async def start(transport: str, env: dict[str, str], *flags: str) -> McpProcess:
            return await servers.enter_async_context(mcp_process(env, *flags, transport=transport))

        yield start

"""Fixtures for wire tests: a sandbox on a real loopback socket, and flora-mcp as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import IO

import anyio
import pytest
from anyio.abc import Process
from starlette.types import ASGIApp, Receive, Scope, Send

from flora_mcp.sandbox import Sandbox, SandboxConfig

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


def child_env(**extra: str) -> dict[str, str]:
    """This environment without any FLORA_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLORA_")}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    process: Process
    stderr: IO[bytes]

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")


Spawn = Callable[..., Awaitable[ServerProcess]]


@pytest.fixture
async def spawn() -> AsyncIterator[Spawn]:
    """spawn(transport, env, *flags) -> ServerProcess: flora-mcp serving HTTP on a free loopback port."""
    with ExitStack() as files:
        started: list[ServerProcess] = []

        async def start(transport: str, env: dict[str, str], *flags: str) -> ServerProcess:
            port = free_port()
            stderr = files.enter_context(tempfile.TemporaryFile())
            command = [sys.executable, "-m", "flora_mcp", "--transport", transport, "--host", "127.0.0.1"]
            process = await anyio.open_process(
                [*command, "--port", str(port), *flags], env=env, stdout=subprocess.DEVNULL, stderr=stderr
            )
            path = "/mcp" if transport == "streamable-http" else "/sse"
            server = ServerProcess(f"http://127.0.0.1:{port}{path}", process, stderr)
            started.append(server)
            with anyio.fail_after(20):
                while True:
                    if process.returncode is not None:
                        raise RuntimeError(f"flora-mcp exited early:\n{server.log()}")
                    try:
                        stream = await anyio.connect_tcp("127.0.0.1", port)
                    except OSError:
                        await anyio.sleep(0.05)
                        continue
                    await stream.aclose()
                    return server

        yield start
        for server in started:
            server.process.terminate()
            with anyio.move_on_after(10):
                await server.process.wait()
            if server.process.returncode is None:  # pragma: no cover - only a hung server
                server.process.kill()
                await server.process.wait()

"""The HTTP front door under a crowd of idle and slow clients: do normal calls still get through?

`run_door_campaign(kind, attackers, calls)` starts flora-mcp (Streamable HTTP, its sandbox) as
a subprocess, optionally under a low open-file limit, keeps `attackers` hostile connections open
(reconnecting each one the server closes), and meanwhile makes `calls` normal tool calls. It
reports how many normal calls succeeded, how many hostile connections the server closed, and
how much the server wrote to stderr (a log flood shows there). Used by the slow test and by
scripts/robustness_report.py.

Kinds: "idle" connects and sends nothing; "slow-headers" sends a request head one header line
per second and never finishes it; "slow-body" sends a whole head announcing 1 MiB of body, then
trickles the body a few bytes a second.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import httpx2
from anyio.abc import SocketStream

from .hostile_support import (
    ACCEPT,
    LEGACY_VERSION,
    McpProcess,
    _stop,
    child_env,
    decode_answer,
    free_port,
    until_listening,
)

KINDS = ("idle", "slow-headers", "slow-body")
CALL = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "list_workspaces", "arguments": {}}}
HEADERS = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": LEGACY_VERSION}


@dataclass
class DoorFigures:
    kind: str
    attackers: int
    fd_limit: int | None
    calls: int = 0
    succeeded: int = 0
    hostile_connections: int = 0  # opened over the run, reconnects included
    hostile_closed_by_server: int = 0
    stderr_bytes: int = 0
    server_fds_peak: int = 0
    seconds: float = 0.0

    @property
    def success_rate(self) -> float:
        return self.succeeded / self.calls if self.calls else 0.0


@asynccontextmanager
async def door_process(env: dict[str, str], *flags: str, fd_limit: int | None = None) -> AsyncIterator[McpProcess]:
    """flora-mcp over Streamable HTTP with its sandbox on a free port, under `fd_limit` open files if given."""
    port = free_port()
    serve = [
        "-m", "flora_mcp", "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port), "--sandbox",
        *flags,
    ]  # fmt: skip
    if fd_limit is None:
        command = [sys.executable, *serve]
    else:
        # Lower both limits, then become the server: it cannot raise them back.
        launcher = (
            f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({fd_limit}, {fd_limit})); "
            "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
        )
        command = [sys.executable, "-c", launcher, *serve]
    with tempfile.TemporaryFile() as stderr:
        process = await anyio.open_process(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        server = McpProcess(f"http://127.0.0.1:{port}/mcp", port, process, stderr)
        try:
            await until_listening(server, within=30)
            yield server
        finally:
            await _stop(process)


class Crowd:
    """`size` hostile connections of one kind, each reopened when the server closes it."""

    def __init__(self, port: int, kind: str, size: int) -> None:
        self.port, self.kind, self.size = port, kind, size
        self.opened = 0
        self.closed_by_server = 0

    async def _one(self) -> None:
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", self.port)
            except OSError:
                await anyio.sleep(0.2)
                continue
            self.opened += 1
            try:
                await self._misbehave(stream)
            except (anyio.BrokenResourceError, anyio.EndOfStream, anyio.ClosedResourceError, OSError):
                pass
            finally:
                await stream.aclose()
            self.closed_by_server += 1
            await anyio.sleep(0.1)  # a breath between reconnects: the machine running the test is shared

    async def _misbehave(self, stream: SocketStream) -> None:
        if self.kind == "slow-body":
            head = (
                f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
                f"Accept: {ACCEPT}\r\nMCP-Protocol-Version: {LEGACY_VERSION}\r\nContent-Length: 1048576\r\n\r\n"
            )
            await stream.send(head.encode() + b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "x": "')
        elif self.kind == "slow-headers":
            await stream.send(f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n".encode())
        while True:
            # Waiting to read is how a closed connection shows; the hostile bytes go out meanwhile.
            with anyio.move_on_after(1):
                if not await stream.receive():
                    return
                return  # an answer (408, 503...) means the server dealt with it
            if self.kind == "slow-body":
                await stream.send(b"xxxx")
            elif self.kind == "slow-headers":
                await stream.send(b"X-Slow: 1\r\n")

    async def run(self) -> None:
        async with anyio.create_task_group() as tasks:
            for _ in range(self.size):
                tasks.start_soon(self._one)


async def _normal_calls(url: str, calls: int, concurrency: int, figures: DoorFigures) -> None:
    limiter = anyio.Semaphore(concurrency)

    async def one(http: httpx2.AsyncClient) -> None:
        async with limiter:
            figures.calls += 1
            try:
                answer = await http.post(url, json=CALL, headers=HEADERS)
                message = decode_answer(answer) if answer.status_code == 200 else {}
            except (httpx2.HTTPError, ValueError, AssertionError):
                return
            if (message.get("result") or {}).get("isError") is False:
                figures.succeeded += 1

    async with httpx2.AsyncClient(trust_env=False, timeout=15) as http, anyio.create_task_group() as tasks:
        for _ in range(calls):
            tasks.start_soon(one, http)


async def run_door_campaign(
    kind: str, attackers: int = 300, calls: int = 200, *, fd_limit: int | None = None, settle: float = 2.0
) -> DoorFigures:
    """See the module docstring. `settle`: seconds the crowd gathers before the normal calls start."""
    figures = DoorFigures(kind=kind, attackers=attackers, fd_limit=fd_limit)
    env = child_env(FLORA_SANDBOX_TIME_SCALE="0", FLORA_LOG_LEVEL="WARNING")
    started = time.perf_counter()
    async with door_process(env, fd_limit=fd_limit) as server:
        crowd = Crowd(server.port, kind, attackers)
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(crowd.run)
            await anyio.sleep(settle)
            figures.server_fds_peak = _fds(server.pid)
            await _normal_calls(server.url, calls, concurrency=10, figures=figures)
            figures.server_fds_peak = max(figures.server_fds_peak, _fds(server.pid))
            tasks.cancel_scope.cancel()
        figures.hostile_connections = crowd.opened
        figures.hostile_closed_by_server = crowd.closed_by_server
        server.stderr.seek(0, os.SEEK_END)
        figures.stderr_bytes = server.stderr.tell()
    figures.seconds = time.perf_counter() - started
    return figures


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0

"""Helpers for the hostile-input, boundary and load tests.

- `RequestLog`: what reached the sandbox (method, raw path, query, key, idempotency key, host).
- `serving(app)`: any ASGI app (an MCP HTTP app, a sandbox) on 127.0.0.1 in this event loop.
- `mcp_process(...)`: flora-mcp serving Streamable HTTP (or SSE) as a subprocess on 127.0.0.1.
- `RawStdio`: flora-mcp over stdio as a subprocess, spoken to line by line (garbage included).
- `rpc(...)`: one raw JSON-RPC POST over HTTP, with its answer decoded from JSON or SSE.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import IO, Any

import anyio
import httpx2
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from starlette.types import ASGIApp, Receive, Scope, Send

from flora_mcp.sandbox import Sandbox
from flora_mcp.sandbox.server import serving_app

ACCEPT = "application/json, text/event-stream"
LEGACY_VERSION = "2025-11-25"
ANSWER_TIME_LIMIT = 20


@dataclass(frozen=True)
class Seen:
    method: str
    raw_path: str
    query: str
    key: str | None
    idempotency_key: str | None
    host: str


@dataclass
class RequestLog:
    """ASGI middleware recording every HTTP request that reaches the wrapped app."""

    app: ASGIApp
    seen: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            auth = headers.get("authorization", "")
            self.seen.append(
                Seen(
                    method=scope["method"],
                    raw_path=bytes(scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
                    query=bytes(scope.get("query_string", b"")).decode("latin-1"),
                    key=auth.removeprefix("Bearer ") if auth else None,
                    idempotency_key=headers.get("idempotency-key"),
                    host=headers.get("host", ""),
                )
            )
        await self.app(scope, receive, send)


def log_requests(sandbox: Sandbox) -> RequestLog:
    """Put a RequestLog in front of `sandbox` (in process and when served) and return it."""
    log = RequestLog(sandbox.app)
    sandbox.app = log
    return log


def child_env(**extra: str) -> dict[str, str]:
    """This environment without any FLORA_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLORA_")}
    env.update(extra)
    return env


def serving(app: ASGIApp, *, lifespan: bool = False) -> AbstractAsyncContextManager[str]:
    """Serve `app` on 127.0.0.1 (a free port) while the block runs; yields "http://127.0.0.1:PORT".

    `lifespan`: run the app's lifespan (an MCP HTTP app needs it; a bare test app has none).
    """
    return serving_app(app, lifespan=lifespan)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class McpProcess:
    url: str
    port: int
    process: Process
    stderr: IO[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))


async def _stop(process: Process) -> None:
    if process.returncode is None:
        process.terminate()
    with anyio.move_on_after(10):
        await process.wait()
    if process.returncode is None:  # pragma: no cover - only a hung server gets here
        process.kill()
        await process.wait()


async def until_listening(server: McpProcess, *, within: float) -> None:
    """Wait until the server's port accepts a connection; a server that exits first fails with its log."""
    with anyio.fail_after(within):
        while True:
            if server.process.returncode is not None:
                raise RuntimeError(f"flora-mcp exited early:\n{server.log()}")
            try:
                stream = await anyio.connect_tcp("127.0.0.1", server.port)
            except OSError:
                await anyio.sleep(0.05)
                continue
            await stream.aclose()
            return


@asynccontextmanager
async def mcp_process(
    env: dict[str, str], *flags: str, transport: str = "streamable-http"
) -> AsyncIterator[McpProcess]:
    """flora-mcp serving HTTP (at /mcp, or /sse for `transport="sse"`) on a free 127.0.0.1 port, as a subprocess."""
    port = free_port()
    command = [sys.executable, "-m", "flora_mcp", "--transport", transport, "--host", "127.0.0.1"]
    with tempfile.TemporaryFile() as stderr:
        process = await anyio.open_process(
            [*command, "--port", str(port), *flags], env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )
        path = "/sse" if transport == "sse" else "/mcp"
        server = McpProcess(f"http://127.0.0.1:{port}{path}", port, process, stderr)
        try:
            await until_listening(server, within=20)
            yield server
        finally:
            await _stop(process)


def decode_answer(response: httpx2.Response) -> dict[str, Any]:
    """The JSON-RPC message in an HTTP answer, sent as JSON or as one SSE event."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        messages = [json.loads(d) for d in data if d]
        answers = [m for m in messages if "id" in m and ("result" in m or "error" in m)]
        assert answers, f"no answer in the event stream: {response.text[:300]}"
        return dict(answers[-1])
    return dict(response.json())


async def rpc(
    http: httpx2.AsyncClient,
    url: str,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    key: str | None = None,
    request_id: int = 1,
    headers: dict[str, str] | None = None,
) -> httpx2.Response:
    """POST one JSON-RPC request (stateless, 2025-11-25 era: no handshake needed)."""
    sent = {"Accept": ACCEPT, "MCP-Protocol-Version": LEGACY_VERSION, **(headers or {})}
    if key:
        sent["Authorization"] = f"Bearer {key}"
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return await http.post(url, json=message, headers=sent)


def tool_call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


INITIALIZE = {
    "protocolVersion": LEGACY_VERSION,
    "capabilities": {},
    "clientInfo": {"name": "robustness-tests", "version": "1"},
}


class RawStdio:
    """flora-mcp over stdio, driven by hand: any bytes in, every line out kept."""

    def __init__(self, process: Process, stderr: IO[bytes]) -> None:
        self.process = process
        self.stderr = stderr
        assert process.stdout is not None and process.stdin is not None
        self._out = BufferedByteReceiveStream(process.stdout)
        self.transcript = bytearray()

    @classmethod
    @asynccontextmanager
    async def start(cls, env: dict[str, str], *flags: str) -> AsyncIterator[RawStdio]:
        with tempfile.TemporaryFile() as stderr:
            process = await anyio.open_process([sys.executable, "-m", "flora_mcp", *flags], env=env, stderr=stderr)
            try:
                yield cls(process, stderr)
            finally:
                if process.stdin is not None:
                    await process.stdin.aclose()
                await _stop(process)

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    async def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(data)

    async def send(self, message: dict[str, Any]) -> None:
        await self.write(json.dumps(message).encode() + b"\n")

    async def next_message(self) -> dict[str, Any]:
        with anyio.fail_after(ANSWER_TIME_LIMIT):
            line = await self._out.receive_until(b"\n", 64 * 1024 * 1024)
        self.transcript.extend(line + b"\n")
        return dict(json.loads(line))

    async def answer_to(self, request_id: int | str | None) -> dict[str, Any]:
        """The next answer with this id, skipping notifications and other answers."""
        while True:
            message = await self.next_message()
            if message.get("id") == request_id and ("result" in message or "error" in message):
                return message

    async def initialize(self) -> None:
        await self.send({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": INITIALIZE})
        answer = await self.answer_to("init")
        assert "result" in answer, answer
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call_tool(self, request_id: int, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        await self.send(
            {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": tool_call(name, arguments)}
        )
        return await self.answer_to(request_id)

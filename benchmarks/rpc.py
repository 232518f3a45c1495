"""Lean MCP clients for measuring servers: JSON-RPC over a child's stdio, or over streamable HTTP.

Why not `mcp.Client`: it is a full client (protocol negotiation, caching, validation of every
result) whose own cost would be charged to whichever server it talks to. These clients do the
least a real client must (the 2025-11-25 handshake, then one request and its answer), so the
time measured is the server's plus the wire's, the same for every peer.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

PROTOCOL_VERSION = "2025-11-25"
CLIENT_INFO = {"name": "flora-mcp-bench", "version": "1"}


class RPCError(RuntimeError):
    """The server answered a request with a JSON-RPC error."""


def initialize_params() -> dict[str, Any]:
    return {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO}


def tool_call_params(name: str, arguments: Mapping[str, Any], *, progress: bool = False) -> dict[str, Any]:
    """tools/call params; with `progress`, a fresh progress token asks the server for notifications."""
    params: dict[str, Any] = {"name": name, "arguments": dict(arguments)}
    if progress:
        params["_meta"] = {"progressToken": f"p{time.monotonic_ns()}"}
    return params


def tool_error_text(result: Mapping[str, Any]) -> str | None:
    """The text of a tool result flagged isError, or None for a successful result."""
    if not result.get("isError"):
        return None
    return " ".join(str(item.get("text", "")) for item in result.get("content", []))[:500]


class StdioPeer:
    """One MCP server as a child process; requests are written and answered one at a time."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], *, cwd: str | None = None, stderr_path: str | None = None
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.stderr_path = stderr_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._ids = itertools.count(1)
        self.spawned_at = 0.0
        self.notifications: list[dict[str, Any]] = []

    def spawn(self) -> None:
        stderr = open(self.stderr_path, "ab") if self.stderr_path else subprocess.DEVNULL  # noqa: SIM115
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=self.env,
            cwd=self.cwd,
            bufsize=0,
            start_new_session=True,  # its own process group, so close() can sweep its children
        )
        if not isinstance(stderr, int):
            stderr.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _send(self, message: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    def request(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send one request and return its result, collecting notifications that arrive before it."""
        assert self.proc is not None and self.proc.stdout is not None
        request_id = next(self._ids)
        self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": dict(params or {})})
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RPCError(f"server exited (code {self.proc.poll()}) before answering {method}")
            message = json.loads(line)
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    raise RPCError(f"{method}: {message['error']}")
                return dict(message["result"])
            if "method" in message and "id" in message:
                # A server-to-client request (ping, roots): answer it empty so the server moves on.
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": {}})
            elif "method" in message:
                self.notifications.append(message)

    def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": dict(params or {})})

    def initialize(self) -> dict[str, Any]:
        result = self.request("initialize", initialize_params())
        self.notify("notifications/initialized")
        return result

    def call_tool(self, name: str, arguments: Mapping[str, Any], *, progress: bool = False) -> dict[str, Any]:
        return self.request("tools/call", tool_call_params(name, arguments, progress=progress))

    def close(self) -> None:
        if self.proc is None:
            return
        if self.proc.stdin:
            self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)  # closing stdin is how a stdio server is told to stop
        stop_process_group(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()


def answer_in_body(content_type: str, text: str, request_id: int, status: int) -> dict[str, Any]:
    """The JSON-RPC answer to `request_id`, from a JSON body or from an SSE stream."""
    if content_type.startswith("application/json"):
        messages = json.loads(text)
        messages = messages if isinstance(messages, list) else [messages]
    else:
        messages = [json.loads(line[5:].strip()) for line in text.splitlines() if line.startswith("data:")]
    for message in messages:
        if isinstance(message, dict) and message.get("id") == request_id and "method" not in message:
            return message
    raise RPCError(f"no answer to request {request_id} in HTTP {status}: {text[:200]}")


class HttpSession:
    """One streamable HTTP session (or a stateless series of requests, when the server gives no
    session id). It builds requests and reads answers; the caller brings the HTTP client."""

    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None) -> None:
        self.url = url
        self.headers = {
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
            **(headers or {}),
        }
        self._ids = itertools.count(1)

    def payload(self, method: str, params: Mapping[str, Any] | None) -> tuple[int, bytes]:
        request_id = next(self._ids)
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": dict(params or {})}
        return request_id, json.dumps(body, separators=(",", ":")).encode()

    def after_initialize(self, session_id: str | None) -> None:
        if session_id:
            self.headers["mcp-session-id"] = session_id
        self.headers["mcp-protocol-version"] = PROTOCOL_VERSION

    @staticmethod
    def result(method: str, message: dict[str, Any]) -> dict[str, Any]:
        if "error" in message:
            raise RPCError(f"{method}: {message['error']}")
        return dict(message["result"])

    @staticmethod
    def initialized_body() -> bytes:
        return json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()

    def request(self, client: httpx.Client, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One request with httpx, one in flight (latency series)."""
        request_id, body = self.payload(method, params)
        response = client.post(self.url, content=body, headers=self.headers)
        if response.status_code >= 400:
            raise RPCError(f"{method}: HTTP {response.status_code}: {response.text[:200]}")
        if method == "initialize":
            self.after_initialize(response.headers.get("mcp-session-id"))
        content_type = response.headers.get("content-type", "")
        return self.result(method, answer_in_body(content_type, response.text, request_id, response.status_code))

    def initialize(self, client: httpx.Client) -> dict[str, Any]:
        result = self.request(client, "initialize", initialize_params())
        client.post(self.url, content=self.initialized_body(), headers=self.headers)
        return result


def stop_process_group(proc: subprocess.Popen[Any]) -> None:
    """Stop a child started with start_new_session=True, then whatever it left in its group.

    The official server runs each `execute` in a Deno worker; a worker still running when the
    server stops (or one the server lost track of) would outlive it and skew later items.
    """
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def rss_kib(pid: int) -> int:
    """Resident set size of one process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """A small, explicit environment for servers: PATH and HOME from ours, then `extra`."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    env.update(extra)
    return env

"""Issue 19's HTTP findings, tried again for real: slow readers of large answers, and keyless requests.

- Slow readers: flora-mcp serves one ~85 MB `resources/read` answer (a 64 MiB output, base64)
  to each of 30 raw sockets that send the request and never read, while 30 normal calls are
  made. Measured: the server's RSS growth (peak), the normal calls served, and the RSS once the
  slow sockets have closed. The output comes from a sandbox whose /media/ route is replaced by
  a 64 MiB file: the sandbox's own media are a few KB.
  One such answer at a time (the default) is made and written (http_large_reads.py); the other readers
  wait for a slot, then get a "busy" JSON-RPC error. `dropped_reader_frees_its_slot` checks,
  against the real MCP app, that a reader aborted by the write timeout gives its slot back.
- Keyless requests through a same-host proxy: a bare `proxy_pass` (nginx's default) adds no
  header and connects from 127.0.0.1, so the request looks exactly like a local one. A keyless
  start sent that way must start no run without `--lend-server-key`, and be served with it.

`edge_figures(work)` returns one Edge per finding (see edges.py); test_edges_http.py asserts them.
"""

from __future__ import annotations

import json
import pathlib
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
from starlette.types import ASGIApp, Receive, Scope, Send

from flora_mcp.sandbox import Sandbox, SandboxConfig

from .edges import Edge
from .hostile_support import ACCEPT, LEGACY_VERSION, McpProcess, child_env, decode_answer, mcp_process, rpc, tool_call

BIG_OUTPUT = 64 * 1024 * 1024
SLOW_READERS = 30
NORMAL_CALLS = 30
RSS_GROWTH_TARGET_MB = 600
GENERATION = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a large file", "type": "image"}


class BigMedia:
    """The sandbox with every /media/ file replaced by BIG_OUTPUT bytes (one object, served to every GET)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.body = b"\x89PNG\r\n\x1a\n" + bytes(BIG_OUTPUT - 8)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/media/"):
            await self.app(scope, receive, send)
            return
        headers = [(b"content-type", b"image/png"), (b"content-length", str(len(self.body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def rss_mb(pid: int) -> float:
    """The resident memory of process `pid`, in MB."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@asynccontextmanager
async def big_output_server(*flags: str) -> AsyncIterator[tuple[McpProcess, str]]:
    """flora-mcp on a sandbox with one completed run whose output is BIG_OUTPUT bytes; yields it and the URI."""
    sandbox = Sandbox(SandboxConfig(time_scale=0))
    sandbox.app = BigMedia(sandbox.app)  # type: ignore[assignment]  # any ASGI app serves
    async with sandbox.serving() as base_url:
        env = child_env(
            FLORA_BASE_URL=base_url,
            FLORA_API_KEY=sandbox.config.api_key,
            FLORA_MAX_OUTPUT_BYTES=str(BIG_OUTPUT + 1024 * 1024),
            FLORA_PREVIEWS="off",
            FLORA_STATE_URL="memory",
            FLORA_LOG_LEVEL="ERROR",
        )
        async with mcp_process(env, "--lend-server-key", *flags) as server:
            async with httpx2.AsyncClient(trust_env=False, timeout=60) as http:
                started = decode_answer(
                    await rpc(http, server.url, "tools/call", tool_call("start_generation_run", GENERATION))
                )
                run_id = started["result"]["structuredContent"]["run_id"]
                done = decode_answer(
                    await rpc(http, server.url, "tools/call", tool_call("wait_for_run", {"run_id": run_id}))
                )
                output_id = done["result"]["structuredContent"]["outputs"][0]["output_id"]
            yield server, f"flora://runs/{run_id}/outputs/{output_id}"


def read_request(port: int, uri: str) -> bytes:
    """The raw bytes of one keyless `resources/read` POST."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": uri}}).encode()
    head = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nAccept: {ACCEPT}\r\n"
        f"MCP-Protocol-Version: {LEGACY_VERSION}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def slow_reader(port: int, uri: str) -> socket.socket:
    """A socket that asks for the large answer and never reads it (a small receive buffer, as a stalled peer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(read_request(port, uri))
    return sock


async def _normal_calls(url: str, count: int, served: list[bool]) -> None:
    async with httpx2.AsyncClient(trust_env=False, timeout=15) as http:
        for _ in range(count):
            try:
                answer = await rpc(http, url, "tools/call", tool_call("list_workspaces", {}))
                served.append(answer.status_code == 200 and decode_answer(answer)["result"]["isError"] is False)
            except (httpx2.HTTPError, KeyError, ValueError):
                served.append(False)
            await anyio.sleep(0.2)


async def slow_reader_figures(readers: int = SLOW_READERS, calls: int = NORMAL_CALLS, *flags: str) -> dict[str, Any]:
    """Peak RSS growth (MB) with `readers` slow readers, normal calls served, RSS growth after they close."""
    async with big_output_server(*flags) as (server, uri):
        # One large answer read whole first: the steady state of a server that serves them.
        async with httpx2.AsyncClient(trust_env=False, timeout=60) as http:
            whole = await rpc(http, server.url, "resources/read", {"uri": uri})
            answer_bytes = len(whole.content)
        del whole
        await anyio.sleep(1)
        before = rss_mb(server.pid)
        sockets = [slow_reader(server.port, uri) for _ in range(readers)]
        peak = before
        served: list[bool] = []
        started = time.monotonic()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_normal_calls, server.url, calls, served)
            while len(served) < calls or time.monotonic() - started < 8:
                peak = max(peak, rss_mb(server.pid))
                await anyio.sleep(0.1)
        for sock in sockets:
            sock.close()
        await anyio.sleep(3)
        after = rss_mb(server.pid)
        return {
            "answer_mb": answer_bytes / 1e6,
            "growth_mb": peak - before,
            "served": sum(served),
            "calls": calls,
            "after_mb": after - before,
            "log": server.log()[-2000:],
        }


async def dropped_reader_frees_its_slot(write_timeout: float = 1.0) -> tuple[int, int, float]:
    """One slot, taken by a reader that never reads; then a whole read: (HTTP status, answer bytes, seconds).

    The stalled reader is aborted after `write_timeout`; if its app call did not return, the
    read after it would wait out the 30 s slot wait and get 503.
    """
    flags = ("--http-max-large-reads", "1", "--http-write-timeout", str(write_timeout))
    async with big_output_server(*flags) as (server, uri):
        stalled = slow_reader(server.port, uri)
        try:
            await anyio.sleep(0.5)  # its answer is being made, in the only slot
            started = time.monotonic()
            async with httpx2.AsyncClient(trust_env=False, timeout=60) as http:
                answer = await rpc(http, server.url, "resources/read", {"uri": uri})
            return answer.status_code, len(answer.content), time.monotonic() - started
        finally:
            stalled.close()


async def keyless_through_a_proxy(*flags: str) -> tuple[int, int]:
    """A keyless start as a same-host bare `proxy_pass` delivers it: (HTTP status, runs started at FLORA)."""
    sandbox = Sandbox(SandboxConfig(time_scale=0))
    async with sandbox.serving() as base_url:
        env = child_env(FLORA_BASE_URL=base_url, FLORA_API_KEY=sandbox.config.api_key, FLORA_STATE_URL="memory")
        async with mcp_process(env, *flags) as server, httpx2.AsyncClient(trust_env=False, timeout=30) as http:
            # nginx's defaults: Host is the upstream's ($proxy_host), no X-Forwarded-*, peer 127.0.0.1.
            headers = {"Host": f"127.0.0.1:{server.port}", "Connection": "close"}
            answer = await rpc(
                http, server.url, "tools/call", tool_call("start_generation_run", GENERATION), headers=headers
            )
    return answer.status_code, len(sandbox.runs)


async def edge_figures(work: pathlib.Path) -> list[Edge]:
    """One Edge per HTTP finding of issue 19, measured now (`work` is unused: nothing is written)."""
    slow = await slow_reader_figures()
    failed = int(slow["growth_mb"] >= RSS_GROWTH_TARGET_MB) + int(slow["served"] < 0.95 * slow["calls"])
    failed += int(slow["after_mb"] >= RSS_GROWTH_TARGET_MB / 2)
    edges = [
        Edge(
            area="http",
            finding=f"slow readers of a large resources/read (~{slow['answer_mb']:.0f} MB answers) pin memory",
            target=f"{SLOW_READERS} slow readers: RSS growth < {RSS_GROWTH_TARGET_MB} MB, ≥ 95% of calls served, "
            "memory released after they close",
            tried=1,
            failed=failed,
            measured=f"{SLOW_READERS} slow readers → RSS +{slow['growth_mb']:.0f} MB, {slow['served']}/{slow['calls']} "
            f"normal calls served, +{slow['after_mb']:.0f} MB after they closed",
        )
    ]
    status_after, size_after, waited = await dropped_reader_frees_its_slot()
    edges.append(
        Edge(
            area="http",
            finding="a large-read slot held by a reader the write timeout drops is never given back",
            target="one slot, a reader that never reads, a 1 s write timeout: the next read is served within 10 s",
            tried=1,
            failed=int(status_after != 200 or size_after < BIG_OUTPUT or waited >= 10),
            measured=f"the next read: HTTP {status_after}, {size_after / 1e6:.0f} MB, after {waited:.1f} s",
        )
    )
    status, runs = await keyless_through_a_proxy()
    lent_status, lent_runs = await keyless_through_a_proxy("--lend-server-key")
    edges.append(
        Edge(
            area="http",
            finding="a keyless request via a same-host proxy (bare proxy_pass) starts a paid run on the server's key",
            target="without --lend-server-key: 401 and 0 runs started; with it: served",
            tried=2,
            failed=int(status != 401 or runs != 0) + int(lent_status != 200 or lent_runs != 1),
            measured=f"without --lend-server-key: HTTP {status}, {runs} runs started; "
            f"with it: HTTP {lent_status}, {lent_runs} run started",
        )
    )
    return edges

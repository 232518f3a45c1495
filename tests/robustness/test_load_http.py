"""Load: 200 concurrent tool calls over Streamable HTTP, with the same answers as one by one and nothing leaked.

The real HTTP app (door checks, key gate, stateless Streamable HTTP) is served by uvicorn on
127.0.0.1 in this process, so its asyncio tasks and open file descriptors can be counted; it
reaches the sandbox in process. The same 200 calls run first one by one, then all at once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server
from flora_mcp.server.wire.transports import http_app

from .hostile_support import serving

# 400 calls over real HTTP (about 5 s): outside the default run; .ci/run runs it (pytest -m slow).
pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CALLS = 200
CLIENTS = 20
SETTLE_SECONDS = 20

# Fields that differ between two runs of the same call (new ids, keys, times, the session's running
# total), and so are not compared.
VOLATILE = {
    "run_id", "idempotency_key", "request_id", "created_at", "started_at", "completed_at", "poll_url", "next",
    "spent_usd",
}  # fmt: skip


def plan(known_run: str, phase: str) -> list[tuple[str, dict[str, Any]]]:
    """The calls: discovery, starts, reads and two that must fail, mixed."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for i in range(CALLS):
        kind = i % 8
        if kind == 0:
            calls.append(("list_workspaces", {}))
        elif kind == 1:
            calls.append(("list_models", {"type": ["image", "video", "audio", "text"][i % 4]}))
        elif kind == 2:
            calls.append(("list_techniques", {}))
        elif kind == 3:
            calls.append(("get_technique", {"technique_id": "tech_sandboxposter"}))
        elif kind == 4:
            calls.append(("list_projects", {"workspace_id": "ws_sandbox"}))
        elif kind == 5:
            arguments = {
                "workspace_id": "ws_sandbox",
                "project_id": "prj_sandbox",
                "prompt": f"mug {i}",
                "type": "image",
            }
            calls.append(("start_generation_run", {**arguments, "idempotency_key": f"load-{phase}-{i:04d}"}))
        elif kind == 6:
            calls.append(("get_run", {"run_id": known_run}))
        else:
            calls.append(("get_run", {"run_id": "run_nosuchrun" if i % 16 == 7 else "not-a-run-id"}))
    return calls


def era(index: int) -> str:
    """The protocol era call `index` is made in: half the 2025-11-25 handshake (SSE answers), half
    the sessionless 2026-07-28 revision. The serial and concurrent runs use the same for each call."""
    return "legacy" if index % CLIENTS % 2 == 0 else "auto"


def comparable(result: CallToolResult) -> Any:
    """What must be equal between the serial and the concurrent run of a call."""
    if result.is_error:
        text = "\n".join(b.text for b in result.content if isinstance(b, TextContent))
        return ("error", [line for line in text.splitlines() if not line.startswith("Request id:")])
    content = dict(result.structured_content or {})
    return ("result", {key: value for key, value in content.items() if key not in VOLATILE})


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@asynccontextmanager
async def http_client(url: str, mode: str = "auto") -> AsyncIterator[Client]:
    """An MCP client over Streamable HTTP; its HTTP client (which the transport does not own) closes with it."""
    async with (
        httpx2.AsyncClient(timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


@pytest.fixture
async def sandbox_server() -> AsyncIterator[tuple[str, Sandbox, str]]:
    sandbox = Sandbox(SandboxConfig(time_scale=0, credits_usd=1e6))
    async with httpx2.AsyncClient(transport=sandbox.transport()) as flora_http:
        server = create_server(Settings(), http_client=flora_http, sandbox=sandbox)
        app = http_app(server, host="127.0.0.1", transport="streamable-http", lend_server_key=True)
        async with serving(app, lifespan=True) as origin:
            async with http_client(origin + "/mcp") as client:
                started = await client.call_tool(
                    "start_generation_run",
                    {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"},
                )
                known_run = (started.structured_content or {})["run_id"]
                await client.call_tool("get_run", {"run_id": known_run})  # completed from now on
            yield origin + "/mcp", sandbox, known_run


async def settled(baseline_tasks: int, baseline_fds: int) -> tuple[int, int]:
    """Task and fd counts once closing connections have been noticed (bounded wait, no timing asserted)."""
    with anyio.move_on_after(SETTLE_SECONDS):
        while len(asyncio.all_tasks()) > baseline_tasks or open_fds() > baseline_fds:  # noqa: ASYNC110 - polled counts
            await anyio.sleep(0.05)
    return len(asyncio.all_tasks()), open_fds()


async def test_two_hundred_concurrent_calls_succeed_answer_as_one_by_one_and_leak_no_task_or_connection(
    sandbox_server: tuple[str, Sandbox, str],
) -> None:
    url, sandbox, known_run = sandbox_server
    serial_calls = plan(known_run, "serial")
    async with http_client(url, era(0)) as even, http_client(url, era(1)) as odd:
        serial = [
            comparable(await (odd if era(index) == era(1) else even).call_tool(name, args))
            for index, (name, args) in enumerate(serial_calls)
        ]
    baseline = await settled(10**6, 10**6)  # whatever remains once the serial client is gone
    runs_before = len(sandbox.runs)

    concurrent_calls = plan(known_run, "concurrent")
    results: list[Any] = [None] * CALLS
    failures: list[str] = []

    async def session(first: int) -> None:
        async with http_client(url, era(first)) as client, anyio.create_task_group() as tasks:
            for index in range(first, CALLS, CLIENTS):

                async def one(index: int = index) -> None:
                    name, args = concurrent_calls[index]
                    try:
                        results[index] = comparable(await client.call_tool(name, args))
                    except Exception as exc:  # a transport or protocol failure: the thing under test
                        failures.append(f"{index} {name}: {type(exc).__name__}: {exc}")

                tasks.start_soon(one)

    async with anyio.create_task_group() as tasks:
        for first in range(CLIENTS):
            tasks.start_soon(session, first)

    assert failures == []
    assert results == serial
    starts = sum(1 for name, _ in concurrent_calls if name == "start_generation_run")
    assert len(sandbox.runs) - runs_before == starts  # one run per start, no more
    tasks_after, fds_after = await settled(*baseline)
    assert tasks_after <= baseline[0], f"asyncio tasks leaked: {baseline[0]} before, {tasks_after} after"
    assert fds_after <= baseline[1], f"file descriptors leaked: {baseline[1]} before, {fds_after} after"

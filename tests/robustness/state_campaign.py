"""State across restarts and replicas, measured: the scenarios tests/robustness/test_state_fleet.py asserts on
and scripts/robustness_report.py reports.

Real server processes (`python -m flora_mcp`) on one store (a SQLite file or a PostgreSQL db),
against a sandbox served on a loopback port in this process (FLORA_BASE_URL):

- `fleet_starts`: two streamable-http processes, STARTS parallel starts split across both, cap
  1.00 USD, 0.25 USD each (the sandbox's Storyboard technique);
- `confirm_across`: a confirmation (FLORA_CONFIRM_ABOVE_USD, the 2026-07-28 InputRequiredResult
  round trip) whose second round a round-robin proxy sends to the other process;
- `restart_starts`: the stdio server restarted three times between starts on one SQLite file.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp_types import ElicitResult, TextContent
from starlette.requests import Request
from starlette.responses import Response

from flora_mcp.sandbox import Sandbox, SandboxConfig

from .hostile_support import McpProcess, child_env, decode_answer, mcp_process, rpc, serving, tool_call

STARTS = 40
CAP = "1.00"
STORYBOARD = "tech_sandboxstoryboard"  # 0.25 USD a run
SERVER_KEY = "sk-sandbox"


def storyboard(scene: str) -> dict[str, Any]:
    return {
        "technique_id": STORYBOARD,
        "workspace_id": "ws_sandbox",
        "inputs": [{"id": "scene", "type": "text", "value": scene}],
    }


def upstream_starts(sandbox: Sandbox) -> int:
    return sum(n for route, n in sandbox.requests.items() if route.startswith("POST "))


@asynccontextmanager
async def fleet(store_url: str, size: int = 2, **settings: str) -> AsyncIterator[tuple[Sandbox, list[McpProcess]]]:
    """A sandbox on a loopback port and `size` flora-mcp HTTP processes on one store, cap 1.00 USD."""
    sandbox = Sandbox(SandboxConfig(time_scale=0))
    async with AsyncExitStack() as stack:
        base_url = await stack.enter_async_context(sandbox.serving())
        env = child_env(
            FLORA_BASE_URL=base_url,
            FLORA_API_KEY=SERVER_KEY,
            FLORA_STATE_URL=store_url,
            FLORA_MAX_SPEND_USD=CAP,
            FLORA_LOG_LEVEL="ERROR",
            FLORA_LEND_SERVER_KEY="true",  # the campaign's calls bring no key: one caller, the server's
            **settings,
        )
        servers = [await stack.enter_async_context(mcp_process(env)) for _ in range(size)]
        yield sandbox, servers


def is_error(answer: dict[str, Any]) -> bool:
    return bool(answer.get("result", {}).get("isError"))


def text(answer: dict[str, Any]) -> str:
    return " ".join(block.get("text", "") for block in answer.get("result", {}).get("content", []))


@dataclass
class FleetFigures:
    accepted: int
    refused: int
    upstream: int
    runs: int
    refusals: list[str] = field(default_factory=list)


async def fleet_starts(store_url: str, starts: int = STARTS) -> FleetFigures:
    """`starts` parallel starts (distinct scenes), alternating between two processes on one store."""
    answers: list[dict[str, Any]] = [{} for _ in range(starts)]
    async with fleet(store_url) as (sandbox, servers), httpx2.AsyncClient(trust_env=False, timeout=60) as http:

        async def start(i: int) -> None:
            call = tool_call("start_technique_run", storyboard(f"scene {i}"))
            answers[i] = decode_answer(await rpc(http, servers[i % 2].url, "tools/call", call, request_id=i + 1))

        async with anyio.create_task_group() as group:
            for i in range(starts):
                group.start_soon(start, i)
        runs, sent = len(sandbox.runs), upstream_starts(sandbox)
    refused = [text(a) for a in answers if is_error(a)]
    return FleetFigures(starts - len(refused), len(refused), sent, runs, refused)


class RoundRobin:
    """A load balancer that sends each tools/call to the next backend in turn (everything else to the first)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.calls: list[int] = []
        self._http = httpx2.AsyncClient(trust_env=False, timeout=60)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        target = 0
        if b'"tools/call"' in body:
            target = len(self.calls) % len(self.backends)
            self.calls.append(target)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = await self._http.request(request.method, self.backends[target], content=body, headers=headers)
        dropped = ("content-length", "transfer-encoding", "content-encoding")
        passed = {k: v for k, v in answer.headers.items() if k.lower() not in dropped}
        await Response(answer.content, status_code=answer.status_code, headers=passed)(scope, receive, send)


@dataclass
class ConfirmFigures:
    routed_to: list[int]  # which process each tools/call reached
    succeeded: bool
    said: str
    questions: list[str]
    runs: int


async def confirm_across(store_url: str) -> ConfirmFigures:
    """One start above FLORA_CONFIRM_ABOVE_USD through a round-robin proxy in front of two processes."""
    questions: list[str] = []

    async def user(context: Any, params: Any) -> ElicitResult:
        questions.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    async with fleet(store_url, FLORA_CONFIRM_ABOVE_USD="0.1") as (sandbox, servers):
        balancer = RoundRobin([server.url for server in servers])
        async with (
            serving(balancer) as origin,
            Client(f"{origin}/mcp", mode="auto", elicitation_callback=user) as client,
        ):
            result = await client.call_tool("start_technique_run", storyboard("a confirmed scene"))
        runs = len(sandbox.runs)
    said = " ".join(block.text for block in result.content if isinstance(block, TextContent))
    return ConfirmFigures(balancer.calls, not result.is_error, said, questions, runs)


async def restart_starts(state_url: str, lives: int = 4, per_life: int = 2) -> tuple[list[bool], int]:
    """`per_life` starts in each of `lives` stdio server processes, one after another, on one store.

    Returns whether each start was accepted, in order, and how many runs reached the sandbox.
    """
    sandbox = Sandbox(SandboxConfig(time_scale=0))
    outcomes: list[bool] = []
    async with sandbox.serving() as base_url:
        env = child_env(
            FLORA_BASE_URL=base_url,
            FLORA_API_KEY=SERVER_KEY,
            FLORA_STATE_URL=state_url,
            FLORA_MAX_SPEND_USD=CAP,
            FLORA_LOG_LEVEL="ERROR",
        )
        params = StdioServerParameters(command=sys.executable, args=["-m", "flora_mcp"], env=env)
        for life in range(lives):
            async with Client(params) as client:
                for i in range(per_life):
                    result = await client.call_tool("start_technique_run", storyboard(f"life {life} scene {i}"))
                    outcomes.append(not result.is_error)
        runs = len(sandbox.runs)
    return outcomes, runs

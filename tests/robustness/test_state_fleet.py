"""State across restarts and replicas: real server processes sharing one SQLite file or one PostgreSQL db.

- a fleet: two `flora-mcp --transport streamable-http` processes on one store, 40 parallel starts
  split across both, cap 1.00 USD, 0.25 USD each (the sandbox's Storyboard technique): exactly 4
  accepted, 36 refused, 4 runs upstream;
- a confirmation (FLORA_CONFIRM_ABOVE_USD, the 2026-07-28 InputRequiredResult round trip) whose
  second round a round-robin proxy sends to the other process;
- restarts: the stdio server restarted three times between starts on one SQLite file, cap 1.00,
  0.25 a start: at most 4 accepted.

The sandbox is served on a loopback port in this process; the servers reach it by FLORA_BASE_URL.
Several OS processes each: outside the default run (`pytest -m slow`; .ci/run runs it).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp_types import TextContent
from starlette.requests import Request
from starlette.responses import Response

from flora_mcp.sandbox import Sandbox, SandboxConfig
from postgres_server import PostgresServer

from .hostile_support import McpProcess, child_env, decode_answer, mcp_process, rpc, serving, tool_call

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

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


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.new_database()


STORES = pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)


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
            **settings,
        )
        servers = [await stack.enter_async_context(mcp_process(env)) for _ in range(size)]
        yield sandbox, servers


def is_error(answer: dict[str, Any]) -> bool:
    return bool(answer.get("result", {}).get("isError"))


def text(answer: dict[str, Any]) -> str:
    return " ".join(block.get("text", "") for block in answer.get("result", {}).get("content", []))


@STORES
async def test_two_processes_on_one_store_accept_exactly_four_of_forty_parallel_starts(store_url: str) -> None:
    answers: list[dict[str, Any]] = [{} for _ in range(STARTS)]
    async with fleet(store_url) as (sandbox, servers), httpx.AsyncClient(trust_env=False, timeout=60) as http:

        async def start(i: int) -> None:
            call = tool_call("start_technique_run", storyboard(f"scene {i}"))
            answers[i] = decode_answer(await rpc(http, servers[i % 2].url, "tools/call", call, request_id=i + 1))

        async with anyio.create_task_group() as group:
            for i in range(STARTS):
                group.start_soon(start, i)
        runs = len(sandbox.runs)
        sent = sum(n for route, n in sandbox.requests.items() if route.startswith("POST "))
    accepted = [a for a in answers if not is_error(a)]
    refused = [a for a in answers if is_error(a)]
    assert (len(accepted), len(refused)) == (4, 36), [text(a)[:120] for a in refused[:3]]
    assert all("Spend cap reached" in text(a) for a in refused), text(refused[0])
    assert runs == 4 and sent == 4


class RoundRobin:
    """A load balancer that sends each tools/call to the next backend in turn (everything else to the first)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.calls: list[int] = []
        self._http = httpx.AsyncClient(trust_env=False, timeout=60)

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
        passed = {k: v for k, v in answer.headers.items() if k.lower() not in ("content-length", "transfer-encoding")}
        passed.pop("content-encoding", None)
        await Response(answer.content, status_code=answer.status_code, headers=passed)(scope, receive, send)


@STORES
async def test_a_confirmations_second_round_on_the_other_process_succeeds(store_url: str) -> None:
    questions: list[str] = []

    async def user(context: Any, params: Any) -> Any:
        from mcp_types import ElicitResult

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
    assert balancer.calls == [0, 1], "the question came from one process, the answer went to the other"
    assert not result.is_error, said
    assert len(questions) == 1 and "0.25 USD" in questions[0]
    assert runs == 1


async def test_a_restarted_stdio_server_keeps_the_cap_across_restarts(tmp_path: Path) -> None:
    sandbox = Sandbox(SandboxConfig(time_scale=0))
    outcomes: list[bool] = []
    async with sandbox.serving() as base_url:
        env = child_env(
            FLORA_BASE_URL=base_url,
            FLORA_API_KEY=SERVER_KEY,
            FLORA_STATE_URL=f"sqlite:///{tmp_path}/state.db",
            FLORA_MAX_SPEND_USD=CAP,
            FLORA_LOG_LEVEL="ERROR",
        )
        params = StdioServerParameters(command=sys.executable, args=["-m", "flora_mcp"], env=env)
        for life in range(4):  # the first process and three restarts, two starts each
            async with Client(params) as client:
                for i in range(2):
                    result = await client.call_tool("start_technique_run", storyboard(f"life {life} scene {i}"))
                    outcomes.append(not result.is_error)
        runs = len(sandbox.runs)
    assert sum(outcomes) == 4 and outcomes == [True] * 4 + [False] * 4
    assert runs == 4

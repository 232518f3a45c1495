"""A canary key never shows: not in tool results or errors, not on stdout, not in stderr logs, not in HTTP answers.

The canary is the server's FLORA_API_KEY (in memory and over stdio) or a client's per-request
Bearer key (over HTTP). Each test drives the same error paths: FLORA refusing the key (401), 5xx,
429, dropped connections, an answer lost after a start, bodies that echo the key back (a proxy's
HTML page, a non-JSON 200, a FLORA error quoting it), timeouts, invalid arguments carrying it, with
logging at DEBUG. Each test also checks that the key was really sent to the sandbox, so a pass
cannot come from a key that was never used.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp_types import CallToolResult

from flora_mcp.config import Settings
from flora_mcp.logs import JSONLineFormatter
from flora_mcp.sandbox import Fault, Sandbox, SandboxConfig
from flora_mcp.server import create_server

from .hostile_support import ACCEPT, RawStdio, child_env, log_requests, mcp_process, rpc, tool_call

pytestmark = pytest.mark.anyio

CANARY = "sk-canary-" + secrets.token_hex(12)
OTHER_KEY = "sk-not-the-canary-0001"
GENERATION = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"}


@dataclass(frozen=True)
class Path:
    """One error path: what the sandbox is made to do, and the call that meets it."""

    name: str
    arrange: Callable[[Sandbox], None]
    tool: str
    arguments: dict[str, Any]


def _push(route: str, fault: Fault) -> Callable[[Sandbox], None]:
    return lambda sandbox: sandbox.faults.push(route, fault)


def _refuse_the_canary(sandbox: Sandbox) -> None:
    sandbox.config.api_key, sandbox.config.extra_api_keys = OTHER_KEY, ()


def _nothing(sandbox: Sandbox) -> None:
    pass


ERROR_BODY = {"error": {"code": "input_validation_error", "message": f"bad token {CANARY}"}}
ERROR_BODY["error"]["fields"] = [{"field": "authorization", "message": f"Bearer {CANARY} is not valid"}]  # type: ignore[index]
PATHS = [
    Path("a normal start", _nothing, "start_generation_run", GENERATION),
    Path("a normal read", _nothing, "list_workspaces", {}),
    Path("503", _push("*", Fault.status_(503)), "list_workspaces", {}),
    Path("500 on a start", _push("POST /runs/generation", Fault.status_(500)), "start_generation_run", GENERATION),
    Path("429", _push("*", Fault.rate_limited(0.01)), "list_models", {}),
    Path("a dropped connection", _push("*", Fault.dropped()), "list_techniques", {}),
    Path("an answer lost after the start", _push("POST /runs/generation", Fault.dropped_after_create()),
         "start_generation_run", GENERATION),
    Path("a proxy's 502 page echoing the headers",
         _push("*", Fault.raw(502, f"<html><pre>Authorization: Bearer {CANARY}</pre></html>".encode())),
         "list_workspaces", {}),
    Path("a 200 that is not JSON, echoing the key",
         _push("*", Fault.raw(200, f"token={CANARY}".encode(), "text/plain")), "list_workspaces", {}),
    Path("a 200 JSON echo of the request (no run in it)",
         _push("POST /runs/generation", Fault.raw(200, json.dumps({"headers": {"Authorization": f"Bearer {CANARY}"}})
                                                  .encode(), "application/json")),
         "start_generation_run", GENERATION),
    Path("a FLORA error quoting the key",
         _push("*", Fault.raw(400, json.dumps(ERROR_BODY).encode(), "application/json")),
         "get_technique", {"technique_id": "tech_sandboxposter"}),
    Path("invalid arguments carrying the key", _nothing, "get_run", {"run_id": CANARY}),
    Path("invalid arguments carrying the key in a prompt", _nothing, "start_generation_run",
         {**GENERATION, "prompt": CANARY, "type": "hologram"}),
    Path("an unknown run", _nothing, "wait_for_run", {"run_id": "run_nosuchrun", "timeout_seconds": 1}),
    Path("FLORA refusing the key (401)", _refuse_the_canary, "list_workspaces", {}),
    Path("FLORA refusing the key on a start (401)", _refuse_the_canary, "start_generation_run", GENERATION),
]  # fmt: skip
# Only over a real socket: the in-process transport has no timeouts.
SLOW = Path("a timeout", _push("*", Fault.slow(1.5)), "list_workspaces", {})


def _restore(sandbox: Sandbox, config: SandboxConfig) -> None:
    sandbox.config.api_key, sandbox.config.extra_api_keys = config.api_key, config.extra_api_keys
    sandbox.faults.clear()


def _assert_no_canary(where: str, text: str) -> None:
    assert CANARY not in text, f"the key appears in {where}"
    assert CANARY.removeprefix("sk-canary-") not in text, f"part of the key appears in {where}"


async def test_in_process_no_result_error_or_log_line_shows_the_servers_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = SandboxConfig(api_key=CANARY, time_scale=0)
    sandbox = Sandbox(SandboxConfig(api_key=CANARY, time_scale=0))
    log = log_requests(sandbox)
    answers: list[str] = []
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        settings = Settings(api_key=CANARY, base_url=sandbox.base_url(), max_retries=0, log_level="DEBUG")
        server = create_server(settings, http_client=http)
        async with Client(server) as client:
            for path in PATHS:
                path.arrange(sandbox)
                result: CallToolResult = await client.call_tool(path.tool, path.arguments)
                answers.append(f"{path.name}: {result.model_dump_json()}")
                _restore(sandbox, config)

    for answer in answers:
        _assert_no_canary(f"the answer to {answer.split(':')[0]}", answer)
    formatter = JSONLineFormatter()
    for record in caplog.records:
        _assert_no_canary(f"log line {record.getMessage()!r}", formatter.format(record))
    assert CANARY in {request.key for request in log.seen}  # the key was really in use
    assert any("is_error" in a and '"is_error":true' in a for a in answers)


async def test_over_stdio_neither_stdout_nor_the_debug_log_shows_the_servers_key() -> None:
    config = SandboxConfig(api_key=CANARY, time_scale=0)
    sandbox = Sandbox(SandboxConfig(api_key=CANARY, time_scale=0))
    log = log_requests(sandbox)
    async with sandbox.serving() as base_url:
        env = child_env(
            FLORA_API_KEY=CANARY,
            FLORA_BASE_URL=base_url,
            FLORA_LOG_LEVEL="DEBUG",
            FLORA_MAX_RETRIES="0",
            FLORA_TIMEOUT="0.3",
        )
        async with RawStdio.start(env) as wire:
            await wire.initialize()
            for n, path in enumerate([*PATHS, SLOW], start=1):
                path.arrange(sandbox)
                answer = await wire.call_tool(n, path.tool, path.arguments)
                assert "result" in answer, (path.name, answer)
                _restore(sandbox, config)
            stderr = wire.log()
            stdout = wire.transcript.decode()

    _assert_no_canary("stdout", stdout)
    _assert_no_canary("stderr", stderr)
    assert '"level": "DEBUG"' in stderr  # the debug log was on
    assert "did not answer" in stdout  # the timeout path was met
    assert CANARY in {request.key for request in log.seen}


async def test_over_http_no_answer_and_no_log_line_shows_a_clients_key() -> None:
    config = SandboxConfig(extra_api_keys=(CANARY,), time_scale=0)
    sandbox = Sandbox(SandboxConfig(extra_api_keys=(CANARY,), time_scale=0))
    log = log_requests(sandbox)
    answers: list[str] = []

    def keep(response: httpx2.Response) -> None:
        answers.append(f"{response.status_code} {dict(response.headers)} {response.text}")

    async with sandbox.serving() as base_url:
        env = child_env(
            FLORA_BASE_URL=base_url,
            FLORA_LOG_LEVEL="DEBUG",
            FLORA_MAX_RETRIES="0",
            FLORA_TIMEOUT="0.3",
            FLORA_MAX_REQUEST_BYTES="4096",
        )
        async with mcp_process(env) as server, httpx2.AsyncClient(trust_env=False, timeout=30) as http:
            for path in [*PATHS, SLOW]:
                path.arrange(sandbox)
                keep(await rpc(http, server.url, "tools/call", tool_call(path.tool, path.arguments), key=CANARY))
                _restore(sandbox, config)
            auth = {"Authorization": f"Bearer {CANARY}", "Accept": ACCEPT, "Content-Type": "application/json"}
            listing = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
            for headers, body in [
                ({**auth, "Host": "evil.example"}, listing),  # 421
                ({**auth, "Origin": "http://evil.example"}, listing),  # 403
                (auth, listing + " " * 5000),  # 413
                (auth, "{garbage"),  # 400
                ({**auth, "Authorization": f"Basic {CANARY}"}, listing),  # 401: not a Bearer key
            ]:
                keep(await http.post(server.url, content=body.encode(), headers=headers))
            stderr = server.log()

    for answer in answers:
        _assert_no_canary(f"the HTTP answer {answer[:80]!r}", answer)
    _assert_no_canary("stderr", stderr)
    assert '"level": "DEBUG"' in stderr
    statuses = [int(a.split(" ", 1)[0]) for a in answers]
    assert statuses[-5:] == [421, 403, 413, 400, 401]
    assert CANARY in {request.key for request in log.seen}

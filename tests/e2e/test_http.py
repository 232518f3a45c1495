"""flora-mcp over Streamable HTTP and SSE subprocesses: keys per request, host checks, both eras."""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from tests.robustness.hostile_support import child_env

from .conftest import ALICE, BOB, SERVER_KEY, LiveSandbox, Spawn

pytestmark = pytest.mark.anyio

GENERATION = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"}


def http_client(url: str, key: str | None, mode: str = "auto") -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return Client(streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers)), mode=mode)


async def start_and_wait(client: Client) -> dict[str, Any]:
    started = await client.call_tool("start_generation_run", GENERATION)
    assert not started.is_error, started.content
    run_id = (started.structured_content or {})["run_id"]
    done = await client.call_tool("wait_for_run", {"run_id": run_id})
    assert not done.is_error, done.content
    return done.structured_content or {}


async def test_two_clients_with_different_keys_each_reach_flora_with_their_own(
    live_sandbox: LiveSandbox, spawn: Spawn
) -> None:
    server = await spawn("streamable-http", child_env(FLORA_BASE_URL=live_sandbox.base_url))
    results: dict[str, dict[str, Any]] = {}

    async def session(name: str, key: str) -> None:
        async with http_client(server.url, key) as client:
            results[name] = await start_and_wait(client)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(session, "alice", ALICE)
        tasks.start_soon(session, "bob", BOB)

    runs = {name: result["run_id"] for name, result in results.items()}
    assert results["alice"]["status"] == results["bob"]["status"] == "completed"
    assert sorted(live_sandbox.log.keys_for("POST", "/runs/generation")) == sorted([ALICE, BOB])
    for name, key in (("alice", ALICE), ("bob", BOB)):
        polls = {k for m, path, k in live_sandbox.log.seen if m == "GET" and runs[name] in path and "/api/" in path}
        assert polls == {key}, f"{name}'s run was read with another key"
    # Fetching outputs for previews sends no key at all: media URLs are public.
    assert {k for _, path, k in live_sandbox.log.seen if path.startswith("/media/")} <= {None}


async def test_a_key_flora_refuses_is_reported_to_that_client_only(live_sandbox: LiveSandbox, spawn: Spawn) -> None:
    server = await spawn("streamable-http", child_env(FLORA_BASE_URL=live_sandbox.base_url, FLORA_API_KEY=SERVER_KEY))
    async with http_client(server.url, "sk-wrong-key") as client:
        result = await client.call_tool("list_workspaces", {})
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error and "unauthorized" in text and "stop and tell the user" in text
    assert "sk-wrong-key" not in text
    assert live_sandbox.log.keys_for("GET", "/workspaces") == ["sk-wrong-key"]


async def test_without_a_server_key_a_request_without_its_own_is_refused_with_401(
    live_sandbox: LiveSandbox, spawn: Spawn
) -> None:
    server = await spawn("streamable-http", child_env(FLORA_BASE_URL=live_sandbox.base_url))
    async with httpx2.AsyncClient(trust_env=False) as http:
        answer = await http.post(
            server.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
    assert answer.status_code == 401
    assert live_sandbox.log.seen == []


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
async def test_with_lend_server_key_the_servers_key_serves_requests_that_bring_none(
    live_sandbox: LiveSandbox, spawn: Spawn, mode: str
) -> None:
    env = child_env(FLORA_BASE_URL=live_sandbox.base_url, FLORA_API_KEY=SERVER_KEY)
    server = await spawn("streamable-http", env, "--lend-server-key")
    async with http_client(server.url, None, mode) as client:
        assert (await start_and_wait(client))["status"] == "completed"
    assert live_sandbox.log.keys_for("POST", "/runs/generation") == [SERVER_KEY]


async def test_a_foreign_host_header_is_refused(live_sandbox: LiveSandbox, spawn: Spawn) -> None:
    server = await spawn("streamable-http", child_env(FLORA_BASE_URL=live_sandbox.base_url, FLORA_API_KEY=SERVER_KEY))
    async with httpx2.AsyncClient(trust_env=False) as http:
        answer = await http.post(
            server.url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Host": "evil.example", "Accept": "application/json, text/event-stream"},
        )
    assert answer.status_code == 421


def _list_tools(host: str, key: str | None = None, **extra: str) -> dict[str, str]:
    headers = {"Host": host, "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return {**headers, **extra}


TOOLS_LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}


async def test_an_allowed_host_names_a_deployment_whose_callers_bring_their_own_key(
    live_sandbox: LiveSandbox, spawn: Spawn
) -> None:
    # A TLS proxy on this host forwarding mcp.example.com to 127.0.0.1: every request looks local,
    # so the server's key must not serve the internet's requests.
    env = child_env(FLORA_BASE_URL=live_sandbox.base_url, FLORA_API_KEY=SERVER_KEY)
    server = await spawn("streamable-http", env, "--allowed-host", "mcp.example.com")
    async with httpx2.AsyncClient(trust_env=False) as http:
        keyless = await http.post(server.url, json=TOOLS_LIST, headers=_list_tools("mcp.example.com"))
        own = await http.post(server.url, json=TOOLS_LIST, headers=_list_tools("mcp.example.com", ALICE))
    assert keyless.status_code == 401 and "--lend-server-key" in keyless.json()["message"]
    assert own.status_code == 200


@pytest.mark.parametrize("header", ["none", "Forwarded", "X-Forwarded-For", "X-Real-IP"])
async def test_a_request_on_loopback_without_a_key_is_refused_proxied_or_not(
    live_sandbox: LiveSandbox, spawn: Spawn, header: str
) -> None:
    # A same-host nginx with a bare proxy_pass adds no header at all: loopback proves nothing.
    server = await spawn("streamable-http", child_env(FLORA_BASE_URL=live_sandbox.base_url, FLORA_API_KEY=SERVER_KEY))
    value = "for=203.0.113.7" if header == "Forwarded" else "203.0.113.7"
    extra = {} if header == "none" else {header: value}
    async with httpx2.AsyncClient(trust_env=False) as http:
        keyless = await http.post(server.url, json=TOOLS_LIST, headers=_list_tools("127.0.0.1", **extra))
        own = await http.post(server.url, json=TOOLS_LIST, headers=_list_tools("127.0.0.1", ALICE, **extra))
    message = keyless.json()["message"]
    assert keyless.status_code == 401 and "Authorization: Bearer" in message and "--lend-server-key" in message
    assert own.status_code == 200
    assert live_sandbox.log.keys_for("GET", "/workspaces") == []


@pytest.mark.parametrize("opt_in", [("--lend-server-key",), ()], ids=["flag", "env"])
async def test_the_operator_lends_the_key_behind_an_authenticating_proxy_only_when_asked(
    live_sandbox: LiveSandbox, spawn: Spawn, opt_in: tuple[str, ...]
) -> None:
    env = child_env(FLORA_BASE_URL=live_sandbox.base_url, FLORA_API_KEY=SERVER_KEY)
    if not opt_in:
        env["FLORA_LEND_SERVER_KEY"] = "true"
    server = await spawn("streamable-http", env, "--allowed-host", "mcp.example.com", *opt_in)
    headers = _list_tools("mcp.example.com", **{"X-Forwarded-For": "203.0.113.7"})
    async with httpx2.AsyncClient(trust_env=False) as http:
        answer = await http.post(server.url, json=TOOLS_LIST, headers=headers)
    assert answer.status_code == 200


async def test_legacy_sse_clients_start_and_wait_with_their_own_key(live_sandbox: LiveSandbox, spawn: Spawn) -> None:
    server = await spawn("sse", child_env(FLORA_BASE_URL=live_sandbox.base_url))
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with Client(sse_client(server.url, headers={"Authorization": f"Bearer {ALICE}"}), mode="legacy") as client:
        assert len((await client.list_tools()).tools) == 20
        started = await client.call_tool("start_generation_run", GENERATION)
        run_id = (started.structured_content or {})["run_id"]
        done = await client.call_tool("wait_for_run", {"run_id": run_id}, progress_callback=on_progress)
    assert (done.structured_content or {})["status"] == "completed"
    assert progress and progress[-1] == 100
    assert live_sandbox.log.keys_for("POST", "/runs/generation") == [ALICE]

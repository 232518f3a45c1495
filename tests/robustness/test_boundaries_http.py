"""HTTP boundaries: Host/Origin (DNS rebinding) 421/403, the 401 for a request without a key, the body limit,
and one client's key never used for another's request under concurrency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from starlette.types import Receive, Scope, Send

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server
from flora_mcp.server.wire.http_limits import BodyLimit, HostOriginCheck
from flora_mcp.server.wire.transports import http_app, transport_security

from .hostile_support import RequestLog, child_env, decode_answer, log_requests, mcp_process, rpc, serving
from .hostile_support import tool_call as call_of

pytestmark = pytest.mark.anyio

ALICE = "sk-alice-0001"


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _door(allowed_hosts: list[str] | None = None) -> HostOriginCheck:
    security = transport_security(allowed_hosts)
    return HostOriginCheck(_ok, allowed_hosts=security.allowed_hosts, allowed_origins=security.allowed_origins)


async def _send(app: Any, method: str, path: str, headers: dict[str, str], content: bytes = b"") -> httpx2.Response:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as http:
        return await http.request(method, path, headers=headers, content=content)


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "127.0.0.1.evil.example",
        "localhost.evil.example:8000",
        "127.0.0.1:8000.evil.example",
        "127.0.0.1:notaport",
        "0.0.0.0:8000",
        "10.0.0.5:8000",
        "",
    ],
)
async def test_a_host_the_server_does_not_answer_to_gets_421(host: str) -> None:
    answer = await _send(_door(), "POST", "/mcp", {"Host": host})
    assert answer.status_code == 421
    assert answer.json()["error"] == "misdirected_request"


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8000", None),
        ("localhost:61234", None),
        ("LOCALHOST:80", None),
        ("[::1]:8000", None),
        ("localhost", None),
        ("mcp.example.com", ["mcp.example.com"]),
        ("mcp.example.com:443", ["mcp.example.com"]),
        ("mcp.example.com:8443", ["mcp.example.com:8443"]),
    ],
)
async def test_loopback_names_and_allowed_hosts_pass_the_host_check(host: str, allowed: list[str] | None) -> None:
    answer = await _send(_door(allowed), "POST", "/mcp", {"Host": host})
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "null", "http://127.0.0.1.evil.example", "https://localhost.evil.example:8000", "file://"],
)
async def test_a_foreign_origin_gets_403(origin: str) -> None:
    answer = await _send(_door(), "POST", "/mcp", {"Host": "127.0.0.1:8000", "Origin": origin})
    assert answer.status_code == 403
    assert answer.json()["error"] == "forbidden_origin"


@pytest.mark.parametrize("origin", ["http://localhost:5173", "http://127.0.0.1:8000", "https://localhost"])
async def test_a_loopback_origin_passes(origin: str) -> None:
    answer = await _send(_door(), "POST", "/mcp", {"Host": "127.0.0.1:8000", "Origin": origin})
    assert answer.status_code == 200


async def test_the_host_check_comes_before_the_key_the_content_type_and_the_body_size() -> None:
    """A rebinding page's request is told 421 whatever else is wrong with it, and nothing behind runs."""
    sandbox = Sandbox()
    server = create_server(Settings(api_key="sk-server-key-0001"), sandbox=sandbox)
    door = http_app(server, host="0.0.0.0", transport="streamable-http", max_request_bytes=1024)
    for path in ("/mcp", "/anything", "/sse"):
        answer = await _send(
            door, "POST", path, {"Host": "evil.example", "Content-Type": "text/plain"}, content=b"x" * 4096
        )
        assert answer.status_code == 421, path
    assert sum(sandbox.requests.values()) == 0


async def test_a_body_over_the_limit_gets_413_by_its_declared_length_or_as_it_streams() -> None:
    seen: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append(body)
        await _ok(scope, receive, send)

    limited = BodyLimit(app, max_bytes=1000)

    async def chunked(total: int) -> Any:
        for _ in range(total // 100):
            yield b"y" * 100

    assert (await _send(limited, "POST", "/mcp", {}, b"x" * 1001)).status_code == 413
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=limited), base_url="http://127.0.0.1") as http:
        streamed = await http.post("/mcp", content=chunked(5000))
    assert streamed.status_code == 413 and streamed.json()["error"] == "request_too_large"
    assert "1000 bytes" in streamed.json()["message"] and "FLORA_MAX_REQUEST_BYTES" in streamed.json()["message"]
    assert seen == []  # the app never started on an oversized body

    assert (await _send(limited, "POST", "/mcp", {}, b"x" * 1000)).status_code == 200
    assert seen == [b"x" * 1000]


@pytest.fixture
async def keyed_sandbox() -> AsyncIterator[tuple[Sandbox, RequestLog, httpx2.AsyncClient]]:
    sandbox = Sandbox(SandboxConfig(time_scale=0, extra_api_keys=(ALICE,)))
    log = log_requests(sandbox)
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        yield sandbox, log, http


async def test_on_a_non_loopback_bind_a_request_without_a_key_gets_401_though_the_server_has_one(
    keyed_sandbox: tuple[Sandbox, RequestLog, httpx2.AsyncClient],
) -> None:
    sandbox, log, flora_http = keyed_sandbox
    server = create_server(Settings(), http_client=flora_http, sandbox=sandbox)  # the sandbox's key is its own
    # Served on 127.0.0.1 but configured as bound to every interface, as `--host 0.0.0.0` is.
    app = http_app(server, host="0.0.0.0", transport="streamable-http")
    async with serving(app, lifespan=True) as origin, httpx2.AsyncClient(trust_env=False) as http:
        refused = await rpc(http, origin + "/mcp", "tools/call", call_of("list_workspaces", {}))
        served = await rpc(http, origin + "/mcp", "tools/call", call_of("list_workspaces", {}), key=ALICE)

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert served.status_code == 200 and decode_answer(served)["result"]["isError"] is False
    assert [request.key for request in log.seen] == [ALICE]  # only the keyed request reached FLORA


async def test_on_a_loopback_bind_the_servers_key_serves_a_request_without_one_only_when_lent(
    keyed_sandbox: tuple[Sandbox, RequestLog, httpx2.AsyncClient],
) -> None:
    # A loopback bind is what a same-host proxy talks to: loopback alone no longer lends the key.
    sandbox, log, flora_http = keyed_sandbox
    server = create_server(Settings(), http_client=flora_http, sandbox=sandbox)
    answers = []
    for lend in (False, True):
        app = http_app(server, host="127.0.0.1", transport="streamable-http", lend_server_key=lend)
        async with serving(app, lifespan=True) as origin, httpx2.AsyncClient(trust_env=False) as http:
            answers.append(await rpc(http, origin + "/mcp", "tools/call", call_of("list_workspaces", {})))
    refused, served = answers
    assert refused.status_code == 401 and "--lend-server-key" in refused.json()["message"]
    assert served.status_code == 200
    assert [request.key for request in log.seen] == [sandbox.config.api_key]


# --- keys under concurrency --------------------------------------------------------------------
CLIENTS = 20
STARTS_EACH = 3
KEYS = [f"sk-client-{i:02d}-{'abcdefghijklmnopqrst'[i] * 8}" for i in range(CLIENTS)]
GENERATION = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"}


@pytest.mark.slow  # real subprocesses and wall-clock waits: in .ci/run's slow pass
async def test_twenty_concurrent_clients_each_reach_flora_with_their_own_key_only() -> None:
    sandbox = Sandbox(SandboxConfig(time_scale=0, extra_api_keys=tuple(KEYS)))
    log = log_requests(sandbox)
    owner: dict[str, str] = {}  # run id -> the key of the client that started it

    async def client_session(index: int, url: str) -> None:
        key = KEYS[index]
        headers = {"Authorization": f"Bearer {key}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(url, http_client=http), mode="auto" if index % 2 else "legacy") as client,
            anyio.create_task_group() as tasks,
        ):

            async def start_and_follow(n: int) -> None:
                arguments = {**GENERATION, "idempotency_key": f"client-{index:02d}-start-{n}"}
                started = await client.call_tool("start_generation_run", arguments)
                assert not started.is_error, started.content
                run_id = (started.structured_content or {})["run_id"]
                owner[run_id] = key
                done = await client.call_tool("wait_for_run", {"run_id": run_id})
                assert (done.structured_content or {})["status"] == "completed"
                read = await client.call_tool("get_run", {"run_id": run_id})
                assert not read.is_error

            for n in range(STARTS_EACH):
                tasks.start_soon(start_and_follow, n)

    async with sandbox.serving() as base_url:
        env = child_env(FLORA_BASE_URL=base_url, FLORA_SANDBOX_TIME_SCALE="0")
        async with mcp_process(env) as server, anyio.create_task_group() as tasks:
            for index in range(CLIENTS):
                tasks.start_soon(client_session, index, server.url)

    starts = [r for r in log.seen if r.method == "POST"]
    assert len(starts) == len(sandbox.runs) == CLIENTS * STARTS_EACH
    for request in starts:
        index = int(request.idempotency_key.split("-")[1])  # type: ignore[union-attr]
        assert request.key == KEYS[index], f"client {index}'s start went with another key"
    # Output fetches (previews) go to /media/ without any key; the API reads carry the reader's.
    assert all(r.key is None for r in log.seen if r.raw_path.startswith("/media/"))
    reads = [r for r in log.seen if r.method == "GET" and not r.raw_path.startswith("/media/")]
    assert len(reads) >= 2 * CLIENTS * STARTS_EACH
    for request in reads:
        run_id = request.raw_path.rsplit("/", 1)[-1]
        assert request.key == owner[run_id], f"{run_id} was read with another client's key"
    runs_per_key = {key: sum(1 for r in starts if r.key == key) for key in KEYS}
    assert set(runs_per_key.values()) == {STARTS_EACH}


# --- strict JSON bodies ------------------------------------------------------------------------
STRICT_CASES = {
    "NaN": '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"start_generation_run","arguments":'
    '{"workspace_id":"ws_sandbox","project_id":"prj_sandbox","prompt":"a mug","type":"image","params":{"x":NaN}}}}',
    "Infinity": '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"start_generation_run","arguments":'
    '{"workspace_id":"ws_sandbox","project_id":"prj_sandbox","prompt":"a mug","type":"image","params":{"x":1e999}}}}',
    "a repeated key": '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"start_generation_run",'
    '"arguments":{"workspace_id":"ws_sandbox","project_id":"prj_sandbox","prompt":"a mug","prompt":"a boat",'
    '"type":"image"}}}',
}


@pytest.mark.parametrize("case", list(STRICT_CASES))
async def test_a_body_with_nan_infinity_or_a_repeated_key_is_refused_with_its_id_and_starts_nothing(
    keyed_sandbox: tuple[Sandbox, RequestLog, httpx2.AsyncClient], case: str
) -> None:
    sandbox, log, flora_http = keyed_sandbox
    server = create_server(Settings(), http_client=flora_http, sandbox=sandbox)
    app = http_app(server, host="127.0.0.1", transport="streamable-http")
    headers = {
        "Authorization": f"Bearer {ALICE}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    async with serving(app, lifespan=True) as origin, httpx2.AsyncClient(trust_env=False) as http:
        answer = await http.post(origin + "/mcp", content=STRICT_CASES[case].encode(), headers=headers)
    assert answer.status_code == 400
    assert answer.json()["id"] == 7 and answer.json()["error"]["code"] in (-32700, -32600)
    assert sandbox.runs == [] and log.seen == []  # nothing reached FLORA

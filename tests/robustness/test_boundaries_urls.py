"""URL boundaries: only same-origin poll_urls are followed; callback_urls must be public https hosts.

The server talks to the sandbox in process through a transport that records every request it
sends (URL, key, body), so "nothing went anywhere else" is checked on what was actually sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx2
import pytest
from mcp import Client
from mcp_types import TextContent

from flora_mcp.config import Settings
from flora_mcp.sandbox import Fault, Sandbox, SandboxConfig
from flora_mcp.server import create_server

pytestmark = pytest.mark.anyio

BASE = "http://sandbox.test/api/v1"
GENERATION = {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"}
POSTER_INPUTS = [{"id": "subject", "type": "text", "value": "a fox"}]


@dataclass(frozen=True)
class Sent:
    method: str
    url: str
    key: str | None
    body: bytes


@dataclass
class Recording(httpx2.AsyncBaseTransport):
    """An httpx2 transport that records each request, then hands it to the sandbox."""

    inner: httpx2.AsyncBaseTransport
    sent: list[Sent] = field(default_factory=list)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        auth = request.headers.get("authorization")
        self.sent.append(Sent(request.method, str(request.url), auth, request.content))
        return await self.inner.handle_async_request(request)


@dataclass
class World:
    client: Client
    sandbox: Sandbox
    recording: Recording


@pytest.fixture
async def world() -> AsyncIterator[World]:
    sandbox = Sandbox(SandboxConfig(time_scale=0))
    recording = Recording(sandbox.transport())
    async with httpx2.AsyncClient(transport=recording) as http:
        server = create_server(Settings(max_retries=0), http_client=http, sandbox=sandbox)
        async with Client(server) as client:
            yield World(client, sandbox, recording)


def api_requests(world: World) -> list[Sent]:
    """What reached FLORA's API; a completed run's output is also fetched (for its preview), never with a key."""
    media = [s for s in world.recording.sent if "/media/" in s.url]
    assert all(s.key is None for s in media)
    return [s for s in world.recording.sent if s not in media]


def text_of(result: object) -> str:
    return "\n".join(b.text for b in getattr(result, "content", []) if isinstance(b, TextContent))


async def _start_with_poll_url(world: World, poll_url: str) -> str:
    """A real run, then a start answer (scripted) that names it with `poll_url`; returns the run id."""
    first = await world.client.call_tool("start_generation_run", GENERATION)
    run_id = (first.structured_content or {})["run_id"]
    answer = {"run_id": run_id, "type": "generation", "charged_cost": 0.04, "estimated_seconds": 0}
    body = json.dumps({**answer, "poll_url": poll_url.format(run=run_id)}).encode()
    world.sandbox.faults.push("POST /runs/generation", Fault.raw(200, body, "application/json"))
    second = await world.client.call_tool("start_generation_run", {**GENERATION, "repeat": True})
    shown = (second.structured_content or {}).get("poll_url")
    if poll_url.lower().startswith(("http://", "https://")):
        assert shown == poll_url.format(run=run_id)
    else:  # only http(s) links reach the agent: a javascript:, file: or relative one is dropped
        assert shown is None, shown
        assert "javascript:" not in text_of(second) and "file:" not in text_of(second)
    return run_id


@pytest.mark.parametrize(
    "poll_url",
    [
        "http://evil.example/api/v1/runs/{run}",
        "https://sandbox.test/api/v1/runs/{run}",
        "http://sandbox.test:8080/api/v1/runs/{run}",
        "http://sandbox.test.evil.example/api/v1/runs/{run}",
        "http://user:pw@sandbox.test/api/v1/runs/{run}",
        "http://evil.example#@sandbox.test/api/v1/runs/{run}",
        "//evil.example/api/v1/runs/{run}",
        "http://sandbox.test/other/runs/{run}",
        "http://sandbox.test/api/v1/../../evil/runs/{run}",
        "http://sandbox.test/api/v1/runs/%2e%2e/%2e%2e/evil",
        "http://sandbox.test/api/v1/runs%2F..%2F..%2Fevil",
        "http://sandbox.test/api/v1",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "not a url at all",
    ],
)
async def test_a_poll_url_outside_the_api_is_never_followed_the_run_is_read_on_its_own_route(
    world: World, poll_url: str
) -> None:
    run_id = await _start_with_poll_url(world, poll_url)
    world.recording.sent.clear()

    done = await world.client.call_tool("wait_for_run", {"run_id": run_id})

    assert (done.structured_content or {})["status"] == "completed", text_of(done)
    assert [(s.method, s.url) for s in api_requests(world)] == [("GET", f"{BASE}/runs/{run_id}")]


async def test_a_poll_url_inside_the_api_is_followed(world: World) -> None:
    """The control for the test above: the poll_url the start names is where the server polls."""
    run_id = await _start_with_poll_url(world, BASE + "/runs/{run}?via=poll_url")
    world.recording.sent.clear()

    done = await world.client.call_tool("wait_for_run", {"run_id": run_id})

    assert (done.structured_content or {})["status"] == "completed"
    assert [s.url for s in api_requests(world)] == [f"{BASE}/runs/{run_id}?via=poll_url"]


async def test_the_key_only_ever_goes_to_the_api_origin(world: World) -> None:
    for poll_url in ("http://evil.example/api/v1/runs/{run}", BASE + "/runs/{run}"):
        run_id = await _start_with_poll_url(world, poll_url)
        await world.client.call_tool("wait_for_run", {"run_id": run_id})
    keyed = {s.url.split("/api/v1/")[0] for s in world.recording.sent if s.key}
    assert keyed == {"http://sandbox.test"}


@pytest.mark.parametrize(
    "callback_url",
    [
        "http://hooks.example.com/flora",
        "ftp://hooks.example.com/flora",
        "https://127.0.0.1/flora",
        "https://127.8.9.10/flora",
        "https://localhost/flora",
        "https://LOCALHOST./flora",
        "https://api.localhost/flora",
        "https://printer.local/flora",
        "https://metadata.google.internal/computeMetadata",
        "https://10.0.0.7/flora",
        "https://172.16.3.4/flora",
        "https://192.168.1.1/flora",
        "https://100.64.0.1/flora",
        "https://169.254.169.254/latest/meta-data",
        "https://0.0.0.0/flora",
        "https://[::1]/flora",
        "https://[::]/flora",
        "https://[fe80::1]/flora",
        "https://[fc00::1]/flora",
        "https://[::ffff:127.0.0.1]/flora",
        # IPv4 written in the forms URL parsers also read as addresses
        "https://2130706433/flora",
        "https://0x7f000001/flora",
        "https://0x7f.0.0.1/flora",
        "https://0177.0.0.1/flora",
        "https://127.1/flora",
        "https://10.1/flora",
        "https://user:pass@hooks.example.com/flora",
        "https:///flora",
        "not a url",
    ],
)
async def test_a_callback_url_that_is_not_a_public_https_host_is_refused_before_sending(
    world: World, callback_url: str
) -> None:
    result = await world.client.call_tool(
        "start_technique_run",
        {"technique_id": "tech_sandboxposter", "inputs": POSTER_INPUTS, "callback_url": callback_url},
    )

    text = text_of(result)
    assert result.is_error and text.startswith("Invalid arguments for start_technique_run")
    assert "callback_url" in text and "Next step" in text
    assert world.recording.sent == [] and world.sandbox.runs == []


async def test_a_public_https_callback_url_is_sent_with_the_start(world: World) -> None:
    callback_url = "https://hooks.example.com/flora?run=1"
    result = await world.client.call_tool(
        "start_technique_run",
        {"technique_id": "tech_sandboxposter", "inputs": POSTER_INPUTS, "callback_url": callback_url},
    )

    assert not result.is_error, text_of(result)
    [start] = [s for s in world.recording.sent if s.method == "POST"]  # after the catalog check's GET
    assert start.url == f"{BASE}/techniques/tech_sandboxposter/runs"
    assert json.loads(start.body)["callback_url"] == callback_url
    assert len(world.sandbox.runs) == 1

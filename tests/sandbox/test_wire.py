"""The sandbox over a real socket (uvicorn on 127.0.0.1, port 0): what a client on the wire sees."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest

from flora_mcp.api.models import RunState, StartResponse
from flora_mcp.sandbox import Fault, Sandbox, SandboxConfig

from .helpers import KEY, generation_body

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def served(sandbox: Sandbox) -> AsyncIterator[tuple[str, httpx2.AsyncClient]]:
    """`sandbox` on a real socket, and a client of it that sends the key."""
    async with (
        sandbox.serving() as base_url,
        httpx2.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}) as client,
    ):
        yield base_url, client


async def test_over_a_socket_a_dropped_answer_is_a_transport_error_while_the_run_exists() -> None:
    sandbox = Sandbox(SandboxConfig(time_scale=0))
    sandbox.faults.push("POST /runs/generation", Fault.dropped_after_create())

    async with served(sandbox) as (_, client):
        with pytest.raises(httpx2.TransportError):
            await client.post("/runs/generation", json=generation_body())
        assert len(sandbox.runs) == 1
        state = RunState.model_validate((await client.get(f"/runs/{sandbox.runs[0].run_id}")).json())

    assert state.status == "completed"


async def test_over_a_socket_answers_carry_urls_on_the_served_origin_and_a_request_id() -> None:
    sandbox = Sandbox(SandboxConfig(time_scale=0))

    async with served(sandbox) as (base_url, client):
        response = await client.post("/runs/generation", json=generation_body())
        start = StartResponse.model_validate(response.json())
        assert start.poll_url is not None
        state = RunState.model_validate((await client.get(start.poll_url)).json())
        assert state.outputs is not None
        image = await client.get(state.outputs[0].url)

    assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/v1")
    assert start.poll_url.startswith(base_url)
    assert response.headers["request-id"].startswith("req_")
    assert image.headers["content-type"] == "image/png"


async def test_over_a_socket_a_drop_before_anything_is_a_transport_error_and_no_run() -> None:
    sandbox = Sandbox()
    sandbox.faults.push("*", Fault.dropped())

    async with served(sandbox) as (_, client):
        with pytest.raises(httpx2.TransportError):
            await client.post("/runs/generation", json=generation_body())
        after = await client.get("/workspaces")

    assert sandbox.runs == []
    assert after.status_code == 200


def test_a_served_sandbox_reports_its_base_url_and_takes_faults_through_its_control_routes() -> None:
    script = "from flora_mcp.sandbox import serve\nserve(port=0, ready=lambda url: print(url, flush=True))\n"
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        with httpx2.Client(base_url=base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as client:
            client.post("/_sandbox/faults", json={"route": "GET /models", "kind": "status", "status": 503})
            faulted = client.get("/models")
            normal = client.get("/models")
            state = client.get("/_sandbox/state").json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert faulted.status_code == 503
    assert normal.status_code == 200
    assert len(normal.json()["models"]) == 9  # four text-to-x models and five that take source media
    assert state["requests"] == {"GET /models": 2}

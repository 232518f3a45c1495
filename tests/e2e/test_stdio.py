"""flora-mcp over real stdio, as an MCP host runs it, in both protocol eras."""

from __future__ import annotations

import sys

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp_types import ResourceLink

from tests.robustness.hostile_support import child_env

from .conftest import SERVER_KEY, LiveSandbox

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
async def test_a_generation_is_started_waited_for_and_read_over_stdio(live_sandbox: LiveSandbox, mode: str) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "flora_mcp"],
        env=child_env(FLORA_BASE_URL=live_sandbox.base_url, FLORA_API_KEY=SERVER_KEY),
    )
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    async with Client(params, mode=mode) as client:
        assert len((await client.list_tools()).tools) == 20
        started = await client.call_tool(
            "start_generation_run",
            {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"},
        )
        assert not started.is_error
        run_id = (started.structured_content or {})["run_id"]
        done = await client.call_tool("wait_for_run", {"run_id": run_id}, progress_callback=on_progress)
        assert (done.structured_content or {})["status"] == "completed"
        assert progress and progress[-1] == 100
        assert any(isinstance(block, ResourceLink) for block in done.content)
        refused = await client.call_tool("get_run", {"run_id": "nope"})
        assert refused.is_error
    assert live_sandbox.log.keys_for("POST", "/runs/generation") == [SERVER_KEY]


async def test_the_sandbox_flag_serves_fetchable_outputs_without_any_key() -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "flora_mcp", "--sandbox"],
        env=child_env(FLORA_SANDBOX_TIME_SCALE="0"),
    )
    async with Client(params) as client, httpx2.AsyncClient(trust_env=False) as http:
        started = await client.call_tool(
            "start_generation_run",
            {"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "prompt": "a mug", "type": "image"},
        )
        run_id = (started.structured_content or {})["run_id"]
        finished = await client.call_tool("wait_for_run", {"run_id": run_id})
        [link] = [block for block in finished.content if isinstance(block, ResourceLink)]
        assert str(link.uri).startswith("http://127.0.0.1:")
        media = await http.get(str(link.uri))
        assert media.status_code == 200
        assert media.headers["content-type"] == link.mime_type == "image/png"

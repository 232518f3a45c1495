"""Truthful modes: the server advertises only what it serves, and read-only says starts are off."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox
from flora_mcp.server import create_server

from .support import PROJECT, WORKSPACE, text_of

pytestmark = pytest.mark.anyio

IMAGE = {"workspace_id": WORKSPACE, "project_id": PROJECT, "prompt": "a mug", "type": "image"}


async def test_only_what_is_served_is_advertised_and_no_change_notifications_are_promised(client: Client) -> None:
    capabilities = client.server_capabilities
    assert capabilities is not None
    assert capabilities.tools is not None and not capabilities.tools.list_changed
    assert capabilities.prompts is None
    # Run outputs are served as resources; nothing ever notifies of changes to them.
    assert capabilities.resources is not None
    assert not capabilities.resources.subscribe and not capabilities.resources.list_changed


async def test_prompts_answer_method_not_found_rather_than_an_empty_promise(client: Client) -> None:
    with pytest.raises(MCPError, match=r"(?i)method not found"):
        await client.list_prompts()
    listed = await client.list_resources()
    # A caller who ran nothing has no outputs to list: only the run viewer app is there.
    assert [str(r.uri) for r in listed.resources] == ["ui://flora-mcp/run-viewer.html"]


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
async def test_a_read_only_server_says_starts_are_disabled_and_what_still_works(sandbox: Sandbox, mode: str) -> None:
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        server = create_server(Settings(read_only=True), http_client=http, sandbox=sandbox)
        async with Client(server, mode=mode) as client:
            instructions = client.instructions or ""
            generation = await client.call_tool("start_generation_run", IMAGE)
            technique = await client.call_tool("start_technique_run", {"technique_id": "tech_x", "inputs": []})
            unknown = await client.call_tool("start_everything", {})
            listed = await client.call_tool("list_workspaces", {})

    assert "Starts are disabled" in instructions and "read-only" in instructions
    assert "Start: start_generation_run" not in instructions  # never told to start what it cannot
    for name, result in (("start_generation_run", generation), ("start_technique_run", technique)):
        text = text_of(result)
        assert result.is_error and text.startswith(f"{name} is disabled: the operator runs this server read-only")
        assert "Nothing was sent to FLORA" in text and "list_workspaces" in text and "wait_for_run" in text
        assert "Unknown tool" not in text
    assert unknown.is_error and "Unknown tool" in text_of(unknown)  # a real typo stays a typo
    assert not listed.is_error
    assert not any(route.startswith("POST") for route in sandbox.requests), dict(sandbox.requests)

"""The tool list an agent sees: names, schemas and annotations, pinned by published_schemas.json.

That file (src/flora_mcp/server/tools/published_schemas.json) is the snapshot: a change to a tool
shows up as a diff of it. After a deliberate change, regenerate it with
`python -m flora_mcp.server.tools.published` (see server/tools/published.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from flora_mcp.server.tools import published

pytestmark = pytest.mark.anyio

STARTS = {"start_generation_run", "start_technique_run", "start_generation_runs", "start_action_run"}
EXPECTED = STARTS | {
    "get_technique_run",
    "list_technique_runs",
    "list_generations",
    "get_run",
    "wait_for_run",
    "wait_for_runs",
    "list_workspaces",
    "list_projects",
    "list_models",
    "list_techniques",
    "get_technique",
    "list_actions",
    "create_project",
    "upload_asset",
    "get_spend",
    "find_runs",
}
LOCAL = {"get_spend", "find_runs"}  # read the server's own ledger and journal, not FLORA
CREATES = {"create_project", "upload_asset"}  # changes FLORA, spends nothing


async def listed(client: Client) -> list[dict[str, Any]]:
    tools = (await client.list_tools()).tools
    return [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in tools]


async def test_the_tool_list_is_the_published_one(client: Client) -> None:
    tools = await listed(client)
    shipped = published.listing()
    assert [tool["name"] for tool in tools] == [tool["name"] for tool in shipped], published.STALE
    for tool, expected in zip(tools, shipped, strict=True):
        # Fresh file, still a difference: published.compute() no longer lists tools as create_server builds them.
        assert tool == expected, f"{tool['name']}: {published.STALE}"


async def test_the_server_offers_exactly_the_documented_tools(client: Client) -> None:
    assert {tool["name"] for tool in await listed(client)} == EXPECTED


# What MCP takes a hint to be when a tool leaves it out.
DEFAULT_HINTS = {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False, "openWorldHint": True}


async def test_every_tool_has_a_title_an_output_schema_and_honest_annotations(client: Client) -> None:
    for tool in await listed(client):
        assert tool["title"], tool["name"]
        assert tool["outputSchema"]["type"] == "object", tool["name"]
        hints = DEFAULT_HINTS | tool["annotations"]
        assert hints["openWorldHint"] is (tool["name"] not in LOCAL), tool["name"]
        writes = tool["name"] in STARTS | CREATES
        assert hints["readOnlyHint"] is not writes, tool["name"]
        if writes:  # destructive and idempotent mean something only for a tool that is not read-only
            assert hints["destructiveHint"] is False and hints["idempotentHint"] is False, tool["name"]
        else:  # and a read-only tool says nothing more than it must
            assert set(tool["annotations"]) <= {"readOnlyHint", "openWorldHint"}, tool["name"]


async def test_input_schemas_refuse_unknown_arguments(client: Client) -> None:
    for tool in await listed(client):
        assert tool["inputSchema"]["additionalProperties"] is False, tool["name"]


async def test_the_generation_schema_keeps_descriptions_enums_patterns_and_required_fields(client: Client) -> None:
    tool = next(t for t in await listed(client) if t["name"] == "start_generation_run")
    schema = tool["inputSchema"]
    props = schema["properties"]
    assert set(schema["required"]) == {"workspace_id", "project_id", "prompt", "type"}
    assert props["type"]["enum"] == ["image", "video", "audio", "text"]
    assert props["workspace_id"]["pattern"].startswith("^ws_")
    assert props["project_id"]["pattern"].startswith("^prj_")
    assert set(props) == {
        "workspace_id",
        "project_id",
        "prompt",
        "type",
        "model",
        "params",
        "idempotency_key",
        "repeat",
    }
    for name in props:
        assert props[name].get("description"), f"{name} has no top-level description"


async def test_the_technique_schema_describes_each_input_item(client: Client) -> None:
    tool = next(t for t in await listed(client) if t["name"] == "start_technique_run")
    schema = tool["inputSchema"]
    assert set(schema["required"]) == {"technique_id", "inputs"}
    item = schema["properties"]["inputs"]["items"]
    assert item["properties"]["type"]["enum"] == ["text", "imageUrl", "videoUrl", "audioUrl", "documentUrl", "json"]
    assert all(kind in item["properties"]["type"]["description"] for kind in ("audioUrl", "documentUrl", "json"))
    assert set(item["required"]) == {"id", "type", "value"}
    assert "workspace_id" in tool["description"] and "POST" not in tool["description"]


async def test_wait_for_run_offers_a_default_budget_under_a_minute(client: Client) -> None:
    tool = next(t for t in await listed(client) if t["name"] == "wait_for_run")
    budget = tool["inputSchema"]["properties"]["timeout_seconds"]
    assert budget["default"] < 60
    assert budget["maximum"] >= 600
    assert tool["inputSchema"]["required"] == ["run_id"]


async def test_the_instructions_teach_the_workflow(client: Client) -> None:
    instructions = client.instructions or ""
    for step in ("list_workspaces", "start_generation_run", "wait_for_run", "cost money"):
        assert step in instructions

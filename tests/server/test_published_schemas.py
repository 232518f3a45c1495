"""published_schemas.json is the tool list the specs and models give, tool for tool, byte for byte."""

from __future__ import annotations

import json

from flora_mcp.server.tools import build_tools, published, tool_specs
from flora_mcp.server.tools.registry import build_tool

HOW = published.STALE


def test_the_shipped_tool_list_is_the_one_the_specs_give_key_order_included() -> None:
    shipped = {tool["name"]: tool for tool in published.listing()}
    computed = published.compute()
    assert list(shipped) == [tool["name"] for tool in computed], HOW
    for tool in computed:
        # The same JSON text, so the wire shows properties in the models' order as well.
        assert json.dumps(shipped[tool["name"]]) == json.dumps(tool), f"{tool['name']}: {HOW}"
    assert published.FILE.read_text(encoding="utf-8") == published.render(computed), HOW


def test_the_server_publishes_the_shipped_schemas() -> None:
    shipped = published.load()
    for tool in build_tools():
        assert tool.parameters == shipped[tool.name]["input"], f"{tool.name}: {HOW}"
        assert tool.fn_metadata.output_schema == shipped[tool.name]["output"], f"{tool.name}: {HOW}"


def test_a_tool_missing_from_the_file_gets_its_schemas_computed() -> None:
    spec = tool_specs()[0]
    tool = build_tool(spec)
    assert tool.parameters == published.load()[spec.name]["input"], HOW


def test_each_server_gets_schemas_of_its_own() -> None:
    first, second = build_tools(), build_tools()
    first[0].parameters["properties"].clear()
    assert second[0].parameters["properties"]

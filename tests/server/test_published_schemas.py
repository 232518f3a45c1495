"""The schemas shipped in published_schemas.json are the ones the models give, tool for tool."""

from __future__ import annotations

import json

from flora_mcp.server.tools import build_tools, published, tool_specs
from flora_mcp.server.tools.registry import build_tool

HOW = f"published_schemas.json is stale: regenerate it with `{published.REGENERATE}`"


def test_the_shipped_schemas_equal_the_models_schemas_key_order_included() -> None:
    shipped = published.load()
    computed = published.compute()
    assert set(shipped) == set(computed), HOW
    for name, schemas in computed.items():
        # The same JSON text, so the wire shows properties in the models' order as well.
        assert json.dumps(shipped[name]) == json.dumps(schemas), f"{name}: {HOW}"


def test_the_server_publishes_the_shipped_schemas() -> None:
    shipped = published.load()
    for tool in build_tools():
        assert tool.parameters == shipped[tool.name]["input"], tool.name
        assert tool.fn_metadata.output_schema == shipped[tool.name]["output"], tool.name


def test_a_tool_missing_from_the_file_gets_its_schemas_computed() -> None:
    spec = tool_specs()[0]
    tool = build_tool(spec)
    assert tool.parameters == published.load()[spec.name]["input"]


def test_each_server_gets_schemas_of_its_own() -> None:
    first, second = build_tools(), build_tools()
    first[0].parameters["properties"].clear()
    assert second[0].parameters["properties"]

"""The one module that builds the SDK's internal Tool objects (server/tools/registry.py) still fits the SDK.

If an SDK release renames or reshapes what registry.py uses, these fail first and say where to
look, instead of tools silently losing their schemas or their consent step.
"""

from __future__ import annotations

import inspect

from mcp.server.mcpserver.resolve import build_resolver_plans, find_resolved_parameters
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata

from flora_mcp.server.tools import build_tools, tool_specs
from flora_mcp.server.tools.registry import build_tool

WHERE = "the SDK changed an internal that src/flora_mcp/server/tools/registry.py builds tools from"


def test_the_sdk_tool_model_still_has_the_fields_the_registry_fills() -> None:
    used = {
        "fn",
        "name",
        "title",
        "description",
        "parameters",
        "fn_metadata",
        "is_async",
        "context_kwarg",
        "resolved_params",
        "resolver_plans",
        "annotations",
        "meta",
    }
    assert used <= set(Tool.model_fields), WHERE
    assert {"arg_model", "output_model", "output_schema"} <= set(FuncMetadata.model_fields), WHERE
    assert hasattr(ArgModelBase, "model_dump_one_level"), WHERE
    assert list(inspect.signature(build_resolver_plans).parameters) == ["resolved_params", "tool_arg_names"], WHERE
    assert list(inspect.signature(find_resolved_parameters).parameters) == ["fn"], WHERE


def test_every_spec_builds_and_keeps_unknown_arguments_refused() -> None:
    for spec in tool_specs():
        tool = build_tool(spec)
        assert tool.parameters["additionalProperties"] is False, spec.name
        assert tool.fn_metadata.output_schema is not None, spec.name


def test_the_start_tools_keep_their_consent_step() -> None:
    starts = {tool.name: tool for tool in build_tools() if tool.name.startswith("start_")}
    assert starts, WHERE
    for name, tool in starts.items():
        assert set(tool.resolved_params) == {"quote", "checked", "confirmation"}, f"{name}: {WHERE}"
        assert tool.resolver_plans, f"{name}: {WHERE}"

"""The tools, one module per family; each declares its tools as `ToolSpec`s next to their bodies.

Adding a tool: write its arguments model, description, annotations and body in the module of
its family (or a new module listed in FAMILIES), add it to that module's SPECS, and add tests.
"""

from __future__ import annotations

from mcp.server.mcpserver.tools import Tool

from flora_mcp.server.tools import (
    actions,
    assets,
    batches,
    discovery,
    history,
    journal,
    projects,
    runs,
    spend,
    starts,
    waiting,
)
from flora_mcp.server.tools.registry import ToolSpec, build_tool

# The order tools/list shows them in: starting first, then following, then finding ids (and making the
# one id a start can lack, a project), then your own records.
FAMILIES = (starts, actions, batches, runs, waiting, history, discovery, projects, assets, spend, journal)


def tool_specs() -> list[ToolSpec]:
    return [spec for family in FAMILIES for spec in family.SPECS]


def start_tool_names() -> frozenset[str]:
    return frozenset(spec.name for spec in tool_specs() if spec.starts_runs)


def build_tools(*, read_only: bool = False) -> list[Tool]:
    """The SDK tools; with `read_only`, none that can start (and so charge for) a run.

    Their schemas come from published_schemas.json (computed ahead, see published.py).
    """
    from flora_mcp.server.tools import published  # here, so `python -m` of it runs it cleanly

    schemas = published.load()
    return [build_tool(spec, schemas.get(spec.name)) for spec in tool_specs() if not (read_only and spec.starts_runs)]

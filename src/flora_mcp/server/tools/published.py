"""The tool list as published, computed once and shipped in published_schemas.json.

The file holds exactly what tools/list answers (names, titles, descriptions, input and output
schemas, annotations, `_meta`), tool for tool in the server's order, each schema's properties in
its model's order. It serves two ends, so that a change to a tool is one visible diff:

- cold start: turning the arguments and output models into the JSON schemas tools/list shows
  (pydantic's generator, then the trimming in lean_schema.py) took about 27 ms of every server
  start, for the same answer each time; the server reads the schemas from here instead (well
  under a millisecond). A tool missing from the file (one just added) gets its schemas computed
  at start, as before;
- review: it is the snapshot of the tool list an agent sees, so a changed argument, description
  or hint shows up as a diff of this file.

The models and specs stay the one source: after changing a tool, regenerate the file with

    python -m flora_mcp.server.tools.published

tests/server/test_published_schemas.py fails when the file differs from what the specs give,
and tests/server/test_tool_list.py when it differs from what the running server lists; both
name that command.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

FILE = Path(__file__).with_name("published_schemas.json")
REGENERATE = "python -m flora_mcp.server.tools.published"
STALE = f"src/flora_mcp/server/tools/published_schemas.json is stale: regenerate it with `{REGENERATE}`"


@cache
def _text() -> str:
    try:
        return FILE.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "[]"


def listing() -> list[dict[str, Any]]:
    """The shipped tool list, as tools/list shows it; fresh dicts on every call (callers own them)."""
    tools: list[dict[str, Any]] = json.loads(_text())
    return tools


def load() -> dict[str, dict[str, Any]]:
    """{tool name: {"input": schema, "output": schema}}; fresh dicts on every call (callers own them)."""
    return {tool["name"]: {"input": tool["inputSchema"], "output": tool["outputSchema"]} for tool in listing()}


def compute() -> list[dict[str, Any]]:
    """The tool list computed from the specs and models now, listed by the SDK as on the wire."""
    import anyio
    from mcp.server import MCPServer

    from flora_mcp.outputs.viewer import RunViewer
    from flora_mcp.server.tools import tool_specs
    from flora_mcp.server.tools.registry import build_tool

    # As create_server builds them (tools are listed in the order they are added), minus the file.
    server: MCPServer[Any] = MCPServer("flora-mcp", tools=RunViewer.bind([build_tool(spec) for spec in tool_specs()]))
    tools = anyio.run(server.list_tools)
    return [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in tools]


def render(tools: list[dict[str, Any]]) -> str:
    # Not sorted: the models' order is the wire's order, and a diff then reads like the model's.
    return json.dumps(tools, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    FILE.write_text(render(compute()), encoding="utf-8")
    sys.stderr.write(f"wrote {FILE}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

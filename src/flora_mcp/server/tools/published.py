"""The tools' schemas as published, computed once and shipped in published_schemas.json.

Turning the arguments and output models into the JSON schemas tools/list shows (pydantic's
generator, then the trimming in lean_schema.py) took about 27 ms of every server start, before
the first tools/list, for the same answer each time. So the answer is computed ahead, stored
next to this module, and read at start (well under a millisecond).

tests/server/test_published_schemas.py fails when the file and the models disagree; after
changing a tool's arguments or output model, regenerate it with

    python -m flora_mcp.server.tools.published

A tool missing from the file (one just added) gets its schemas computed at start, as before.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

FILE = Path(__file__).with_name("published_schemas.json")
REGENERATE = "python -m flora_mcp.server.tools.published"


@cache
def _text() -> str:
    try:
        return FILE.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "{}"


def load() -> dict[str, dict[str, Any]]:
    """{tool name: {"input": schema, "output": schema}}; fresh dicts on every call (callers own them)."""
    loaded: dict[str, dict[str, Any]] = json.loads(_text())
    return loaded


def compute() -> dict[str, dict[str, Any]]:
    """The schemas of every tool, computed from the models now."""
    from flora_mcp.server.tools import tool_specs
    from flora_mcp.server.tools.registry import arguments_model, input_schema, output_schema

    return {
        spec.name: {"input": input_schema(arguments_model(spec)), "output": output_schema(spec.output)}
        for spec in tool_specs()
    }


def render(schemas: dict[str, dict[str, Any]]) -> str:
    return json.dumps(schemas, indent=1, ensure_ascii=False)  # model order kept: it is the wire's order + "\n"


def main() -> int:
    FILE.write_text(render(compute()), encoding="utf-8")
    sys.stderr.write(f"wrote {FILE}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

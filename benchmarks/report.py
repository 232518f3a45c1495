"""Render benchmark results (the runner's JSON) as benchmarks/RESULTS.md.

Every number in the file comes from the results; the prose around them is fixed method notes.
`python -m benchmarks.report RESULTS.json > RESULTS.md` re-renders a saved run.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from benchmarks import targets
from benchmarks.report_items import (
    additions_section,
    coldstart_section,
    faults_section,
    latency_section,
    memory_section,
    polling_section,
    surface_section,
    throughput_section,
)

LABELS = {
    "raw": "raw httpx floor",
    "ours": "flora-mcp",
    "bare": "bare MCPServer floor",
    "official": "official flora-mcp 0.11.0 (npm)",
}


def _machine(meta: dict[str, Any]) -> list[str]:
    m = meta.get("machine", {})
    packages = ", ".join(f"{name} {version}" for name, version in m.get("packages", {}).items() if version)
    load = m.get("load_average_at_start")
    memory = m.get("memory_gib")
    load_text = f"; load average at start {', '.join(f'{x:.2f}' for x in load)}" if load else ""
    memory_text = f"{memory:.0f} GiB RAM" if memory else "RAM unknown"
    lines = [
        f"- **Date:** {m.get('date')}; profile `{meta.get('profile')}`; the run took {meta.get('seconds', 0):.0f} s.",
        f"- **Machine:** {m.get('cpu')}, {m.get('cores')} cores, {memory_text}, {m.get('os')}{load_text}.",
        f"- **Software:** Python {m.get('python')}, Node {m.get('node') or 'absent'}; {packages}.",
        f"- **Code:** commit {m.get('commit') or 'unknown'}.",
        f"- **Official server:** {meta.get('official')}.",
    ]
    return lines


def _charts(results: dict[str, Any]) -> list[str]:
    drawn = results.get("charts") or {}
    if drawn.get("skipped"):
        return [f"Charts: not drawn ({drawn['skipped']}).", ""]
    titles = {"latency.png": "Latency per call, per peer and series", "throughput.png": "Throughput per level"}
    return [line for name in drawn.get("files", []) for line in (f"![{titles.get(name, name)}]({name})", "")]


def render(results: dict[str, Any]) -> str:
    meta = results.get("meta", {})
    out = [
        "# Benchmarks: flora-mcp beside FLORA's official MCP server and the raw API",
        "",
        f"Written by `{meta.get('command', 'python -m benchmarks')}`; do not edit by hand, run it again "
        "(see benchmarks/README.md). Every peer runs on 127.0.0.1 against the same FLORA sandbox served "
        "on a real socket.",
        "",
        *_machine(meta),
        "",
        "Numbers are medians over repeats, with the interquartile range (IQR) and the number of samples; "
        "latencies add p95. The machine is shared and noisy: read ratios against the spread, not to the "
        "last digit. Tokens are estimated as bytes / 4.",
        "",
        "## Targets at a glance",
        "",
        "| # | measure | target | result | verdict |",
        "|---|---|---|---|---|",
        *targets.rows(results),
        "",
        *_charts(results),
    ]
    errors = results.get("errors") or {}
    if errors:
        out += ["## Items that failed in this run", ""]
        out += [f"- `{key}`: {message}" for key, message in errors.items()]
        out.append("")
    out += coldstart_section(results, LABELS)
    out += surface_section(results, LABELS)
    out += latency_section(results, LABELS)
    out += throughput_section(results, LABELS)
    out += memory_section(results, LABELS)
    out += polling_section(results)
    out += faults_section(results, LABELS)
    out += additions_section(results)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    with open(sys.argv[1]) as saved:
        sys.stdout.write(render(json.load(saved)))

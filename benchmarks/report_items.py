"""One Markdown section per benchmark item, each a short method note and a table of results."""

from __future__ import annotations

from typing import Any

from benchmarks.targets import dig

Labels = dict[str, str]
ORDER = ("raw", "ours", "bare", "official")


def _head(*columns: str) -> list[str]:
    """A Markdown table's header row and its separator."""
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def s(summary: dict[str, Any] | None, digits: int = 1, *, p95: bool = False) -> str:
    if not summary:
        return "n/a"
    text = f"{summary['median']:,.{digits}f}"
    if p95:
        text += f" (p95 {summary['p95']:,.{digits}f})"
    return f"{text} [IQR {summary['p25']:,.{digits}f}-{summary['p75']:,.{digits}f}, n={summary['n']}]"


def _rate(level: dict[str, Any]) -> str:
    low, high = level.get("calls_per_second_range") or (None, None)
    if low is None or level.get("rounds", 1) < 2:
        return f"{level['calls_per_second']:,.1f}"
    return f"{level['calls_per_second']:,.1f} [{low:,.0f}-{high:,.0f}, {level['rounds']} rounds]"


def _bytes(value: int | None) -> str:
    return f"{value:,} B" if value is not None else "n/a"


def _keys(mapping: dict[str, Any]) -> list[str]:
    return [key for key in ORDER if key in mapping] + [key for key in mapping if key not in ORDER]


def coldstart_section(results: dict[str, Any], labels: Labels) -> list[str]:
    cold = results.get("coldstart")
    if not cold:
        return []
    bare = dig(cold, "bare", "summary", "median")
    official = dig(cold, "official", "summary", "median")
    out = [
        "## 1. Cold start over stdio (spawn → tools/list answer)",
        "",
        "A new process each time, the 2025-11-25 handshake, then tools/list; peers take turns; one "
        "unmeasured spawn per peer first warms the disk cache.",
        "",
        *_head("server", "ms, median [IQR]", "vs bare floor", "vs official"),
    ]
    for key in _keys(cold):
        median = dig(cold, key, "summary", "median")
        vs_bare = f"{median / bare:.2f}x" if bare and median else "n/a"
        vs_official = f"{median / official:.2f}x" if official and median else "n/a"
        out.append(f"| {labels.get(key, key)} | {s(dig(cold, key, 'summary'), 0)} | {vs_bare} | {vs_official} |")
    imports = results.get("imports")
    if imports:
        out += [
            "",
            f"Where the Python time goes (`-X importtime`, self time summed per top-level package, median of "
            f"runs; importtime itself slows imports, so read shares): flora-mcp imports take "
            f"{imports['ours_total_ms']:.0f} ms, the bare floor's {imports['bare_total_ms']:.0f} ms.",
            "",
            *_head("package", "flora-mcp ms", "bare floor ms"),
        ]
        bare_groups = imports["bare_groups_ms"]
        for group, ms in list(imports["ours_groups_ms"].items())[:12]:
            out.append(f"| {group} | {ms:.1f} | {bare_groups.get(group, 0.0):.1f} |")
        phases = imports.get("phases_ms") or {}
        if phases:
            out += [
                "",
                "Phases inside a fresh interpreter (ms, median): imports + building the server + opening the "
                "FLORA HTTP client + first tools/list:",
                "",
            ]
            for key, phase in phases.items():
                out.append(
                    f"- {labels.get(key, key)}: {phase['imports_ms']:.0f} + {phase['build_ms']:.1f} + "
                    f"{phase.get('http_client_ms', 0.0):.1f} + {phase['first_tools_list_ms']:.1f} ms"
                )
            if {"ours", "bare"} <= set(phases) and bare:
                extra = {name: phases["ours"][name] - phases["bare"].get(name, 0.0) for name in phases["ours"]}
                ours_cold = dig(cold, "ours", "summary", "median") or 0.0
                out += [
                    "",
                    f"So of flora-mcp's {ours_cold - bare:.0f} ms over the floor, about {extra['imports_ms']:.0f} ms "
                    f"are imports, {extra['build_ms']:.0f} ms building the server (tool schemas from the models), "
                    f"{extra.get('http_client_ms', 0.0):.0f} ms opening the FLORA HTTP client (its TLS context) and "
                    f"{extra['first_tools_list_ms']:.0f} ms the first tools/list; the rest is the CLI path, the larger "
                    "answer on the wire, and noise. The floor alone, the SDK's own imports, "
                    + (
                        f"takes {bare / official:.1f}x the official server's whole start."
                        if official
                        else "is most of the start."
                    ),
                ]
        added = ", ".join(f"{g} {ms:.1f}" for g, ms in list(imports["added_over_bare_ms"].items())[:10])
        own = ", ".join(f"{m} {ms:.1f}" for m, ms in list(imports["own_modules_ms"].items())[:8])
        out += [
            "",
            f"- Modules flora-mcp imports that the bare floor does not (ms): {added or 'none'}.",
            f"- flora-mcp's own modules, slowest first (ms, self): {own or 'none'}.",
        ]
    return [*out, ""]


def surface_section(results: dict[str, Any], labels: Labels) -> list[str]:
    surface = results.get("surface")
    if not surface:
        return []
    out = [
        "## 2. What the agent must read",
        "",
        "Compact JSON as sent on the wire; tokens ≈ bytes / 4.",
        "",
        *_head("server", "tools", "tools/list bytes (≈ tokens)", "instructions bytes (≈ tokens)"),
    ]
    for key in _keys(surface):
        item = surface[key]
        out.append(
            f"| {labels.get(key, key)} | {len(item['tools'])} | {item['tools_list_bytes']:,} "
            f"({item['tools_list_tokens']:,.0f}) | {item['instructions_bytes']:,} "
            f"({item['instructions_tokens']:,.0f}) |"
        )
    parts = dig(surface, "ours", "parts_bytes")
    if parts:
        split = ", ".join(f"{name} {size:,} B" for name, size in parts.items())
        biggest = sorted(surface["ours"]["per_tool_bytes"].items(), key=lambda item: -item[1])[:4]
        out += [
            "",
            f"flora-mcp's tools/list by part: {split}. Largest tools: "
            + ", ".join(f"`{name}` {size:,} B" for name, size in biggest)
            + ".",
        ]
    docs = dig(surface, "official", "docs_searches") or []
    if docs:
        found = "; ".join(f"“{d['query']}”: {d['bytes']:,} bytes" for d in docs)
        out += [
            "",
            "The official server keeps its list small by handing the agent an SDK to program against; "
            "its instructions say to call `search_docs` when unsure. What that returns for the two tasks "
            f"measured here: {found}.",
        ]
    result_bytes = dig(results, "latency_stdio", "read_result_bytes") or {}
    written = {key: surface[key].get("written_bytes") for key in surface}
    if result_bytes or any(written.values()):
        out += [
            "",
            *_head("server", "agent writes to read a run", "to start a generation", "reads back from a run read"),
        ]
        for key in _keys(surface):
            w = written.get(key) or {}
            out.append(
                f"| {labels.get(key, key)} | {_bytes(w.get('read'))} | {_bytes(w.get('start'))} | "
                f"{_bytes(result_bytes.get(key))} |"
            )
    return [*out, ""]


def latency_section(results: dict[str, Any], labels: Labels) -> list[str]:
    out = [
        "## 3. The same work through each server: latency per call (ms)",
        "",
        "Sandbox at time_scale 0 (a run is complete when first read), so only servers and wire are timed. "
        "`read` reads one run (the bare floor echoes instead); `start` starts one image generation; "
        "`start_follow` starts one and follows it to the end (flora-mcp: start_generation_run then "
        "wait_for_run; official: one `execute` that creates and polls; raw: POST then GET). "
        "Peers take turns call by call.",
        "",
    ]
    found = False
    for transport in ("stdio", "streamable-http"):
        data = results.get(f"latency_{transport}")
        if not data:
            continue
        found = True
        summaries = data["summaries"]
        peers = _keys({key: None for series in summaries.values() for key in series})
        out += [f"### over {transport}", "", *_head("series", *(labels.get(k, k) for k in peers))]
        for series, per_peer in summaries.items():
            out.append(f"| {series} | " + " | ".join(s(per_peer.get(k), 2, p95=True) for k in peers) + " |")
        overhead = data.get("overhead_vs_raw", {})
        if overhead:
            parts = [
                f"{series} {o['median_ms']:+.2f} ms median, {o['p95_ms']:+.2f} ms p95" for series, o in overhead.items()
            ]
            out += ["", f"flora-mcp minus the raw request: {'; '.join(parts)}."]
        for series, per_peer in (data.get("failures") or {}).items():
            counts = ", ".join(f"{labels.get(k, k)} {n}" for k, n in per_peer.items())
            out.append(f"Failed calls ({series}, not in the samples): {counts}.")
        for key, example in (data.get("failure_examples") or {}).items():
            out.append(f"First failure of {labels.get(key, key)}: `{example[:160]}`.")
        calls = data.get("calls_per_follow") or {}
        if calls:
            out.append(
                "Calls per start_follow: " + ", ".join(f"{labels.get(k, k)} {v}" for k, v in calls.items()) + "."
            )
        out.append("")
    return out if found else []


def throughput_section(results: dict[str, Any], labels: Labels) -> list[str]:
    data = results.get("throughput")
    if not data:
        return []
    out = [
        "## 4. Throughput over streamable HTTP",
        "",
        "Each client is its own MCP session on its own kept-alive connection with one call in flight, "
        "reading one run (the bare floor echoes), driven by a lean asyncio HTTP/1.1 client "
        "(benchmarks/loadgen.py; httpx's pool was the bottleneck above 16 clients). After a warm-up "
        "(a second, and until every client has had an answer), calls/s = calls completed within the "
        "window / the window; errors count in every phase. Server CPU includes its child processes "
        "(the official server's Deno workers). Load generator, server and sandbox share the 2 cores; "
        "load generator CPU is in % of one core. Each level is measured in rounds, peers taking turns.",
        "",
        *_head(
            "server",
            "clients",
            "calls/s, median [range]",
            "errors",
            "latency ms",
            "server CPU ms/call",
            "load gen. CPU",
        ),
    ]
    for key in _keys(data):
        for level in data[key]["levels"]:
            cpu = level.get("server_cpu_ms_per_call")
            out.append(
                f"| {labels.get(key, key)} | {level['clients']} | {_rate(level)} | "
                f"{level['errors']} | {s(level.get('latency_ms'), 1, p95=True)} | "
                f"{f'{cpu:.2f}' if cpu is not None else 'n/a'} | {level['loadgen_cpu_share']:.0%} |"
            )
    kinds = {key: level["error_kinds"] for key in data for level in data[key]["levels"] if level["error_kinds"]}
    for key, errors in kinds.items():
        out.append(f"\nErrors seen with {labels.get(key, key)}: " + "; ".join(f"{n}x {e}" for e, n in errors.items()))
    rss = ", ".join(
        f"{labels.get(k, k)} {data[k]['rss_kib_start'] / 1024:.0f} → {data[k]['rss_kib_after'] / 1024:.0f} MiB"
        for k in _keys(data)
    )
    out += ["", f"RSS of each HTTP server before → after its runs: {rss}.", ""]
    return out


def memory_section(results: dict[str, Any], labels: Labels) -> list[str]:
    data = results.get("memory")
    if not data:
        return []
    out = [
        "## 5. Memory (RSS over stdio)",
        "",
        "RSS after start (handshake and tools/list done), then as calls accumulate, one at a time. The "
        "official server gets a short series: each call starts a Deno worker (whose memory is not in "
        "the Node process) and takes about a second.",
        "",
        *_head("server", "calls", "after start MiB", "at half MiB", "at end MiB", "growth, second half"),
    ]
    for key in _keys(data):
        item = data[key]
        growth = item.get("growth_second_half")
        failed = f" ({item['failed_calls']} failed)" if item.get("failed_calls") else ""
        out.append(
            f"| {labels.get(key, key)} | {item['calls']:,}{failed} | {item['rss_kib_start'] / 1024:.1f} | "
            f"{item['rss_kib_half'] / 1024:.1f} (at {item['half_at']:,}) | {item['rss_kib_end'] / 1024:.1f} | "
            f"{f'{growth:+.1%}' if growth is not None else 'n/a'} |"
        )
    return [*out, ""]


def polling_section(results: dict[str, Any]) -> list[str]:
    data = results.get("polling")
    if not data:
        return []
    out = [
        "## 6. Polling economy (flora-mcp's wait_for_run vs polling every second)",
        "",
        "Image runs whose simulated length D is set by the sandbox's time_scale (D / 6 s), so the "
        "sandbox's estimated_seconds is D too. Each agent has its own sandbox (and server), so the "
        "sandbox's request counter is exactly that agent's requests. Time is not sped up: wait_for_run "
        "sleeps on the real clock, and a faster sandbox would flatter it. Three agents per length: "
        "*at once* calls wait_for_run (default budget) again as soon as one returns unfinished (an "
        "agent that cannot wait); *hinted* first sleeps as each answer's `next.after_seconds` says; "
        "*naive* GETs the run once a second with httpx. Lag = when the agent had the final state "
        "minus the run's completed_at.",
        "",
        *_head(
            "run length",
            "agent",
            "upstream GETs",
            "share of naive",
            "lag s (target)",
            "wait_for_run calls",
            "progress notifications",
        ),
    ]
    for row in data["rows"]:
        for side, label in (("ours", "flora-mcp, at once"), ("hinted", "flora-mcp, hinted"), ("naive", "naive 1 s")):
            item = row.get(side)
            if item is None:
                out.append(f"| {row['duration_s']:g} s | {label} | failed: {row.get(side + '_error')} | | | | |")
                continue
            share = row.get(f"{side}_share")
            lag = item.get("lag_s")
            out.append(
                f"| {row['duration_s']:g} s | {label} | {item['gets']} | "
                f"{f'{share:.2f}' if share is not None else '1.00' if side == 'naive' else 'n/a'} | "
                f"{f'{lag:.2f}' if lag is not None else 'n/a'} ({row['lag_target_s']:g}) | "
                f"{item.get('tool_calls', '-')} | {item.get('progress_notifications', '-')} |"
            )
    return [*out, ""]


def faults_section(results: dict[str, Any], labels: Labels) -> list[str]:
    data = results.get("faults")
    if not data:
        return []
    out = [
        "## 7. Money under faults: one lost answer on a start",
        "",
        "The sandbox creates and charges the run, then drops the connection instead of answering, once "
        "(`drop_after_create`). Runs and charges are the sandbox's own counts.",
        "",
        *_head("server", "route", "runs created", "charged USD", "POSTs received", "the agent was told"),
    ]
    names = dict(labels, official_deprecated_route=labels["official"] + ", runs.startGeneration")
    for key, item in data.items():
        told = item["answer"].replace("|", "\\|").replace("\n", " ")[:160]
        flag = "error: " if item["is_error"] else ""
        out.append(
            f"| {names.get(key, key)} | {item['route']} | {item['runs_created']} | {item['charged_usd']:.2f} | "
            f"{item['posts']} | {flag}{told} |"
        )
    return [*out, ""]


def additions_section(results: dict[str, Any]) -> list[str]:
    found = results.get("additions")
    if not found:
        return []
    out = [
        "## 8. What this round's additions cost (in process)",
        "",
        "The state store's reserve + settle around one start (benchmarks/store_cost.py), a finished "
        "1024x1024 image run's answer with and without previews (benchmarks/previews.py), and one "
        "`start_generation_runs` call with 4 items against 4 `start_generation_run` calls on one server "
        "with a fresh SQLite store.",
        "",
        *_head("measure", "median", "note"),
    ]
    for name, store in (found.get("store") or {}).items():
        if "median_ms" in store:
            added = f"{store['added_ms']:+.3f} ms over in-memory" if "added_ms" in store else "the baseline"
            out.append(f"| store {name}: reserve + settle | {store['median_ms']:.3f} ms (n={store['n']}) | {added} |")
        elif isinstance(store, dict) and store.get("not_measured"):
            out.append(f"| store {name} | not measured | {store['not_measured']} |")
    shown = found.get("previews") or {}
    if "median_ms" in shown:
        out.append(
            f"| answer without / with previews | {shown['median_ms']['off']:.1f} / {shown['median_ms']['on']:.1f} ms "
            f"(n={shown['repeats']}) | {shown['answer_bytes']['off']:,} → {shown['answer_bytes']['on']:,} B; "
            f"PNG {shown['png_bytes']:,} B |"
        )
    elif shown.get("not_measured"):
        out.append(f"| previews | not measured | {shown['not_measured']} |")
    batch = found.get("batch") or {}
    if "ratio" in batch:
        out.append(
            f"| 4 single starts / 1 batch of 4 | {batch['four_singles']['median_ms']:.1f} / "
            f"{batch['one_batch_of_four']['median_ms']:.1f} ms (n={batch['four_singles']['n']}) | "
            f"batch takes {batch['ratio']:.2f}x the time of 4 singles |"
        )
    elif batch.get("not_measured"):
        out.append(f"| batch of 4 vs 4 singles | not measured | {batch['not_measured']} |")
    return [*out, ""]

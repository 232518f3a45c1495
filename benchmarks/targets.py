"""The issue's targets, judged against one run's results: one table row per target."""

from __future__ import annotations

from typing import Any

# Issue 15's targets: ratios and differences to floors measured side by side in the same run.
STDIO_OVERHEAD_MS = 1.5
HTTP_OVERHEAD_MS = 2.5
COLD_START_RATIO = 1.10
THROUGHPUT_RATIO = 0.7  # of the bare MCP SDK floor's calls/s, at every level
TOOLS_LIST_BYTES_PER_TOOL = 1300
MEMORY_GROWTH = 0.05
POLLING_SHARE = 1 / 3


def dig(value: Any, *keys: Any) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def median(results: dict[str, Any], *keys: Any) -> float | None:
    found = dig(results, *keys, "median")
    return float(found) if isinstance(found, int | float) else None


def verdict(ok: bool | None, miss: str = "") -> str:
    if ok is None:
        return "not measured"
    return "**met**" if ok else f"**missed**{' ' + miss if miss else ''}"


def _cold(results: dict[str, Any]) -> list[str]:
    ours = median(results, "coldstart", "ours", "summary")
    bare = median(results, "coldstart", "bare", "summary")
    official = median(results, "coldstart", "official", "summary")
    rows = []
    if ours and bare:
        ratio = ours / bare
        rows.append(
            f"| 1 | cold start, flora-mcp / bare floor | ≤ {COLD_START_RATIO}x | {ours:.0f} / {bare:.0f} ms = "
            f"{ratio:.2f}x | {verdict(ratio <= COLD_START_RATIO, f'by {ours - bare * COLD_START_RATIO:.0f} ms')} |"
        )
    if ours and official:
        rows.append(
            f"| 1 | cold start, flora-mcp / official | (none set) | {ours:.0f} / {official:.0f} ms = "
            f"{ours / official:.2f}x | reported |"
        )
    return rows


def _surface(results: dict[str, Any]) -> list[str]:
    rows = []
    listed = dig(results, "surface", "ours", "tools_list_bytes")
    tools = dig(results, "surface", "ours", "tools")
    if listed and tools:
        per_tool = listed / len(tools)
        limit = TOOLS_LIST_BYTES_PER_TOOL
        rows.append(
            f"| 2 | tools/list bytes per tool, flora-mcp | ≤ {limit:,} B | {listed:,} B / {len(tools)} tools = "
            f"{per_tool:,.0f} B | {verdict(per_tool <= limit, f'by {per_tool - limit:,.0f} B per tool')} |"
        )
    cells = []
    for key, label in (("ours", "flora-mcp"), ("official", "official")):
        tools = dig(results, "surface", key, "tools_list_tokens")
        instructions = dig(results, "surface", key, "instructions_tokens")
        if tools is not None:
            cells.append(f"{label} ≈ {tools + (instructions or 0):,.0f} tokens")
    rows.append(f"| 2 | tools/list + instructions the agent reads | (none set) | {'; '.join(cells)} | reported |")
    return rows


def _latency(results: dict[str, Any]) -> list[str]:
    rows = []
    for transport, limit in (("stdio", STDIO_OVERHEAD_MS), ("streamable-http", HTTP_OVERHEAD_MS)):
        for series, what in (("read", "read a run"), ("start", "start a generation")):
            extra = dig(results, f"latency_{transport}", "overhead_vs_raw", series, "median_ms")
            if extra is None:
                continue
            ours = median(results, f"latency_{transport}", "summaries", series, "ours")
            raw = median(results, f"latency_{transport}", "summaries", series, "raw")
            rows.append(
                f"| 3 | {what} over {transport}: flora-mcp median minus raw | ≤ {limit:g} ms | "
                f"{ours:.2f} - {raw:.2f} = {extra:+.2f} ms | {verdict(extra <= limit, f'by {extra - limit:.2f} ms')} |"
            )
    return rows


def _throughput(results: dict[str, Any]) -> list[str]:
    rows = []
    bare = {level["clients"]: level for level in dig(results, "throughput", "bare", "levels") or []}
    for level in dig(results, "throughput", "ours", "levels") or []:
        floor = bare.get(level["clients"])
        if floor is None or not floor["calls_per_second"]:
            continue
        rate, errors = level["calls_per_second"], level["errors"]
        ratio = rate / floor["calls_per_second"]
        ok = ratio >= THROUGHPUT_RATIO and errors == 0
        rows.append(
            f"| 4 | throughput at {level['clients']} clients (get_run over HTTP), flora-mcp / bare floor | "
            f"≥ {THROUGHPUT_RATIO:g}x, 0 errors | {rate:.0f} / {floor['calls_per_second']:.0f} calls/s = "
            f"{ratio:.2f}x, {errors} errors | {verdict(ok)} |"
        )
    return rows


def _memory(results: dict[str, Any]) -> list[str]:
    ours = dig(results, "memory", "ours")
    if not ours:
        return []
    growth = ours["growth_second_half"]
    return [
        f"| 5 | RSS growth from {ours['half_at']:,} to {ours['calls']:,} calls | < {MEMORY_GROWTH:.0%} | "
        f"{ours['rss_kib_half'] / 1024:.1f} → {ours['rss_kib_end'] / 1024:.1f} MiB ({growth:+.1%}) | "
        f"{verdict(growth < MEMORY_GROWTH)} |"
    ]


def _polling(results: dict[str, Any]) -> list[str]:
    rows = []
    for row in dig(results, "polling", "rows") or []:
        ours, naive = row.get("ours"), row.get("naive")
        if not ours or not naive:
            continue
        share = row.get("ours_share")
        lag, lag_target = ours.get("lag_s"), row["lag_target_s"]
        share_ok = share is not None and share <= POLLING_SHARE
        lag_ok = lag is not None and lag <= lag_target
        hinted = row.get("hinted") or {}
        aside = ""
        if hinted.get("lag_s") is not None:
            aside = f" (hint-following agent: {hinted['gets']}, lag {hinted['lag_s']:.1f} s)"
        rows.append(
            f"| 6 | {row['duration_s']:g} s run: GETs vs 1 s polling; completion lag | ≤ 1/3; ≤ {lag_target:g} s | "
            f"{ours['gets']} vs {naive['gets']} ({share:.2f}); {lag:.1f} s{aside} | "
            f"{verdict(share_ok and lag_ok)} |"
        )
    return rows


def _faults(results: dict[str, Any]) -> list[str]:
    ours = dig(results, "faults", "ours", "runs_created")
    if ours is None:
        return []
    official = dig(results, "faults", "official", "runs_created")
    context = f" (official: {official})" if official is not None else ""
    return [f"| 7 | runs created by one start with a lost answer | 1 | {ours}{context} | {verdict(ours == 1)} |"]


def _additions(results: dict[str, Any]) -> list[str]:
    rows = []
    for name in ("sqlite", "postgresql"):
        found = dig(results, "additions", "store", name) or {}
        if "added_ms" in found:
            limit = found["target_added_ms"]
            rows.append(
                f"| 8 | store cost per start (reserve + settle), {name}, over in-memory | ≤ +{limit:g} ms "
                f"(issue 12) | {found['added_ms']:+.2f} ms | {verdict(found['added_ms'] <= limit)} |"
            )
    shown = dig(results, "additions", "previews") or {}
    if "added_ms" in shown:
        rows.append(
            f"| 8 | previews: a finished 1024x1024 image run's answer, with / without | (none set) | "
            f"{shown['added_ms']:+.1f} ms, {shown['added_bytes']:+,} B | reported |"
        )
    batch = dig(results, "additions", "batch") or {}
    if "ratio" in batch:
        rows.append(
            f"| 8 | a batch of 4 against 4 single starts (time) | (none set) | "
            f"{batch['one_batch_of_four']['median_ms']:.1f} / {batch['four_singles']['median_ms']:.1f} ms = "
            f"{batch['ratio']:.2f}x | reported |"
        )
    elif batch.get("not_measured"):
        what = "| 8 | a batch of 4 against 4 single starts | (none set) |"
        rows.append(f"{what} {batch['not_measured']} | not measured |")
    return rows


def rows(results: dict[str, Any]) -> list[str]:
    return [
        *_cold(results),
        *_surface(results),
        *_latency(results),
        *_throughput(results),
        *_memory(results),
        *_polling(results),
        *_faults(results),
        *_additions(results),
    ]

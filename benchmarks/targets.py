"""The issue's targets, judged against one run's results: one table row per target."""

from __future__ import annotations

from typing import Any

STDIO_OVERHEAD_MS = 2.0
HTTP_OVERHEAD_MS = 5.0
COLD_START_RATIO = 1.15
THROUGHPUT_CALLS_PER_S = 400.0
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
            f"| 1 | cold start, flora-mcp / official | ≤ 1.00x | {ours:.0f} / {official:.0f} ms = "
            f"{ours / official:.2f}x | {verdict(ours <= official, f'by {ours - official:.0f} ms')} |"
        )
    return rows


def _surface(results: dict[str, Any]) -> list[str]:
    cells = []
    for key, label in (("ours", "flora-mcp"), ("official", "official")):
        tools = dig(results, "surface", key, "tools_list_tokens")
        instructions = dig(results, "surface", key, "instructions_tokens")
        if tools is not None:
            cells.append(f"{label} ≈ {tools + (instructions or 0):,.0f} tokens")
    return [f"| 2 | tools/list + instructions the agent reads | (none set) | {'; '.join(cells)} | reported |"]


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
    for level in dig(results, "throughput", "ours", "levels") or []:
        if level["clients"] < 8:
            continue
        rate, errors = level["calls_per_second"], level["errors"]
        ok = rate >= THROUGHPUT_CALLS_PER_S and errors == 0
        short = f"({rate / THROUGHPUT_CALLS_PER_S:.2f}x of target)" if rate < THROUGHPUT_CALLS_PER_S else ""
        rows.append(
            f"| 4 | throughput at {level['clients']} clients (get_run over HTTP) | ≥ {THROUGHPUT_CALLS_PER_S:.0f} "
            f"calls/s, 0 errors | {rate:.0f} calls/s, {errors} errors | "
            f"{verdict(ok, short)} |"
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


def rows(results: dict[str, Any]) -> list[str]:
    return [
        *_cold(results),
        *_surface(results),
        *_latency(results),
        *_throughput(results),
        *_memory(results),
        *_polling(results),
        *_faults(results),
    ]

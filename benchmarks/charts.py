"""Two charts of one run, as PNGs next to RESULTS.md: latency per peer and series, throughput per level.

matplotlib is a benchmark-only dependency (the `bench` extra, also in `dev`); without it the
runner writes RESULTS.md without charts and says why. The charts show medians with the
interquartile range as error bars, the same figures as the tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

LATENCY_PNG = "latency.png"
THROUGHPUT_PNG = "throughput.png"
SERIES = ("read", "start", "start_follow")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _bars(ax: Any, groups: list[str], peers: list[str], value: Any, labels: dict[str, str]) -> None:
    """Grouped bars: one group per entry of `groups`, one bar per peer; `value(group, peer)` -> summary."""
    width = 0.8 / max(1, len(peers))
    for index, peer in enumerate(peers):
        medians, low, high, xs = [], [], [], []
        for position, group in enumerate(groups):
            found = value(group, peer)
            if not found:
                continue
            xs.append(position + (index - (len(peers) - 1) / 2) * width)
            medians.append(found["median"])
            low.append(max(0.0, found["median"] - found.get("p25", found["median"])))
            high.append(max(0.0, found.get("p75", found["median"]) - found["median"]))
        if xs:
            ax.bar(xs, medians, width, yerr=[low, high], capsize=3, label=labels.get(peer, peer))
    ax.set_xticks(range(len(groups)), groups)
    ax.grid(axis="y", alpha=0.3)


def latency_chart(results: dict[str, Any], path: Path, labels: dict[str, str]) -> bool:
    transports = [t for t in ("stdio", "streamable-http") if (results.get(f"latency_{t}") or {}).get("summaries")]
    if not transports:
        return False
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(transports), figsize=(6 * len(transports), 4.2), squeeze=False)
    for ax, transport in zip(axes[0], transports, strict=True):
        summaries = results[f"latency_{transport}"]["summaries"]
        series = [name for name in SERIES if name in summaries]
        peers = list(dict.fromkeys(peer for name in series for peer in summaries[name]))
        _bars(ax, series, peers, lambda group, peer, s=summaries: s[group].get(peer), labels)
        ax.set_title(f"latency per call over {transport}")
        ax.set_ylabel("ms (median, IQR)")
        ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def throughput_chart(results: dict[str, Any], path: Path, labels: dict[str, str]) -> bool:
    peers = {key: found["levels"] for key, found in (results.get("throughput") or {}).items()
             if isinstance(found, dict) and found.get("levels")}  # fmt: skip
    if not peers:
        return False
    plt = _pyplot()
    levels = sorted({level["clients"] for found in peers.values() for level in found})
    by_peer = {key: {level["clients"]: level for level in found} for key, found in peers.items()}

    def value(group: str, peer: str) -> dict[str, float] | None:
        level = by_peer[peer].get(int(group))
        if level is None:
            return None
        low, high = level.get("calls_per_second_range") or (level["calls_per_second"],) * 2
        return {"median": level["calls_per_second"], "p25": low, "p75": high}

    figure, ax = plt.subplots(figsize=(7, 4.2))
    _bars(ax, [str(n) for n in levels], list(by_peer), value, labels)
    ax.set_title("throughput over streamable HTTP (get_run)")
    ax.set_xlabel("concurrent clients")
    ax.set_ylabel("calls/s (median, range of rounds)")
    ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def write(results: dict[str, Any], folder: Path, labels: dict[str, str]) -> dict[str, Any]:
    """Draw both charts into `folder`; returns {"files": [names]} or {"skipped": why}."""
    try:
        _pyplot()
    except ImportError:
        return {"skipped": "matplotlib is not installed (pip install -e '.[bench]')"}
    files = []
    if latency_chart(results, folder / LATENCY_PNG, labels):
        files.append(LATENCY_PNG)
    if throughput_chart(results, folder / THROUGHPUT_PNG, labels):
        files.append(THROUGHPUT_PNG)
    return {"files": files}

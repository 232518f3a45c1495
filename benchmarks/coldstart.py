"""Item 1: cold start over stdio, from spawn to the tools/list answer, and where the time goes.

Each repeat spawns a fresh process, does the 2025-11-25 handshake and asks tools/list; the peers
take turns so that machine noise falls on all of them alike. One unmeasured spawn per peer first
warms the disk cache: the numbers are "new process, warm disk", what a client restart sees.

For the Python servers, `-X importtime` over the same handshake shows which imports cost what,
grouped by top-level package, and which of them flora-mcp adds over the bare SDK floor.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.peers import Peer
from benchmarks.rpc import StdioPeer
from benchmarks.stats import summarize


def spawn_to_tools_list(peer: Peer, log_dir: Path) -> float:
    """Milliseconds from spawn to the tools/list answer."""
    client = peer.stdio(log_dir)
    client.spawn()
    try:
        client.initialize()
        client.request("tools/list")
        return (time.perf_counter() - client.spawned_at) * 1000
    finally:
        client.close()


def measure(peers: list[Peer], reps: int, log_dir: Path) -> dict[str, Any]:
    for peer in peers:
        spawn_to_tools_list(peer, log_dir)  # warm the disk cache; not counted
    samples: dict[str, list[float]] = {peer.key: [] for peer in peers}
    for _ in range(reps):
        for peer in peers:
            samples[peer.key].append(spawn_to_tools_list(peer, log_dir))
    return {key: {"samples_ms": values, "summary": summarize(values)} for key, values in samples.items()}


def parse_importtime(text: str) -> dict[str, float]:
    """Self import time in ms per module, from `-X importtime` output."""
    modules: dict[str, float] = {}
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            _, self_us, _cumulative, name = (part.strip() for part in line.replace("import time:", "|").split("|"))
        except ValueError:
            continue
        modules[name] = modules.get(name, 0.0) + int(self_us) / 1000
    return modules


def importtime_profile(peer: Peer, log_dir: Path) -> dict[str, float]:
    """Self import ms per module for one spawn-to-tools/list of a Python peer."""
    stderr_path = log_dir / f"{peer.key}-importtime.log"
    stderr_path.unlink(missing_ok=True)
    argv = [peer.argv[0], "-X", "importtime", *peer.argv[1:]]
    client = StdioPeer(argv, peer.env(), cwd=peer.cwd, stderr_path=str(stderr_path))
    client.spawn()
    try:
        client.initialize()
        client.request("tools/list")
    finally:
        client.close()
    return parse_importtime(stderr_path.read_text())


def run_phases(peer: Peer) -> dict[str, float]:
    """Imports / build / first tools/list, in ms, timed inside a fresh interpreter (benchmarks/phases.py)."""
    done = subprocess.run(
        [peer.argv[0], "-m", "benchmarks.phases", peer.key],
        env=peer.env(),
        cwd=peer.cwd,  # the checkout, where `benchmarks` is importable
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return {name: float(value) for name, value in json.loads(done.stdout).items()}


def _group(module: str) -> str:
    return module.split(".")[0]


def import_breakdown(ours: Peer, bare: Peer, log_dir: Path, reps: int = 3) -> dict[str, Any]:
    """Median self import time per top-level package, for ours and the floor, and what ours adds."""
    runs = {peer.key: [importtime_profile(peer, log_dir) for _ in range(reps)] for peer in (ours, bare)}

    def per_group(profiles: list[dict[str, float]]) -> dict[str, float]:
        totals: dict[str, list[float]] = defaultdict(list)
        for profile in profiles:
            grouped: dict[str, float] = defaultdict(float)
            for module, ms in profile.items():
                grouped[_group(module)] += ms
            for group in {g for p in profiles for g in map(_group, p)}:
                totals[group].append(grouped.get(group, 0.0))
        return {group: statistics.median(values) for group, values in totals.items()}

    ours_groups = per_group(runs["ours"])
    bare_groups = per_group(runs["bare"])
    ours_modules = set().union(*runs["ours"])
    bare_modules = set().union(*runs["bare"])
    added: dict[str, float] = defaultdict(float)
    for module in ours_modules - bare_modules:
        added[_group(module)] += statistics.median(profile.get(module, 0.0) for profile in runs["ours"])
    own_modules = {
        module: statistics.median(profile.get(module, 0.0) for profile in runs["ours"])
        for module in ours_modules
        if module.startswith("flora_mcp")
    }
    phases = {peer.key: [run_phases(peer) for _ in range(reps)] for peer in (ours, bare)}
    return {
        "phases_ms": {
            key: {name: statistics.median(run[name] for run in runs) for name in runs[0]}
            for key, runs in phases.items()
        },
        "ours_total_ms": sum(ours_groups.values()),
        "bare_total_ms": sum(bare_groups.values()),
        "ours_groups_ms": dict(sorted(ours_groups.items(), key=lambda item: -item[1])),
        "bare_groups_ms": dict(sorted(bare_groups.items(), key=lambda item: -item[1])),
        "added_over_bare_ms": dict(sorted(added.items(), key=lambda item: -item[1])),
        "own_modules_ms": dict(sorted(own_modules.items(), key=lambda item: -item[1])),
    }

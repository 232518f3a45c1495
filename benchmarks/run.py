"""The benchmark runner: one command that starts every peer on 127.0.0.1, measures the seven
items of the benchmark issue side by side, and writes benchmarks/RESULTS.md (and a JSON twin).

    python -m benchmarks                  # default profile, about 4 minutes on 2 cores
    python -m benchmarks --profile quick  # a couple of minutes, fewer repeats
    python -m benchmarks --profile full   # more repeats, official server at 64 clients too
    python -m benchmarks --profile smoke  # seconds; what the test suite runs

FLORA's official server is installed with npm into .cache/bench/official the first time
(`--no-install` forbids that, `--no-official` leaves it out). Logs of every child go to
.cache/bench/logs/. Each item is measured even if another one fails; a failure is reported.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import additions, charts, coldstart, faults, latency, memory, peers, polling, surface, throughput
from benchmarks.machine import describe
from benchmarks.official import OfficialServer, ensure_installed
from benchmarks.report import LABELS, render
from benchmarks.sandbox_proc import SandboxProcess
from benchmarks.stats import Summary
from benchmarks.work import RawFloor

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Profile:
    name: str
    cold_reps: int  # spawns per peer (item 1)
    import_reps: int  # -X importtime and phase runs per Python peer
    latency: latency.Counts  # calls per series (item 3)
    window: float  # seconds per throughput window (the official server's is 4x)
    rounds: int  # throughput windows per level (the official server gets one)
    levels: tuple[int, ...]  # concurrent clients
    official_levels: tuple[int, ...]
    memory_calls: int
    official_memory_calls: int
    durations: tuple[float, ...]  # simulated run lengths for polling economy (item 6)
    store_iterations: int = 300  # reserve + settle per store backend (item 8)
    preview_repeats: int = 20  # finished runs read with and without previews (item 8)
    batch_repeats: int = 10  # rounds of 4 single starts and one batch of 4 (item 8)


PROFILES = {
    "smoke": Profile("smoke", 1, 1, latency.Counts(5, 2, 2, 1, 0, 1), 0.4, 1, (1, 8), (1,), 100, 1, (1.0,), 20, 1, 1),
    "quick": Profile(
        "quick", 5, 1, latency.Counts(100, 30, 20, 5, 2, 2), 2.0, 2, (1, 8, 64), (1, 8), 2000, 5, (5, 30), 200, 5, 5
    ),
    "default": Profile(
        "default", 15, 3, latency.Counts(500, 150, 100, 15, 5, 5), 4.0, 3, (1, 8, 64), (1, 8), 10_000, 20, (5, 30, 120)
    ),
    "full": Profile(
        "full",
        30,
        5,
        latency.Counts(2000, 400, 200, 40, 10, 10),
        6.0,
        5,
        (1, 8, 64),
        (1, 8, 64),
        10_000,
        50,
        (5, 30, 120),
    ),
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Summary):
        return value.as_dict()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class Runner:
    def __init__(self, profile: Profile, official: OfficialServer | None, log_dir: Path) -> None:
        self.profile = profile
        self.official = official
        self.log_dir = log_dir
        self.results: dict[str, Any] = {"errors": {}}

    def log(self, message: str) -> None:
        sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
        sys.stderr.flush()

    def sandbox(self) -> SandboxProcess:
        return SandboxProcess(time_scale=0, repo_root=REPO_ROOT, log_path=self.log_dir / "sandbox.log")

    def peers_for(self, base_url: str, *, with_bare: bool = True) -> list[peers.Peer]:
        # The default kind of store (a SQLite file), fresh for this run of the benchmark.
        chosen = [peers.ours(REPO_ROOT, base_url, state_url=f"sqlite:///{self.log_dir.resolve()}/state.db")]
        if with_bare:
            chosen.append(peers.bare(REPO_ROOT))
        if self.official is not None:
            chosen.append(peers.official(self.official, base_url))
        return chosen

    def item(self, key: str, title: str, measure: Callable[[], Any]) -> None:
        self.log(f"{title}...")
        started = time.perf_counter()
        try:
            self.results[key] = measure()
        except Exception as exc:
            self.results["errors"][key] = f"{type(exc).__name__}: {exc}"
            (self.log_dir / f"{key}-traceback.txt").write_text(traceback.format_exc())
            self.log(f"{title} FAILED: {exc}")
        self.log(f"{title} done in {time.perf_counter() - started:.1f}s")

    def run(self) -> dict[str, Any]:
        p = self.profile
        runs_under_way = threading.Semaphore(0)
        polling_thread = threading.Thread(
            target=self.item,
            args=(
                "polling",
                "6 polling economy (in the background)",
                lambda: polling.measure(
                    lambda url: peers.ours(REPO_ROOT, url),
                    list(p.durations),
                    REPO_ROOT,
                    self.log_dir,
                    runs_under_way.release,
                ),
            ),
            daemon=True,
        )
        polling_thread.start()
        # Let the polling item's servers and sandboxes finish starting before anything is timed.
        # (At most a minute in all: a polling run that fails to start must not stall the rest.)
        deadline = time.monotonic() + 60
        for _ in range(len(polling.SIDES) * len(p.durations)):
            if not runs_under_way.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break

        shared = self.sandbox()
        try:
            everyone = self.peers_for(shared.base_url)
            by_key = {peer.key: peer for peer in everyone}
            raw = RawFloor(shared.base_url)
            run_id = raw.start()["run_id"]
            raw.close()
            self.item("coldstart", "1 cold start", lambda: coldstart.measure(everyone, p.cold_reps, self.log_dir))
            self.item(
                "imports",
                "1b import time breakdown",
                lambda: coldstart.import_breakdown(by_key["ours"], by_key["bare"], self.log_dir, p.import_reps),
            )
            self.item("surface", "2 what the agent reads", lambda: self._surface(everyone, run_id))
            for transport in ("stdio", "streamable-http"):
                self.item(f"latency_{transport}", f"3 latency over {transport}", partial(self._latency, transport))
            self.item("throughput", "4 throughput over HTTP", lambda: self._throughput(everyone, shared, run_id))
            self.item("memory", "5 memory", lambda: self._memory(everyone, run_id))
        finally:
            shared.close()
        self.item("faults", "7 money under faults", lambda: faults.measure(self.peers_for, REPO_ROOT, self.log_dir))
        self.item(
            "additions",
            "8 what the store, previews and batches cost",
            lambda: additions.measure(p.store_iterations, p.preview_repeats, p.batch_repeats, REPO_ROOT),
        )
        self.log("waiting for the polling runs to end...")
        polling_thread.join()
        return self.results

    def _surface(self, everyone: list[peers.Peer], run_id: str) -> dict[str, Any]:
        result = surface.measure(everyone, self.log_dir)
        for peer in everyone:
            result[peer.key]["written_bytes"] = surface.written_bytes(peer, run_id)
        return result

    def _latency(self, transport: str) -> dict[str, Any]:
        sandbox = self.sandbox()
        try:
            peers_here = self.peers_for(sandbox.base_url)
            return latency.measure(peers_here, sandbox, transport, self.profile.latency, self.log_dir)
        finally:
            sandbox.close()

    def _throughput(self, everyone: list[peers.Peer], sandbox: SandboxProcess, run_id: str) -> dict[str, Any]:
        p = self.profile
        levels = {peer.key: list(p.official_levels if peer.key == "official" else p.levels) for peer in everyone}
        rounds = {peer.key: 1 if peer.key == "official" else p.rounds for peer in everyone}
        return throughput.measure(everyone, sandbox, run_id, levels, p.window, rounds, self.log_dir)

    def _memory(self, everyone: list[peers.Peer], run_id: str) -> dict[str, Any]:
        results = {}
        for peer in everyone:
            calls = self.profile.official_memory_calls if peer.key == "official" else self.profile.memory_calls
            results[peer.key] = memory.measure_peer(peer, run_id, calls, self.log_dir)
        return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--json", type=Path, help="Also write the raw results here (default: next to --output).")
    parser.add_argument("--no-official", action="store_true", help="Leave FLORA's official server out.")
    parser.add_argument("--no-install", action="store_true", help="Use the official server only if already installed.")
    parser.add_argument("--log-dir", type=Path, help="Where the children's logs go (default .cache/bench/logs/<time>).")
    args = parser.parse_args(argv)

    profile = PROFILES[args.profile]
    cache = REPO_ROOT / ".cache" / "bench"
    log_dir = args.log_dir or cache / "logs" / time.strftime("%Y%m%d-%H%M%S")
    log_dir.mkdir(parents=True, exist_ok=True)
    machine = describe(REPO_ROOT)

    official: OfficialServer | None = None
    official_note = "left out (--no-official)"
    if not args.no_official:
        official, official_note = ensure_installed(cache / "official", install=not args.no_install)
    runner = Runner(profile, official, log_dir)
    runner.log(f"profile {profile.name}; official server: {official_note}; logs in {log_dir}")
    started = time.perf_counter()
    results = runner.run()
    results["meta"] = {
        "profile": profile.name,
        "machine": machine,
        "official": official_note,
        "official_present": official is not None,
        "seconds": time.perf_counter() - started,
        "command": "python -m benchmarks" + ("" if profile.name == "default" else f" --profile {profile.name}"),
        "durations": list(profile.durations),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    results["charts"] = charts.write(_jsonable(results), args.output.parent, LABELS)
    args.output.write_text(render(_jsonable(results)))
    json_path = args.json or args.output.with_suffix(".json")
    json_path.write_text(json.dumps(_jsonable(results), indent=1) + "\n")
    runner.log(f"wrote {args.output} and {json_path} in {results['meta']['seconds']:.0f}s")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

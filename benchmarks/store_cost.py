"""What the state store adds to a paid start: reserve + settle, median, per backend.

    python -m benchmarks.store_cost [--iterations 500]

Each iteration is what the booking does around one start: a reservation with the cap, the spend
window and the repeat lookup all on, then a settle with the run id and a charge. One caller, so
its history grows as it would. SQLite is a file in a temporary folder; PostgreSQL is a throwaway
server started like the tests start theirs (tests/postgres_server.py), with fsync on, so commits cost
what they would in production. Prints one line per backend and the cost added over `memory`.
Targets (issue 12): SQLite <= +1 ms, PostgreSQL <= +3 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from flora_mcp.state import Reserved, ReserveRequest, open_store

ROOT = Path(__file__).resolve().parent.parent
TARGETS_MS = {"sqlite": 1.0, "postgresql": 3.0}


async def measure(url: str, iterations: int, warmup: int = 50) -> list[float]:
    """Seconds per reserve + settle, for `iterations` starts after `warmup` unmeasured ones."""
    timings: list[float] = []
    async with open_store(url) as store:
        caller = store.fingerprint("fl_bench_key")
        for i in range(warmup + iterations):
            now = time.time()
            request = ReserveRequest(
                caller=caller,
                tool="start_generation_run",
                args_digest=f"digest-{i}",
                idempotency_key=f"key-{i}",
                quote_usd=0.01,
                cap_usd=1_000_000.0,
                now=now,
                window_start=now - 86_400,
                repeat_since=now - 600,
                workspace_id="ws_bench",
                project_id="prj_bench",
                model_id="flux-dev",
                prompt_summary=f"benchmark start {i}",
            )
            began = time.perf_counter()
            result = await store.reserve(request)
            await store.settle(f"key-{i}", status="started", now=now, run_id=f"run-{i}", charged_usd=0.01)
            elapsed = time.perf_counter() - began
            assert isinstance(result, Reserved), result
            if i >= warmup:
                timings.append(elapsed)
    return timings


def _line(name: str, timings: list[float], base_ms: float | None) -> str:
    median_ms = statistics.median(timings) * 1000
    p90_ms = statistics.quantiles(timings, n=10)[-1] * 1000
    text = f"{name:<11} median {median_ms:7.3f} ms   p90 {p90_ms:7.3f} ms"
    if base_ms is not None:
        added = median_ms - base_ms
        target = TARGETS_MS[name]
        text += f"   added {added:+.3f} ms (target <= +{target:g} ms: {'met' if added <= target else 'MISSED'})"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=500)
    args = parser.parse_args(argv)

    memory = asyncio.run(measure("memory", args.iterations))
    base_ms = statistics.median(memory) * 1000
    print(_line("memory", memory, None))
    with tempfile.TemporaryDirectory(prefix="flora-bench-") as folder:
        print(_line("sqlite", asyncio.run(measure(f"sqlite://{folder}/state.db", args.iterations)), base_ms))

    from tests.postgres_server import start_postgres

    try:
        with start_postgres(durable=True) as server:
            timings = asyncio.run(measure(server.new_database(), args.iterations))
        print(_line("postgresql", timings, base_ms))
    except BaseException as exc:  # pytest's skip/fail outcomes are BaseExceptions
        if isinstance(exc, KeyboardInterrupt):
            raise
        print(f"postgresql  not measured: {exc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

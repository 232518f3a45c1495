"""A child process for the concurrency tests: many parallel reservations against one shared store.

Usage: python contend.py URL PREFIX COUNT GO_AT. Opens the store, waits until the wall clock
reaches GO_AT (so the processes start together), fires COUNT reservations at once (cap 1.00 USD,
0.25 each, one caller) and prints {"reserved": n, "refused": m} as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from flora_mcp.state import CapRefused, Reserved, ReserveRequest, open_store

CALLER = "c_" + "f" * 24


async def main(url: str, prefix: str, count: int, go_at: float) -> None:
    async with open_store(url) as store:
        await asyncio.sleep(max(go_at - time.time(), 0))
        results = await asyncio.gather(
            *(
                store.reserve(
                    ReserveRequest(
                        caller=CALLER,
                        tool="start_generation_run",
                        args_digest=f"{prefix}-{i}",
                        idempotency_key=f"{prefix}-{i}",
                        quote_usd=0.25,
                        cap_usd=1.0,
                        now=time.time(),
                        window_start=0.0,
                    )
                )
                for i in range(count)
            )
        )
    reserved = sum(isinstance(r, Reserved) for r in results)
    refused = sum(isinstance(r, CapRefused) for r in results)
    print(json.dumps({"reserved": reserved, "refused": refused}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))

"""What this process last wrote to the journal for each run it read, so the same reading is not written again.

An agent reads one run many times (a wait polls it; a finished run is read again to show its
outputs), and most reads show what the last one showed. Writing that same status, charge and
outputs back costs a store transaction per read (on SQLite a worker-thread hand-off and a
commit, on PostgreSQL a round trip) for no change. So a reading equal to the one this process
wrote for the same caller and run less than `REFRESH_SECONDS` ago is not written: the journal
already says it, and the record's timestamps stay at most that old.

Only this process's own writes are remembered, and only as a shortcut: any reading that differs
is written as before, whatever another replica wrote in between (the store's rules merge it).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

REFRESH_SECONDS = 60.0
REMEMBERED_RUNS = 4096


class SeenReadings:
    """The last reading written per (caller, run id), least recently used forgotten first."""

    def __init__(self, *, refresh_seconds: float = REFRESH_SECONDS, size: int = REMEMBERED_RUNS) -> None:
        self.refresh_seconds = refresh_seconds
        self.size = size
        self._last: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()

    @staticmethod
    def reading(status: str | None, finished: bool, charged: float | None, outputs: Any) -> str:
        """One reading as a comparable text (outputs are JSON values)."""
        return json.dumps([status, finished, charged, outputs], sort_keys=True, separators=(",", ":"))

    def already_written(self, caller: str, run_id: str, reading: str, now: float) -> bool:
        """Whether this very reading was written for this caller and run within the refresh time."""
        last = self._last.get((caller, run_id))
        return last is not None and last[0] == reading and 0 <= now - last[1] < self.refresh_seconds

    def written(self, caller: str, run_id: str, reading: str, now: float) -> None:
        key = (caller, run_id)
        self._last[key] = (reading, now)
        self._last.move_to_end(key)
        while len(self._last) > self.size:
            self._last.popitem(last=False)

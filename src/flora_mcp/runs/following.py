"""What to do next with a run: `next` hints, polling cadence and progress figures.

Pure functions plus one small memory, so the rules an agent's experience depends on (how often
to poll, what to call next, what progress to report) live in one place and test without I/O.

Cadence rule (`next_read_in`). Reads (GETs of the run) are never less than 1 s apart (FLORA
rate-limits), except the one read that answers at once for a run already seen ended, and a wait
never pauses more than 10 s between reads (a finished run must not sit unseen). A run of
expected length T may be noticed `tolerance(T) = max(0.2 T, 2 s)` after it ends. Within those
bounds, as few reads as that allows:

- A run this process started, with estimated_seconds, is expected to end at start + estimate.
  Before then, reads are spread evenly so that the last lands on the expected end, at most
  `stride(T) = min(10 s, max(tolerance, 5 s))` apart: a 5 s run is read once, at its end; a
  30 s run every 6 s; a 120 s run every 10 s. A wait does not read at once when the run cannot
  be done yet; it sends a progress notification from the estimate instead.
- Once the expected end has passed, a run not read since is read at once; after that it is read
  every tolerance(T), or later when the observed progress rate says more work is left (the rate
  can only stretch the gap, so a run stuck at 99% is not hammered).
- A run known only by its observed progress rate (no estimate) is read the same way with
  T = 1 / rate.
- A run this process knows nothing about is read at once (its status is what the wait needs to
  learn), then with a gentle back-off: 2, 3, 4.5, 6.75, 10, 10 ... s.

What a run's progress looks like is remembered across calls (RunMemory), so a second
wait_for_run or a get_run continues the cadence rather than starting it over.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flora_mcp.api.models import RunState


class NextStep(BaseModel):
    """The call an agent should make next (every answer about a run carries one while it runs)."""

    model_config = ConfigDict(defer_build=True)

    tool: str = Field(description="Name of the tool to call next.")
    arguments: dict[str, Any] = Field(description="Arguments to call it with.")
    after_seconds: float = Field(description="Seconds to wait before calling it (0 means now).")


MIN_POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 10.0
SHORT_RUN_STRIDE = 5.0  # reads before the expected end come at least this far apart
# A read this close before the expected end counts as at it (clocks and float rounding).
AT_END_SLACK = 0.05
# Seconds, written as ints so the schemas show 50 and 900 (a float field takes them as they are).
DEFAULT_WAIT_SECONDS: float = 50  # under the ~60 s tool-call timeout many clients apply
MAX_WAIT_SECONDS: float = 900


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def progress_fraction(state: RunState) -> float:
    """The run's progress as 0..1, whatever scale FLORA used (a fraction or a percentage)."""
    if state.status == "completed":
        return 1.0
    value = float(state.progress or 0)
    if value > 1:
        value = value / 100
    return clamp(value, 0.0, 1.0)


@dataclass
class RunFacts:
    """What this process knows about a run: from its start, and from the reads since."""

    technique_id: str | None = None
    poll_url: str | None = None
    estimated_seconds: float | None = None
    started_at: float | None = None  # the server's clock, when the start answered
    polled_at: float | None = None  # when this process last read the run
    fraction: float | None = None  # its progress then, 0..1
    rate: float | None = None  # observed progress per second, from the last two reads that moved
    finished: bool = False  # the last read showed a terminal status

    def observe(self, at: float, fraction: float, *, finished: bool = False) -> None:
        """Record a read of the run at clock time `at` showing `fraction` done (and whether it had ended)."""
        self.finished = finished
        moved = self.fraction is not None and fraction > self.fraction
        if moved and self.polled_at is not None and self.fraction is not None and at > self.polled_at:
            self.rate = (fraction - self.fraction) / (at - self.polled_at)
        self.polled_at = at
        self.fraction = fraction

    @property
    def expected_end(self) -> float | None:
        """When the run should end by its start's estimate (None without one: 0 says nothing)."""
        if self.estimated_seconds is None or self.estimated_seconds <= 0 or self.started_at is None:
            return None
        return self.started_at + self.estimated_seconds


class RunMemory:
    """Facts about runs, by run id, bounded (least recently used forgotten first).

    Only an aid: a run started by another process (stateless HTTP behind a load balancer) is
    simply polled by its documented route, read at once and then with the back-off cadence.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = capacity
        self._facts: OrderedDict[str, RunFacts] = OrderedDict()

    def remember(self, run_id: str, facts: RunFacts) -> None:
        self._facts[run_id] = facts
        self._facts.move_to_end(run_id)
        while len(self._facts) > self._capacity:
            self._facts.popitem(last=False)

    def recall(self, run_id: str) -> RunFacts:
        return self._facts.get(run_id) or RunFacts()

    def observe(self, run_id: str, at: float, fraction: float, *, finished: bool = False) -> RunFacts:
        """Record a read of `run_id` (remembering the run if it was unknown); returns its facts."""
        facts = self.recall(run_id)
        facts.observe(at, fraction, finished=finished)
        self.remember(run_id, facts)
        return facts


# --- cadence (the rule is in the module docstring) --------------------------------------------
def tolerance(duration: float) -> float:
    """How long after its end a run of `duration` seconds may be noticed: 20%, at least 2 s."""
    return max(0.2 * duration, 2.0)


def stride(duration: float) -> float:
    """The longest gap between reads before a run's expected end."""
    return clamp(max(tolerance(duration), SHORT_RUN_STRIDE), MIN_POLL_SECONDS, MAX_POLL_SECONDS)


def backoff(reads: int) -> float:
    """Gap after the reads of a run nothing is known about: 2, 3, 4.5, 6.75, 10, 10 ... s."""
    return clamp(2.0 * 1.5 ** min(reads, 10), MIN_POLL_SECONDS, MAX_POLL_SECONDS)


def next_read_in(facts: RunFacts, now: float, *, reads: int) -> float:
    """Seconds from `now` until the run should next be read (0: now).

    `reads` is how many times the current wait has read it. Never less than 1 s after the last
    read, never more than 10 s from now; 0 for a run that had ended when last read.
    """
    if facts.finished:
        # It had ended when last read: nothing will change but a late charge, so one read now
        # answers the caller, with no wait for the usual gap between reads.
        return 0.0
    delay = min(_planned_delay(facts, now, reads), MAX_POLL_SECONDS)
    if facts.polled_at is not None:
        delay = max(delay, MIN_POLL_SECONDS - (now - facts.polled_at))
    return max(delay, 0.0)


def _planned_delay(facts: RunFacts, now: float, reads: int) -> float:
    end = facts.expected_end
    if end is not None and end - now > AT_END_SLACK and facts.estimated_seconds is not None:
        # Before the expected end: spread the reads so the last one lands on it.
        until_end = end - now
        return until_end / math.ceil(until_end / stride(facts.estimated_seconds))
    if facts.polled_at is None:
        return 0.0  # never read, or nothing known: look now
    since = now - facts.polled_at
    if end is not None and facts.estimated_seconds is not None:
        if facts.polled_at < end - AT_END_SLACK:
            return 0.0  # it should have ended and nobody has looked since
        gap = tolerance(facts.estimated_seconds)
    elif facts.rate:
        gap = tolerance(1 / facts.rate)
    else:
        return backoff(max(reads - 1, 0)) - since
    if facts.rate and facts.fraction is not None:
        gap = max(gap, (1 - facts.fraction) / facts.rate)  # progress says it needs longer
    return gap - since


def expected_fraction(facts: RunFacts, now: float) -> float:
    """The progress to report before a first read: the estimate's figure, or the last one seen."""
    seen = facts.fraction or 0.0
    end = facts.expected_end
    if end is None or facts.started_at is None or facts.estimated_seconds is None:
        return seen
    # Never 100% by the estimate alone: only a read can say the run is done.
    return max(seen, clamp((now - facts.started_at) / facts.estimated_seconds, 0.0, 0.99))


class ProgressTrack:
    """Turns successive run states into strictly increasing progress figures (0-100).

    MCP requires each progress notification's value to increase; a run that has not moved
    between two polls still gets a (tiny) larger figure, and the message says the real one.
    """

    def __init__(self) -> None:
        self._last: float | None = None

    def next_value(self, fraction: float) -> float:
        value = round(fraction * 100, 3)
        if self._last is not None and value <= self._last:
            value = round(self._last + 0.001, 3)
        self._last = value
        return value


def run_arguments(run_id: str, technique_id: str | None) -> dict[str, Any]:
    args: dict[str, Any] = {"run_id": run_id}
    if technique_id:
        args["technique_id"] = technique_id
    return args


def after_start(run_id: str, technique_id: str | None, estimated_seconds: float | None) -> NextStep:
    """After a start: wait for it. Worth calling at once unless the run needs more than one wait."""
    after = 0.0
    if estimated_seconds is not None and estimated_seconds > DEFAULT_WAIT_SECONDS:
        after = round(estimated_seconds - DEFAULT_WAIT_SECONDS)
    return NextStep(tool="wait_for_run", arguments=run_arguments(run_id, technique_id), after_seconds=after)


def while_running(run_id: str, technique_id: str | None, *, delay: float, tool: str = "wait_for_run") -> NextStep:
    """For a run that has not ended: look again (with wait_for_run, or the get tool used)."""
    return NextStep(tool=tool, arguments=run_arguments(run_id, technique_id), after_seconds=round(delay, 1))


def find_accepted_start(
    kind: Literal["generation", "technique", "action"],
    *,
    workspace_id: str | None,
    project_id: str | None = None,
    technique_id: str | None = None,
) -> NextStep:
    """After idempotency_duplicate: look the run up in its history, never start again.

    Generation runs are listed by list_generations, technique runs by list_technique_runs;
    both list the newest first, so the run just accepted is near the top. Action runs have no
    documented listing: the journal (find_runs) is where the start and its key are kept.
    """
    if kind == "action":
        return NextStep(tool="find_runs", arguments={"tool": "start_action_run"}, after_seconds=0)
    args: dict[str, Any] = {"limit": 10}
    if workspace_id:
        args["workspace_id"] = workspace_id
    if kind == "generation":
        if project_id:
            args["project_id"] = project_id
        return NextStep(tool="list_generations", arguments=args, after_seconds=0)
    if technique_id:
        args["technique_id"] = technique_id
    return NextStep(tool="list_technique_runs", arguments=args, after_seconds=0)


# Error codes of failed runs, and what an agent should do about each.
_FAILED_RUN_ADVICE = {
    "provider_error": "the model provider failed; starting again may work, but it is a new paid run, "
    "so ask the user first",
    "input_validation_error": "FLORA refused an input; fix it before starting again",
    "insufficient_credits": "the workspace ran out of credits; stop and tell the user",
    "content_policy": "the prompt or input was refused by a content policy; change it before starting again",
}


def unknown_status_advice(status: str) -> str:
    """For a status this server does not know (FLORA adds them): show it, keep following the run."""
    return (
        f"FLORA reports status {status!r}, which this server does not know. It is not treated as finished: "
        "keep following the run (wait_for_run) until it completes or fails, and tell the user the status as "
        "FLORA gave it."
    )


def failed_run_advice(error_code: str | None) -> str:
    if error_code and error_code in _FAILED_RUN_ADVICE:
        return _FAILED_RUN_ADVICE[error_code]
    return "tell the user what failed; starting again is a new paid run, so ask them first"

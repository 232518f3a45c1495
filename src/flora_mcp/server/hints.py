"""What to do next with a run: `next` hints, polling cadence and progress figures.

Pure functions plus one small memory, so the rules an agent's experience depends on (how often
to poll, what to call next, what progress to report) live in one place and test without I/O.

Cadence rule: poll about three times in the time the run still needs, never faster than every
second (FLORA rate-limits) and never slower than every ten seconds (a finished run should not
sit unseen). What the run still needs comes from the observed progress rate when progress has
moved, else from the start's estimated_seconds, else a gentle back-off.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from flora_mcp.api.models import RunState
from flora_mcp.server.results import NextStep

MIN_POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 10.0
DEFAULT_WAIT_SECONDS = 50.0  # under the ~60 s tool-call timeout many clients apply
MAX_WAIT_SECONDS = 900.0


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
    """What this process learnt about a run when it started it; used to poll it well."""

    technique_id: str | None = None
    poll_url: str | None = None
    estimated_seconds: float | None = None
    started_at: float | None = None  # the server's monotonic clock


class RunMemory:
    """Facts about runs this process started, by run id, bounded (oldest forgotten first).

    Only an aid: a run started by another process (stateless HTTP behind a load balancer) is
    simply polled by its documented route with the back-off cadence.
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


def remaining_seconds(
    *,
    fraction: float,
    rate: float | None,
    estimated_seconds: float | None,
    since_start: float | None,
) -> float | None:
    """Best guess of the seconds a run still needs, or None when nothing is known."""
    if rate is not None and rate > 0 and fraction < 1:
        return (1 - fraction) / rate
    if estimated_seconds is not None and since_start is not None:
        return estimated_seconds - since_start
    if estimated_seconds is not None:
        return estimated_seconds * (1 - fraction)
    return None


def poll_delay(remaining: float | None, polls_so_far: int) -> float:
    """Seconds to wait before the next poll (see the module docstring for the rule)."""
    if remaining is None:
        # Nothing known: 2, 3, 4.5, 6.75, 10, 10 ... seconds.
        return clamp(2.0 * 1.5 ** min(polls_so_far, 10), MIN_POLL_SECONDS, MAX_POLL_SECONDS)
    if remaining <= 0:
        # Overdue against the estimate: keep looking, but do not hammer.
        return 2.0
    return clamp(remaining / 3, MIN_POLL_SECONDS, MAX_POLL_SECONDS)


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


def find_accepted_start(workspace_id: str | None, technique_id: str | None) -> NextStep:
    """After idempotency_duplicate: look the run up in the history, never start again."""
    args: dict[str, Any] = {"limit": 10}
    if workspace_id:
        args["workspace_id"] = workspace_id
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


def failed_run_advice(error_code: str | None) -> str:
    if error_code and error_code in _FAILED_RUN_ADVICE:
        return _FAILED_RUN_ADVICE[error_code]
    return "tell the user what failed; starting again is a new paid run, so ask them first"

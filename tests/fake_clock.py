"""The one fake clock of the test suite: time that passes only when a test or a sleeper moves it.

`FakeClock` stands in for every clock and sleep the code under test takes (`clock=`,
`wall_clock=`, `sleep=` of create_server, FloraClient and Sandbox):

- `time()` (or `now`) reads it; a test moves it with `advance(seconds)` or by setting `now`.
- `sleep(seconds)` moves it: it records the wait in `sleeps`, adds it to the time and yields
  once, so waits are instant and runs still progress. Set `hold` (and `cancelled`) to Events
  and the next such sleep sets `hold`, then blocks until cancelled and sets `cancelled`: how a
  test catches a wait mid-pause.
- `wait(seconds)` is the sleep of background work (create_server's `upkeep_sleep`): it returns
  once the clock reaches its end, whoever moves it, and is not recorded in `sleeps`. Were the
  upkeep to move time, every one of its ticks would push the clock a minute on, a loop with
  nothing to slow it down. `await elapse(seconds)` moves the clock and returns once every
  waiter it woke waits again: the upkeep's tick is over, deterministically; `await
  background_asleep()` returns once the upkeep waits (its first purge is done).
- `answering_within(timeout)`: a sleep for the sandbox that raises VirtualTimeout when the
  answer would come later than the client's timeout (see robustness/fault_support.py).

Import it as the other shared modules here are (tests/ is on sys.path through its conftest):
`from fake_clock import FakeClock`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import anyio.lowlevel

START = 1_700_000_000.0
SETTLE_TIMEOUT = 10.0  # real seconds `elapse` waits for the woken sleepers before it fails the test


class VirtualTimeout(Exception):
    """Raised inside the sandbox when an answer would come later than the client's timeout."""


class _Sleeper:
    def __init__(self, until: float) -> None:
        self.until = until
        self.woken = anyio.Event()


class FakeClock:
    """A clock that moves only when a test or a sleep moves it (module docstring)."""

    def __init__(self, now: float = START) -> None:
        self._now = now
        self.sleeps: list[float] = []
        self.hold: anyio.Event | None = None
        self.cancelled: anyio.Event | None = None
        self._sleepers: list[_Sleeper] = []
        self._background_sleeps = 0  # sleeps begun in a background task, so far
        self._asleep_again: anyio.Event | None = None  # set at the next of them (made in the event loop)

    @property
    def now(self) -> float:
        return self._now

    @now.setter
    def now(self, value: float) -> None:
        self._now = value
        self._wake()

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def background_asleep(self) -> None:
        """Wait until a background sleeper (the server's upkeep) is asleep: its start, or its tick, is over."""
        with anyio.fail_after(SETTLE_TIMEOUT):
            while not self._sleepers:
                await self._next_background_sleep()

    async def elapse(self, seconds: float) -> None:
        """Once the upkeep is asleep, move the clock on; return when every sleeper it woke is asleep again.

        So an `elapse` at least as long as the upkeep's tick runs exactly one whole tick, at the new time.
        """
        await self.background_asleep()
        due = sum(1 for sleeper in self._sleepers if sleeper.until <= self._now + seconds)
        target = self._background_sleeps + due
        self.advance(seconds)
        with anyio.fail_after(SETTLE_TIMEOUT):
            while self._background_sleeps < target:
                await self._next_background_sleep()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.hold is not None:
            self.hold.set()
            try:
                await anyio.sleep_forever()
            except anyio.get_cancelled_exc_class():
                if self.cancelled is not None:
                    self.cancelled.set()
                raise
        self.now += max(0.0, seconds)
        await anyio.lowlevel.checkpoint()

    def answering_within(self, timeout: float) -> Callable[[float], Awaitable[None]]:
        """A sandbox's sleep: a wait as long as the client's `timeout` is the client's timeout, raised at once."""

        async def sleep(seconds: float) -> None:
            if seconds >= timeout:
                raise VirtualTimeout
            await self.sleep(seconds)

        return sleep

    async def _next_background_sleep(self) -> None:
        if self._asleep_again is None:
            self._asleep_again = anyio.Event()
        await self._asleep_again.wait()

    async def wait(self, seconds: float) -> None:
        """A background sleep: until the clock reaches its end, moved by others (module docstring)."""
        sleeper = _Sleeper(self._now + max(0.0, seconds))
        self._background_sleeps += 1
        if self._asleep_again is not None:
            self._asleep_again.set()
            self._asleep_again = None
        if sleeper.until <= self._now:
            await anyio.lowlevel.checkpoint()
            return
        self._sleepers.append(sleeper)
        try:
            await sleeper.woken.wait()
        finally:
            if sleeper in self._sleepers:
                self._sleepers.remove(sleeper)

    def _wake(self) -> None:
        for sleeper in [s for s in self._sleepers if s.until <= self._now]:
            self._sleepers.remove(sleeper)
            sleeper.woken.set()

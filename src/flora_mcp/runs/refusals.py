"""Typed refusals: the product's rules saying no, for the MCP layer to word as tool errors.

The core (this package) never raises an MCP error. It raises one of these, and the adapter
turns them into tool errors in one place (server/errors.py, `refusal_text`):

    Refusal                      str() is what the agent reads, unless worded by the adapter
    ├── CapReached               over the spend cap; nothing sent
    ├── UnpricedOpen             another start of unknown cost is still open under the cap; nothing sent
    ├── KeyInUse                 the idempotency key names another start; nothing sent
    ├── StillInFlight            the same start is being sent by an earlier call; nothing sent now
    ├── KeyExpired               outcome unknown, and FLORA no longer holds the key; nothing sent now
    ├── CatalogRefusal           a billable mistake found in FLORA's catalog; nothing sent
    │   └── UnloadableInput      an input's media is on a host FLORA does not load from; nothing sent
    ├── TechniqueNotFound        the technique a start names does not exist; nothing sent
    ├── Unsendable               the client would never send it (an input given twice); nothing sent
    └── StartFailed              FLORA refused the start, or its outcome is unknown (`error` says which)

`before_sending` tells a batch which items were refused before anything went out.
"""

from __future__ import annotations

from flora_mcp.api.errors import FloraError


class Refusal(Exception):
    """A start or a check refused by the rules. Nothing was sent unless the subclass says otherwise."""

    before_sending = True

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


class CapReached(Refusal):
    """The caller's spend cap leaves no room for this start."""


class UnpricedOpen(Refusal):
    """Under a cap, a start of unknown cost waits until the open one's charge is known."""


class KeyInUse(Refusal):
    """The idempotency key already names another start (other arguments, tool or caller)."""


class StillInFlight(Refusal):
    """The same start is being sent by an earlier call of this process; its answer is not in yet."""


class KeyExpired(Refusal):
    """A start of unknown outcome asked for again after FLORA stopped holding its key: searched, not sent."""

    before_sending = False


class CatalogRefusal(Refusal):
    """A mistake FLORA would bill (an unknown model or param, a missing input), found before sending."""


class UnloadableInput(CatalogRefusal):
    """An action's or technique's input media is on a host FLORA cannot load from (runs/input_hosts.py)."""


class TechniqueNotFound(Refusal):
    """The technique the start names does not exist (FLORA's 404, kept for the adapter to word)."""

    def __init__(self, error: FloraError) -> None:
        super().__init__(str(error))
        self.error = error


class Unsendable(Refusal):
    """The FLORA client refused to send the request (it could never be sent as it is)."""

    def __init__(self, error: ValueError, tool: str) -> None:
        super().__init__(str(error))
        self.error, self.tool = error, tool


class StartFailed(Refusal):
    """FLORA refused the start (nothing charged), or its outcome is unknown (it may be charged).

    `error` is FLORA's failure; `key` the idempotency key to retry with (for a batch item, the
    batch's); `searched` what the search for a lost run found, when there was one.
    """

    before_sending = False

    def __init__(self, error: FloraError, tool: str, key: str, searched: str | None = None) -> None:
        super().__init__(str(error))
        self.error, self.tool, self.key, self.searched = error, tool, key, searched

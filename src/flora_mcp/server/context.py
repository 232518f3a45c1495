"""What every tool call can reach: the FLORA client, the booking, outputs, the run memory and the clock.

The lifespan builds one `AppState`; tools read it from their Context. The clock and sleep are
injectable so tests of waiting and polling never wait.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context

from flora_mcp.api.client import FloraClient
from flora_mcp.outputs.service import OutputService
from flora_mcp.server.catalog import Catalog
from flora_mcp.server.hints import RunMemory
from flora_mcp.server.money.quotes import QuoteBook
from flora_mcp.server.wire.http_auth import bearer_key, request_headers

if TYPE_CHECKING:
    from flora_mcp.server.money.booking import Booking


# Reads of runs one API key may have in flight at once from this process: FLORA's rate limit
# is per workspace, and a key reads within its own workspaces.
READS_AT_ONCE = 3


class ReadGate:
    """At most READS_AT_ONCE run reads in flight per caller (wait_for_runs, tasks/get)."""

    def __init__(self, at_once: int = READS_AT_ONCE) -> None:
        self.at_once = at_once
        self._limiters: dict[str, anyio.CapacityLimiter] = {}

    def of(self, caller: str) -> anyio.CapacityLimiter:
        limiter = self._limiters.get(caller)
        if limiter is None:
            limiter = self._limiters[caller] = anyio.CapacityLimiter(self.at_once)
        return limiter


@dataclass
class AppState:
    client: FloraClient  # speaks with the server's own key (or none)
    booking: Booking
    memory: RunMemory
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]
    quotes: QuoteBook = field(default_factory=QuoteBook)
    confirm_above_usd: float | None = None
    strict_params: bool = False  # FLORA_STRICT_PARAMS: refuse starts the catalog cannot check
    reads: ReadGate = field(default_factory=ReadGate)

    @property
    def catalog(self) -> Catalog:
        """FLORA's models and techniques, cached per caller; shared with the quotes."""
        return self.quotes.catalog

    def caller(self, ctx: Context[Any] | ServerRequestContext[Any, Any]) -> str:
        """Who is calling: a keyed fingerprint of the API key this request uses, never the key."""
        return self.booking.caller(ctx)

    outputs: OutputService | None = None  # previews, saved files and output resources

    def client_for(self, ctx: Context[Any] | ServerRequestContext[Any, Any]) -> FloraClient:
        """The client for this request: with the request's own Bearer key when it brought one."""
        key = bearer_key(request_headers(ctx))
        return self.client.with_api_key(key) if key else self.client


def state_of(ctx: Context[Any]) -> AppState:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):  # pragma: no cover - only a wiring mistake gets here
        raise RuntimeError("flora-mcp's lifespan did not run")
    return state

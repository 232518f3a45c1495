"""What every tool call can reach: the FLORA client, the booking, outputs, the run memory and the clock.

The lifespan builds one `AppState`; tools read it from their Context. The clock and sleep are
injectable so tests of waiting and polling never wait.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context

from flora_mcp.api.client import FloraClient
from flora_mcp.outputs.service import OutputService
from flora_mcp.server.catalog import Catalog
from flora_mcp.server.hints import RunMemory
from flora_mcp.server.money.quotes import QuoteBook
from flora_mcp.server.wire.http_auth import bearer_key

if TYPE_CHECKING:
    from flora_mcp.server.money.booking import Booking


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

    @property
    def catalog(self) -> Catalog:
        """FLORA's models and techniques, cached per caller; shared with the quotes."""
        return self.quotes.catalog

    def caller(self, ctx: Context[Any]) -> str:
        """Who is calling: a keyed fingerprint of the API key this request uses, never the key."""
        return self.booking.caller(ctx)

    outputs: OutputService | None = None  # previews, saved files and output resources

    def client_for(self, ctx: Context[Any]) -> FloraClient:
        """The client for this request: with the request's own Bearer key when it brought one."""
        key = bearer_key(ctx.headers)
        return self.client.with_api_key(key) if key else self.client


def state_of(ctx: Context[Any]) -> AppState:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):  # pragma: no cover - only a wiring mistake gets here
        raise RuntimeError("flora-mcp's lifespan did not run")
    return state

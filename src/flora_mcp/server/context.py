"""What every tool call can reach: the FLORA client, the booking, outputs, the run memory and the clock.

The lifespan builds one `AppState`; tools read it from their Context. The clock and sleep are
injectable so tests of waiting and polling never wait.

The caller of a request (runs/caller.py) is resolved here, once per request: over HTTP from the
key the key gate parsed (server/wire/http_auth.py) and kept on the request; otherwise (stdio,
an in-memory client) it is the server's own caller, made once when the server starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context

from flora_mcp.api.client import FloraClient
from flora_mcp.outputs.service import OutputService
from flora_mcp.runs.caller import Caller
from flora_mcp.runs.catalog import Catalog
from flora_mcp.runs.following import RunMemory
from flora_mcp.runs.preflight import CatalogChecks
from flora_mcp.runs.quotes import QuoteBook
from flora_mcp.server.wire.http_auth import REQUEST_KEY, bearer_key

if TYPE_CHECKING:
    from flora_mcp.runs.booking import Booking


# Reads of runs one API key may have in flight at once from this process: FLORA's rate limit
# is per workspace, and a key reads within its own workspaces.
READS_AT_ONCE = 3
_CALLER = "flora_caller"  # where a request keeps its resolved Caller


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
    own: Caller  # the server key's caller: stdio's, and HTTP's when the key is lent
    quotes: QuoteBook = field(default_factory=QuoteBook)
    confirm_above_usd: float | None = None
    strict_params: bool = False  # FLORA_STRICT_PARAMS: refuse starts the catalog cannot check
    reads: ReadGate = field(default_factory=ReadGate)
    outputs: OutputService | None = None  # previews, saved files and output resources
    input_dirs: tuple[Path, ...] = ()  # FLORA_INPUT_DIRS, resolved: where local uploads may come from
    # The origins FLORA loads action and technique input media from (runs/input_hosts.py): its media
    # origins and the API's own. None (a state built without settings) leaves inputs unchecked.
    input_origins: frozenset[str] | None = None
    # upload_asset's memory: (caller, workspace, sha256) -> (asset id, url), so a file sent twice uploads once.
    uploads: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)

    @property
    def catalog(self) -> Catalog:
        """FLORA's models and techniques, cached per caller; shared with the quotes."""
        return self.quotes.catalog

    @property
    def checks(self) -> CatalogChecks:
        """The catalog checks every start passes before it is sent (runs/preflight.py)."""
        return CatalogChecks(self.catalog, strict=self.strict_params)

    def caller(self, ctx: Context[Any] | ServerRequestContext[Any, Any]) -> Caller:
        """Who this request acts for (the module docstring): resolved on first use, then kept on the request."""
        request = _request_of(ctx)
        if request is None:
            return self.own
        state = request.scope.setdefault("state", {})
        known = state.get(_CALLER)
        if known is None:
            key = state[REQUEST_KEY] if REQUEST_KEY in state else bearer_key(request.headers)
            known = (
                self.own if key is None else Caller(self.booking.store.fingerprint(key), self.client.with_api_key(key))
            )
            state[_CALLER] = known
        return known


def _request_of(ctx: Context[Any] | ServerRequestContext[Any, Any]) -> Any:
    """The HTTP request a tool call or method handler serves, or None (stdio, in memory)."""
    context = getattr(ctx, "request_context", ctx)
    request = getattr(context, "request", None)
    return request if request is not None and hasattr(request, "scope") else None


def served_over_http(ctx: Context[Any]) -> bool:
    """Whether this call came over HTTP (a request with a scope), not stdio or an in-memory client."""
    return _request_of(ctx) is not None


def state_of(ctx: Context[Any]) -> AppState:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):  # pragma: no cover - only a wiring mistake gets here
        raise RuntimeError("flora-mcp's lifespan did not run")
    return state

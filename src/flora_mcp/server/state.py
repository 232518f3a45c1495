"""What every tool call can reach: the FLORA client, the run memory, the spend ledger, outputs, the clock.

The lifespan builds one `AppState`; tools read it from their Context. The clock and sleep are
injectable so tests of waiting and polling never wait.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import Context

from flora_mcp.api.client import FloraClient
from flora_mcp.outputs.service import OutputService
from flora_mcp.server.hints import RunMemory
from flora_mcp.server.http_auth import bearer_key
from flora_mcp.server.quotes import QuoteBook
from flora_mcp.server.spending import SpendLedger


@dataclass
class AppState:
    client: FloraClient  # speaks with the server's own key (or none)
    memory: RunMemory
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]
    ledger: SpendLedger = field(default_factory=SpendLedger)
    quotes: QuoteBook = field(default_factory=QuoteBook)
    confirm_above_usd: float | None = None
    outputs: OutputService | None = None  # previews, saved files and output resources

    def client_for(self, ctx: Context[Any]) -> FloraClient:
        """The client for this request: with the request's own Bearer key when it brought one."""
        key = bearer_key(ctx.headers)
        return self.client.with_api_key(key) if key else self.client

    def caller(self, ctx: Context[Any]) -> str:
        """Who is calling, as far as spend listings go: a fingerprint of the key used, never the key."""
        key = bearer_key(ctx.headers)
        if key is None:
            return "server-key"
        return "key-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def state_of(ctx: Context[Any]) -> AppState:
    state = ctx.request_context.lifespan_context
    if not isinstance(state, AppState):  # pragma: no cover - only a wiring mistake gets here
        raise RuntimeError("flora-mcp's lifespan did not run")
    return state

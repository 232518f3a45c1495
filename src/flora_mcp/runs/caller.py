"""The caller: who a request acts for, resolved once per request by the MCP layer.

`fingerprint` is a keyed digest of the FLORA key the request uses (never the key: it is what
the journal, the cap and the tasks are kept under); `client` speaks with that key. Over stdio
every request is the server key's caller; over HTTP each request may bring its own key.
"""

from __future__ import annotations

from dataclasses import dataclass

from flora_mcp.api.client import FloraClient


@dataclass(frozen=True)
class Caller:
    fingerprint: str
    client: FloraClient

    def __repr__(self) -> str:  # the client holds the key: never let a repr near it
        return f"Caller(fingerprint={self.fingerprint!r})"

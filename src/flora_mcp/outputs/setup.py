"""build_output_service: the OutputService for one server, from its settings (the lifespan calls it)."""

from __future__ import annotations

import httpx2

from flora_mcp.config import Settings
from flora_mcp.outputs.fetch import origin_of
from flora_mcp.outputs.index import JournalRunIndex, RunIndex
from flora_mcp.outputs.service import FETCH_TIMEOUT_SECONDS, OutputService
from flora_mcp.state import Store


def build_output_service(
    settings: Settings,
    http: httpx2.AsyncClient,
    store: Store,
    *,
    base_url: str,
    sandbox: bool,
    index: RunIndex | None = None,
) -> OutputService:
    """The service that previews, saves and serves outputs.

    - `http`: the client media is fetched with (the FLORA client's own is fine: it adds the API
      key per request, never to the client, so no key goes to a media host);
    - `base_url`: the FLORA base URL in use; its origin is the one non-public origin fetched;
    - `index`: who owns which run; by default the state store's journal plus the runs this
      process saw each caller read.
    """
    return OutputService(
        http=http,
        index=index or JournalRunIndex(store),
        trusted_origin=origin_of(base_url),
        previews_on=settings.previews,
        output_dir=settings.output_dir,
        max_bytes=settings.max_output_bytes,
        fetch_timeout=min(settings.timeout, FETCH_TIMEOUT_SECONDS),
    )

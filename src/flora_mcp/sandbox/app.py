"""The Sandbox: an in-memory, FLORA-compatible API as one ASGI app.

    sandbox = Sandbox(SandboxConfig(time_scale=0), clock=fake_clock)
    async with httpx2.AsyncClient(transport=sandbox.transport(), base_url=sandbox.base_url()) as http:
        ...

Layout of the app: the API under /api/v1 (runs.py, catalog.py), run outputs under /media/
(no key needed, like FLORA's CDN URLs), test controls under /_sandbox/ (control.py), all
behind the gateway (gateway.py) that stamps request ids, counts requests and plays faults.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
import httpx2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flora_mcp.sandbox import media, render, seed
from flora_mcp.sandbox.actions import ActionRoutes
from flora_mcp.sandbox.assets import AssetRoutes
from flora_mcp.sandbox.catalog import CatalogRoutes
from flora_mcp.sandbox.config import SandboxConfig
from flora_mcp.sandbox.control import ControlRoutes
from flora_mcp.sandbox.errors import ApiError, code_for_status, envelope, not_found
from flora_mcp.sandbox.faults import FaultQueue
from flora_mcp.sandbox.gateway import Gateway
from flora_mcp.sandbox.runs import RunRoutes
from flora_mcp.sandbox.state import Run, SandboxState
from flora_mcp.sandbox.transport import SandboxTransport

DEFAULT_ORIGIN = "http://sandbox.test"


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    # The router's own 404 / 405 answers, in FLORA's envelope rather than Starlette's plain text.
    assert isinstance(exc, HTTPException)
    code = code_for_status(exc.status_code)
    message = "Not found." if exc.status_code == 404 else str(exc.detail)
    return JSONResponse(envelope(code, message), status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    return JSONResponse(envelope("unknown_error", "An unknown error occurred."), status_code=500)


class Sandbox:
    """A FLORA-compatible API held in memory; see the module docstring."""

    workspace_id = seed.WORKSPACE_ID
    project_id = seed.PROJECT_ID

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.config = config or SandboxConfig()
        self.clock = clock
        self.faults = FaultQueue()
        self.state = SandboxState(self.config.credits_usd)
        routes = [
            *RunRoutes(self).routes(),
            *CatalogRoutes(self).routes(),
            *ActionRoutes(self).routes(),
            *AssetRoutes(self).routes(),
            Route("/media/{run_id}/{filename}", self._media, methods=["GET"], name="GET /media/{run_id}/{filename}"),
            *ControlRoutes(self).routes(),
        ]
        self.starlette = Starlette(
            routes=routes,
            exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected},
        )
        # A lambda, not the bound method: reset() replaces self.state.
        self.app = Gateway(self.starlette, self.faults, lambda route: self.state.count_request(route), sleep)

    # --- what tests look at ----------------------------------------------------------------
    @property
    def runs(self) -> list[Run]:
        """Every run created since the last reset, oldest first."""
        return self.state.runs

    @property
    def credits_usd(self) -> float:
        return self.state.credits_usd

    @credits_usd.setter
    def credits_usd(self, value: float) -> None:
        self.state.credits_usd = value

    @property
    def requests(self) -> Counter[str]:
        """Requests received per route template, e.g. requests["POST /runs/generation"]."""
        return self.state.requests

    def snapshot(self) -> dict[str, Any]:
        return {
            "runs": len(self.state.runs),
            "run_ids": [run.run_id for run in self.state.runs],
            "credits_usd": self.state.credits_usd,
            "requests": dict(self.state.requests),
            "faults_pending": self.faults.pending(),
        }

    def reset(self, *, credits_usd: float | None = None) -> None:
        """Forget every run, key, count and queued fault; credits back to the config's (or given)."""
        self.state = SandboxState(self.config.credits_usd if credits_usd is None else credits_usd)
        self.faults.clear()

    # --- how clients reach it --------------------------------------------------------------
    def base_url(self, origin: str = DEFAULT_ORIGIN) -> str:
        return origin.rstrip("/") + render.API_PREFIX

    def transport(self) -> httpx2.AsyncBaseTransport:
        """An in-process httpx2 transport to this sandbox (dropped connections raise like a socket's)."""
        return SandboxTransport(self.app)

    def serving(self, host: str = "127.0.0.1", port: int = 0) -> AbstractAsyncContextManager[str]:
        """Serve over a real socket for the duration of an `async with`; yields the base URL."""
        from flora_mcp.sandbox.server import serving

        return serving(self, host=host, port=port)

    # --- media -----------------------------------------------------------------------------
    async def _media(self, request: Request) -> Response:
        run = self.state.by_id.get(request.path_params["run_id"])
        stem, _, extension = request.path_params["filename"].rpartition(".")
        if (
            run is None
            or stem != render.OUTPUT_ID
            or render.MEDIA_EXTENSIONS.get(run.output_type) != extension
            or run.phase(self.clock()).status != "completed"
        ):
            raise not_found("No such media.")
        return Response(
            media.render(extension, render.media_seed(run), self.config.image_size),
            media_type=media.CONTENT_TYPES[extension],
        )

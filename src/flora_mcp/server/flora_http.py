"""The clients the server reaches FLORA with: the httpx2 client, built so that it costs nothing
until used, and the FLORA client configured by the settings (`flora_client`).

httpx2 is the MCP SDK's own HTTP client (the same API as httpx): one HTTP stack in the server
instead of two. It trusts the system's certificate store (or SSL_CERT_FILE / SSL_CERT_DIR).

An `httpx2.AsyncClient()` builds its connection pool at construction: it imports httpcore2 and
loads the CA certificates into a TLS context, about 25 ms that used to sit on every cold start
before the first tools/list, although listing tools sends nothing to FLORA. Here the client
gets a transport that builds that same pool (`httpx2.AsyncHTTPTransport`, with httpx2's own
defaults) at the first request instead.

With a proxy configured in the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY), httpx2 routes
requests through per-proxy transports that it only sets up when it builds its own transport;
the client is then built the ordinary, eager way, so proxies work exactly as httpx2 does them.
So it is when SSL_CERT_FILE or SSL_CERT_DIR names a path that is not there: the server still
fails at start, as before, rather than at its first FLORA call.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable
from typing import Any

import httpx2

from flora_mcp.api.client import FloraClient
from flora_mcp.api.retry import RetryPolicy
from flora_mcp.config import Settings

_PROXY_SCHEMES = ("http", "https", "all")


class TransportOnFirstUse(httpx2.AsyncBaseTransport):
    """Builds the real transport at the first request and hands every request to it."""

    def __init__(self, build: Callable[[], httpx2.AsyncBaseTransport]) -> None:
        self._build = build
        self._transport: httpx2.AsyncBaseTransport | None = None

    @property
    def built(self) -> bool:
        return self._transport is not None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._transport is None:
            # No await between the check and the assignment: concurrent first calls share one pool.
            self._transport = self._build()
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()


def environment_has_proxy() -> bool:
    """Whether httpx2, trusting the environment, would send some requests through a proxy."""
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in _PROXY_SCHEMES)


def ca_override_is_missing() -> bool:
    """Whether SSL_CERT_FILE (else SSL_CERT_DIR), which httpx2 reads, names a path that is not there."""
    ca_file, ca_dir = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if ca_file:
        return not os.path.isfile(ca_file)
    if ca_dir:
        return not os.path.isdir(ca_dir)
    return False


def flora_http_client(*, trust_env: bool) -> httpx2.AsyncClient:
    """An AsyncClient equal to `httpx2.AsyncClient(trust_env=trust_env)`, minus its start-up cost.

    `trust_env=False` is for a loopback sandbox, which must not be sent through a proxy.
    """
    if trust_env and (environment_has_proxy() or ca_override_is_missing()):
        return httpx2.AsyncClient(trust_env=True)
    return httpx2.AsyncClient(
        trust_env=trust_env,
        transport=TransportOnFirstUse(lambda: httpx2.AsyncHTTPTransport(trust_env=trust_env)),
    )


def flora_client(settings: Settings, http_client: httpx2.AsyncClient, **options: Any) -> FloraClient:
    """The FLORA client `settings` describe; keyword options override (e.g. a sandbox's URL and key).

    Here, not in api/: the FLORA client knows nothing of this server's settings.
    """
    options.setdefault("base_url", settings.base_url)
    options.setdefault("api_key", settings.api_key_value())
    options.setdefault("retry", RetryPolicy(max_retries=settings.max_retries))
    options.setdefault("timeout", settings.timeout)
    return FloraClient(http_client, **options)

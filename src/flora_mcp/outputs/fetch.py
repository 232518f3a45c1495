"""A bounded fetch of one output URL: http(s) only, public hosts only, a size cap and a timeout.

Output URLs come from FLORA's answers, so they are followed with care: a URL that points at a
loopback, private or link-local address (as written, or once its name resolves) is refused,
unless its origin is the origin of FLORA_BASE_URL itself (the sandbox, or a local FLORA double,
serves its media there). Redirects are followed by hand, at most three, each hop checked the
same way. No API key is ever sent: media URLs are public and unsigned (FLORA's docs).

A name is resolved once, every address it answers must be public, and the connection goes to
one of exactly those addresses (`_PinnedBackend`): a name whose DNS answer changes between the
check and the connect (DNS rebinding) cannot steer the fetch to a private address. The URL,
the Host header and TLS (SNI and certificate check) keep the real name. FLORA's own origin is
fetched with the client the service was given, as before (it is where FLORA itself lives).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import anyio
import httpx2

from flora_mcp.api.urls import check_public_https_url, is_public

MAX_REDIRECTS = 3
# What a name resolves to, as IP address strings: injectable, since tests have no DNS.
Resolver = Callable[[str, int], Awaitable[list[str]]]

if TYPE_CHECKING:
    import httpcore2


class FetchError(Exception):
    """An output could not be fetched; the message says why in one line a model can read."""


@dataclass(frozen=True)
class Fetched:
    url: str  # the URL the bytes came from (after redirects)
    content: bytes
    content_type: str | None


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives `host`."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def origin_of(url: str) -> str:
    """scheme://host[:port] of `url`, with the default port left out."""
    parsed = httpx2.URL(url)
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    port = f":{parsed.port}" if parsed.port and parsed.port != default else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _port(url: httpx2.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


async def public_addresses(host: str, port: int, resolve: Resolver) -> list[str]:
    """Every address `host` resolves to, when all are public; FetchError otherwise."""
    try:
        answers = await resolve(host, port)
    except OSError as exc:
        raise FetchError(f"{host} could not be resolved ({exc.strerror or exc})") from None
    if not answers:
        raise FetchError(f"{host} could not be resolved (no addresses)")
    for answer in answers:
        try:
            address = ipaddress.ip_address(answer.split("%", 1)[0])
        except ValueError:
            raise FetchError(f"{host} resolves to something that is not an address") from None
        # One private answer is enough to refuse: which one a connect would pick is not ours to know.
        if not is_public(address):
            raise FetchError(f"{host} resolves to a non-public address, so flora-mcp does not fetch from it")
    return answers


async def check_url(url: str, *, trusted_origin: str | None, resolve: Resolver = system_resolver) -> _Target:
    """Where flora-mcp may fetch `url` from (the addresses to connect to); FetchError saying why not."""
    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, TypeError):
        raise FetchError("the output URL is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError("the output URL is not an http(s) URL")
    if parsed.userinfo:
        raise FetchError("the output URL carries a user name or password")
    if trusted_origin is not None and origin_of(str(parsed)) == trusted_origin:
        return _Target(parsed, addresses=None)
    # The written form first (loopback names, private literals, 2130706433-style hosts). The
    # helper is for https callback URLs, so it is handed the same host on https, unresolved.
    try:
        check_public_https_url(str(parsed.copy_with(scheme="https", port=None)), resolver=None)
    except ValueError:
        raise FetchError(f"{parsed.host} is not a public host, so flora-mcp does not fetch from it") from None
    if _is_ip(parsed.host):
        return _Target(parsed, addresses=[parsed.host])
    return _Target(parsed, addresses=await public_addresses(parsed.host, _port(parsed), resolve))


@dataclass(frozen=True)
class _Target:
    url: httpx2.URL
    addresses: list[str] | None  # the checked addresses to connect to; None for FLORA's own origin


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@cache
def _pinned_backend_class() -> Any:
    """_PinnedBackend, defined on first use: httpcore2 (and h11 with it) stays out of a server start."""
    import httpcore2

    class _PinnedBackend(httpcore2.AsyncNetworkBackend):
        """Connects `host` to the addresses checked for it, and nothing else anywhere."""

        def __init__(self, host: str, addresses: list[str]) -> None:
            self._host, self._addresses = host, addresses
            self._inner = httpcore2.AnyIOBackend()

        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
            local_address: str | None = None,
            socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
        ) -> httpcore2.AsyncNetworkStream:
            if host != self._host:
                raise httpcore2.ConnectError(f"{host} was not checked")
            failure: Exception = httpcore2.ConnectError("no address")
            for address in self._addresses:
                try:
                    return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
                except httpcore2.NetworkError as exc:
                    failure = exc  # the next checked address, as a resolver-driven connect would
            raise failure

        async def sleep(self, seconds: float) -> None:
            await anyio.sleep(seconds)

    return _PinnedBackend


def _transport_errors() -> tuple[type[Exception], ...]:
    import httpcore2

    return (httpx2.HTTPError, httpcore2.NetworkError, httpcore2.TimeoutException, httpcore2.ProtocolError)


@cache
def _tls() -> ssl.SSLContext:
    # Made once: loading the CA bundle costs milliseconds that every fetch would pay again.
    return httpx2.create_ssl_context()


@dataclass
class _Answer:
    status: int
    headers: httpx2.Headers
    chunks: AsyncIterator[bytes]


@asynccontextmanager
async def _get(http: httpx2.AsyncClient, target: _Target) -> AsyncIterator[_Answer]:
    """One GET of `target`, without following redirects: through `http` for FLORA's origin,
    else over a connection to one of the checked addresses (a pool of its own, closed after)."""
    if target.addresses is None:
        async with http.stream("GET", target.url, follow_redirects=False) as answer:
            yield _Answer(answer.status_code, answer.headers, answer.aiter_bytes())
        return
    import httpcore2

    backend = _pinned_backend_class()(target.url.host, target.addresses)
    headers = [(b"Accept-Encoding", b"identity"), (b"User-Agent", b"flora-mcp")]
    pool = httpcore2.AsyncConnectionPool(ssl_context=_tls(), network_backend=backend, max_connections=1)
    async with pool, pool.stream("GET", str(target.url), headers=headers) as raw:
        fields = httpx2.Headers(raw.headers)
        if fields.get("content-encoding", "identity").lower() != "identity":
            raise FetchError("the media host sent the output compressed, which flora-mcp does not unpack")
        yield _Answer(raw.status, fields, raw.aiter_stream())


async def fetch_output(
    http: httpx2.AsyncClient,
    url: str,
    *,
    trusted_origin: str | None,
    max_bytes: int,
    within_seconds: float,
    resolve: Resolver = system_resolver,
) -> Fetched:
    """GET `url` within `max_bytes` and `within_seconds` (all hops together); FetchError otherwise.

    `trusted_origin` is FLORA_BASE_URL's origin: the one non-public origin that may be fetched.
    """
    with anyio.move_on_after(max(within_seconds, 0.0)) as scope:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            target = await check_url(current, trusted_origin=trusted_origin, resolve=resolve)
            try:
                async with _get(http, target) as answer:
                    if 300 <= answer.status < 400 and "location" in answer.headers:
                        current = str(target.url.join(answer.headers["location"]))
                        continue
                    return await _body(answer, str(target.url), max_bytes)
            except _transport_errors() as exc:
                raise FetchError(f"the output could not be downloaded ({type(exc).__name__})") from None
        raise FetchError(f"the output URL redirected more than {MAX_REDIRECTS} times")
    assert scope.cancelled_caught
    raise FetchError(f"the output did not download within {within_seconds:.1f} s")


async def _body(answer: _Answer, url: str, max_bytes: int) -> Fetched:
    if answer.status != 200:
        raise FetchError(f"the media host answered HTTP {answer.status}")
    declared = answer.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"the output is {int(declared):,} bytes, over the {max_bytes:,}-byte cap")
    body = bytearray()
    async for chunk in answer.chunks:
        body += chunk
        if len(body) > max_bytes:
            raise FetchError(f"the output is over the {max_bytes:,}-byte cap")
    return Fetched(url, bytes(body), answer.headers.get("content-type"))

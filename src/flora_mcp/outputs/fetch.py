"""A bounded fetch of one output URL: http(s) only, public hosts only, a size cap and a timeout.

Output URLs come from FLORA's answers, so they are followed with care: a URL that points at a
loopback, private or link-local address (as written, or once its name resolves) is refused,
unless its origin is the origin of FLORA_BASE_URL itself (the sandbox, or a local FLORA double,
serves its media there). Redirects are followed by hand, at most three, each hop checked the
same way. No API key is ever sent: media URLs are public and unsigned (FLORA's docs).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import anyio
import httpx2

from flora_mcp.api.models import check_public_https_url

MAX_REDIRECTS = 3


class FetchError(Exception):
    """An output could not be fetched; the message says why in one line a model can read."""


@dataclass(frozen=True)
class Fetched:
    url: str  # the URL the bytes came from (after redirects)
    content: bytes
    content_type: str | None


def origin_of(url: str) -> str:
    """scheme://host[:port] of `url`, with the default port left out."""
    parsed = httpx2.URL(url)
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    port = f":{parsed.port}" if parsed.port and parsed.port != default else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


async def _check_public(url: httpx2.URL) -> None:
    # The written form first (loopback names, private literals, 2130706433-style hosts). The
    # helper is for https callback URLs, so it is handed the same host on https.
    try:
        check_public_https_url(str(url.copy_with(scheme="https", port=None)))
    except ValueError:
        raise FetchError(f"{url.host} is not a public host, so flora-mcp does not fetch from it") from None
    if _is_ip(url.host):
        return
    # Then what the name resolves to: a public name that points at a private address is refused too.
    try:
        infos = await anyio.getaddrinfo(url.host, url.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"{url.host} could not be resolved ({exc.strerror or exc})") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            raise FetchError(f"{url.host} resolves to a non-public address, so flora-mcp does not fetch from it")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def check_url(url: str, *, trusted_origin: str | None) -> httpx2.URL:
    """`url` parsed, when flora-mcp may fetch it; FetchError saying why not otherwise."""
    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, TypeError):
        raise FetchError("the output URL is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError("the output URL is not an http(s) URL")
    if parsed.userinfo:
        raise FetchError("the output URL carries a user name or password")
    if trusted_origin is None or origin_of(str(parsed)) != trusted_origin:
        await _check_public(parsed)
    return parsed


async def fetch_output(
    http: httpx2.AsyncClient,
    url: str,
    *,
    trusted_origin: str | None,
    max_bytes: int,
    within_seconds: float,
) -> Fetched:
    """GET `url` within `max_bytes` and `within_seconds` (all hops together); FetchError otherwise.

    `trusted_origin` is FLORA_BASE_URL's origin: the one non-public origin that may be fetched.
    """
    with anyio.move_on_after(within_seconds) as scope:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            parsed = await check_url(current, trusted_origin=trusted_origin)
            try:
                async with http.stream("GET", parsed, follow_redirects=False) as answer:
                    if answer.is_redirect and "location" in answer.headers:
                        current = str(parsed.join(answer.headers["location"]))
                        continue
                    if answer.status_code != 200:
                        raise FetchError(f"the media host answered HTTP {answer.status_code}")
                    declared = answer.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(f"the output is {int(declared):,} bytes, over the {max_bytes:,}-byte cap")
                    body = bytearray()
                    async for chunk in answer.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise FetchError(f"the output is over the {max_bytes:,}-byte cap")
                    return Fetched(str(parsed), bytes(body), answer.headers.get("content-type"))
            except httpx2.HTTPError as exc:
                raise FetchError(f"the output could not be downloaded ({type(exc).__name__})") from None
        raise FetchError(f"the output URL redirected more than {MAX_REDIRECTS} times")
    assert scope.cancelled_caught
    raise FetchError(f"the output did not download within {within_seconds:g} s")

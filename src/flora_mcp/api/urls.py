"""Which URLs the client may build or follow: path segments, the base URL, poll URLs.

An id becomes exactly one path segment (percent-encoded, never a dot segment), and a URL taken
from an answer (poll_url) is followed only when it lies inside the base URL, so the API key is
never sent to an address FLORA's answer, or something in front of FLORA, chose.
"""

from __future__ import annotations

from urllib.parse import quote, unquote

import httpx

DEFAULT_PORTS = {"http": 80, "https": 443}


def path_segment(value: str, what: str) -> str:
    """`value` as exactly one path segment: percent-encoded, and never "", "." or ".."."""
    if value in ("", ".", ".."):
        # quote() leaves dots alone, and a dot segment would move the request up the path.
        raise ValueError(f"{what} {value!r} is not a valid id")
    return quote(value, safe="")


def parse_base_url(base_url: str) -> httpx.URL:
    """The API base URL without a trailing slash; ValueError unless http(s) with a host."""
    try:
        base = httpx.URL(base_url.strip().rstrip("/"))
    except httpx.InvalidURL as exc:
        raise ValueError(f"base_url is not a URL: {exc}") from None
    if base.scheme not in DEFAULT_PORTS or not base.host or base.query or base.fragment:
        raise ValueError("base_url must be an http:// or https:// URL with a host and no query")
    return base


def _port(url: httpx.URL) -> int | None:
    return url.port or DEFAULT_PORTS.get(url.scheme)


def _segments(url: httpx.URL) -> list[str]:
    raw = url.raw_path.split(b"?", 1)[0].decode("ascii", "replace")
    return [unquote(s) for s in raw.split("/")]


def url_inside(url: str, base: httpx.URL) -> str | None:
    """`url` (without its fragment) when it lies inside `base`, else None.

    Inside means: the same scheme, host and port, no user info, and a path strictly below the
    base path with no dot segment or encoded slash anywhere (either could walk out of the base
    path once the server decodes it).
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    if parsed.scheme != base.scheme or parsed.host != base.host or _port(parsed) != _port(base):
        return None
    if parsed.userinfo:
        return None
    segments = _segments(parsed)
    if any(s in (".", "..") or "/" in s or "\\" in s for s in segments):
        return None
    base_segments = _segments(base)
    if base_segments[-1] == "":
        base_segments.pop()
    below = segments[: len(base_segments)] == base_segments and any(segments[len(base_segments) :])
    return str(parsed.copy_with(fragment=None)) if below else None

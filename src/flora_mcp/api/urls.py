"""Which URLs the client may build or follow: path segments, the base URL, poll URLs.

An id becomes exactly one path segment (percent-encoded, never a dot segment), and a URL taken
from an answer (poll_url) is followed only when it lies inside the base URL, so the API key is
never sent to an address FLORA's answer, or something in front of FLORA, chose.
"""

from __future__ import annotations

import concurrent.futures
import functools
import ipaddress
import re
import socket
import time
import unicodedata
from collections.abc import Callable
from urllib.parse import quote, unquote, urlsplit

import httpx2
import idna

DEFAULT_PORTS = {"http": 80, "https": 443}


def path_segment(value: str, what: str) -> str:
    """`value` as exactly one path segment: percent-encoded, and never "", "." or ".."."""
    if value in ("", ".", ".."):
        # quote() leaves dots alone, and a dot segment would move the request up the path.
        raise ValueError(f"{what} {value!r} is not a valid id")
    return quote(value, safe="")


def parse_base_url(base_url: str) -> httpx2.URL:
    """The API base URL without a trailing slash; ValueError unless http(s) with a host."""
    try:
        base = httpx2.URL(base_url.strip().rstrip("/"))
    except httpx2.InvalidURL as exc:
        raise ValueError(f"base_url is not a URL: {exc}") from None
    if base.scheme not in DEFAULT_PORTS or not base.host or base.query or base.fragment:
        raise ValueError("base_url must be an http:// or https:// URL with a host and no query")
    return base


def _port(url: httpx2.URL) -> int | None:
    return url.port or DEFAULT_PORTS.get(url.scheme)


def _segments(url: httpx2.URL) -> list[str]:
    raw = url.raw_path.split(b"?", 1)[0].decode("ascii", "replace")
    return [unquote(s) for s in raw.split("/")]


def url_inside(url: str, base: httpx2.URL) -> str | None:
    """`url` (without its fragment) when it lies inside `base`, else None.

    Inside means: the same scheme, host and port, no user info, and a path strictly below the
    base path with no dot segment or encoded slash anywhere (either could walk out of the base
    path once the server decodes it).
    """
    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, TypeError):
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


# --- hosts as a browser reads them -------------------------------------------------------------
# WHATWG URL parsing maps these to "." before splitting a host into labels.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def normalise_host(host: str) -> str:
    """`host` as a WHATWG URL parser leaves it: percent-decoded, NFKC/IDNA-mapped, lowercase.

    That is what a browser, curl or FLORA's webhook sender would connect to, so it is what a
    public-host check must look at: `127。0。0。1`, fullwidth digits and `%2e` are all 127.0.0.1.
    ValueError when the host cannot be a host at all.
    """
    text = unquote(host, errors="strict") if "%" in host else host
    if text.startswith("[") and text.endswith("]"):
        return text.lower()
    text = unicodedata.normalize("NFKC", text).translate(_DOTS).lower()
    if not text.isascii():
        try:
            text = idna.encode(text, uts46=True, transitional=False).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"the host is not a valid domain name ({exc})") from None
    if any(c in text for c in " \t\r\n/\\?#@:<>[]^|%"):
        raise ValueError("the host holds characters a host cannot contain")
    return text


def host_address(host: str) -> Address | None:
    """The IP address a normalised host names (any IPv4 spelling, bracketed IPv6), else None."""
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.IPv6Address(host[1:-1].split("%", 1)[0])
        except ValueError:
            raise ValueError("the host is not a valid IPv6 address") from None
    host = host.removesuffix(".")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    last = host.rsplit(".", 1)[-1]
    # WHATWG reads a host whose last label is a number as IPv4 (2130706433, 0x7f.1, 0177.0.0.1, 127.1).
    if not re.fullmatch(r"0x[0-9a-f]*|[0-9]+", last):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise ValueError("the host looks like an IP address but is not a valid one") from None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition form carries: mapped, compatible, NAT64, 6to4, Teredo."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in _NAT64) or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        return inner is None or (inner.is_global and not inner.is_multicast)
    return True


# What a name resolves to, as address strings (OSError when it does not): injectable for tests.
HostResolver = Callable[[str], list[str]]
_LOOKUP_SECONDS = 2.0
_LOOKUPS = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="callback-dns")
_RECENT: dict[str, tuple[float, list[str] | None]] = {}  # host -> (when, addresses or None)


def system_host_addresses(host: str) -> list[str]:
    """The system resolver's addresses for `host`, within _LOOKUP_SECONDS; OSError otherwise.

    The check runs inside (synchronous) argument validation, so the lookup is bounded and its
    answer kept a minute: a start validates its arguments more than once.
    """
    now = time.monotonic()
    when, kept = _RECENT.get(host, (0.0, None))
    if now - when < 60 and host in _RECENT:
        if kept is None:
            raise OSError(f"{host} does not resolve")
        return kept
    lookup = _LOOKUPS.submit(socket.getaddrinfo, host, 443, type=socket.SOCK_STREAM)
    answers: list[str] | None
    try:
        answers = [str(info[4][0]) for info in lookup.result(timeout=_LOOKUP_SECONDS)]
    except (OSError, concurrent.futures.TimeoutError, UnicodeError):
        answers = None
    if len(_RECENT) > 256:
        _RECENT.clear()
    _RECENT[host] = (now, answers)
    if answers is None:
        raise OSError(f"{host} does not resolve")
    return answers


def check_public_https_url(url: str, *, resolver: HostResolver | None = system_host_addresses) -> str:
    """Refuse a callback URL FLORA would refuse, or that would point FLORA at a private network.

    FLORA delivers webhooks to HTTPS hosts only, never to private hosts. The check is on the
    host as a browser would parse it (see normalise_host): scheme https, a host, and a host that
    is not a loopback, private, link-local or otherwise non-global address or name, including
    IPv4 carried inside IPv6 ([::127.0.0.1], [64:ff9b::7f00:1], [2002:7f00:1::]). A name is then
    resolved with `resolver` (None: the written form only) and refused when any answer is not
    public (169.254.169.254.nip.io, a name pointing at 10.0.0.5).
    """
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise ValueError("callback_url must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        raise ValueError("callback_url must be an https:// URL")
    netloc = parts.netloc.rsplit("@", 1)
    if len(netloc) == 2:
        raise ValueError("callback_url must not carry a user name or password")
    raw_host = netloc[0]
    if not raw_host.startswith("["):
        raw_host = raw_host.rsplit(":", 1)[0] if ":" in raw_host else raw_host
    else:
        raw_host = raw_host[: raw_host.find("]") + 1]
    try:
        host = normalise_host(raw_host)
        address = host_address(host) if host else None
    except ValueError as exc:
        raise ValueError(f"callback_url's host is not valid: {exc}") from None
    bare = host.rstrip(".")
    if not bare:
        raise ValueError("callback_url must name a host, e.g. https://hooks.example.com/flora")
    if bare in _LOOPBACK_NAMES or bare.endswith((".localhost", ".local", ".internal")):
        raise ValueError("callback_url must be a public host, not a loopback or local name")
    if address is not None and not is_public(address):
        raise ValueError("callback_url must be a public host, not a loopback, private or link-local address")
    if address is None and resolver is not None and not _resolves_public(bare, resolver):
        raise ValueError("callback_url's host resolves to a loopback, private or link-local address")
    return url


def _resolves_public(host: str, resolver: HostResolver) -> bool:
    """False when any address `host` resolves to is not public.

    A name that does not resolve here passes: FLORA resolves it, not this machine, and a
    flora-mcp without DNS (offline, split-horizon) would otherwise refuse every callback. That
    costs nothing a refusal would buy, since a name can point anywhere later (after this check)
    anyway: the check catches names that point at private networks now, and FLORA's own rule
    ("never to private hosts") stays the one that holds at delivery.
    """
    try:
        answers = resolver(host)
    except OSError:
        return True
    for answer in answers:
        try:
            address = ipaddress.ip_address(answer.split("%", 1)[0])
        except ValueError:
            return False
        if not is_public(address):
            return False
    return True


# What an absolute URI cannot hold unescaped (checked on ASCII text): controls, space, DEL and these.
_NOT_IN_A_URI = re.compile(r'[\x00-\x20\x7f"<>\\^`{|}]')


@functools.lru_cache(maxsize=1024)  # a run's output URLs are checked again on every read of it
def link_url(value: str | None) -> str | None:
    """`value` when it is a valid absolute http(s) URI safe to offer as a link, else None.

    No control characters, spaces or other characters a URI cannot hold unescaped, a host, and
    a form httpx2 can parse: such a URL can neither break a line of text nor smuggle another.
    """
    if not value or len(value) > 8192:
        return None
    if not value.isascii() or _NOT_IN_A_URI.search(value):
        return None
    try:
        parsed = httpx2.URL(value)
    except (httpx2.InvalidURL, TypeError):
        return None
    if parsed.scheme not in DEFAULT_PORTS or not parsed.host:
        return None
    return value


def one_line(value: str, limit: int = 300) -> str:
    """`value` made safe for one line of text: control characters escaped, length bounded."""
    text = value if value.isprintable() else "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in value)
    return text if len(text) <= limit else text[:limit] + "…"

"""Which input media FLORA can load: only from its own hosts, so any other URL is refused before sending.

FLORA's actions and techniques fetch their input media from FLORA's own hosts only (its media
origins and the API's origin); any other URL fails the run after it is billed ("Failed to load
inputs"). The check is pure: the start tools give it the URLs of a start's media inputs and the
origins allowed, and refuse what it finds (`refuse_unloadable`) before consent and booking.

Generation params (image_url and the like) are not checked here: FLORA's generation models fetch
public URLs themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from flora_mcp.api.models import ActionInput, TechniqueInput
from flora_mcp.runs.param_checks import Problem
from flora_mcp.runs.refusals import UnloadableInput

# The technique input types whose value FLORA loads as media.
MEDIA_INPUT_TYPES = frozenset({"imageUrl", "videoUrl", "audioUrl", "documentUrl"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str | None:
    """scheme://host[:port] of `url`, lower-cased, default port left out; None when it has no http(s) origin."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a malformed port or host: no origin FLORA could load from
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    shown = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{parts.hostname.lower()}{shown}"


def allowed_origins(origins: Iterable[str]) -> frozenset[str]:
    """The given origins (or URLs) normalised as `origin` compares them; unparseable ones dropped."""
    return frozenset(o for o in (origin(u) for u in origins) if o is not None)


def technique_media_urls(inputs: Sequence[TechniqueInput]) -> list[tuple[str, str]]:
    """(where, url) for each URL a technique's media inputs carry (a list value gives one per item)."""
    found: list[tuple[str, str]] = []
    for item in inputs:
        if item.type not in MEDIA_INPUT_TYPES:
            continue
        values = item.value if isinstance(item.value, list) else [item.value]
        # A value that is not a string is the catalog check's to word; only URLs are judged here.
        found.extend((f"inputs.{item.id}", value) for value in values if isinstance(value, str))
    return found


def action_media_urls(inputs: Sequence[ActionInput]) -> list[tuple[str, str]]:
    """(where, url) for each of an action's inputs that carries a url."""
    return [(f"inputs.{item.name or item.type}", item.url) for item in inputs if item.url is not None]


def unloadable_inputs(urls: Iterable[tuple[str, str]], allowed: frozenset[str]) -> list[Problem]:
    """One Problem per (where, url) whose origin is not in `allowed` (already normalised by `allowed_origins`)."""
    return [
        Problem(where, f"{url} is not on FLORA's media hosts, and FLORA loads inputs from nowhere else")
        for where, url in urls
        if origin(url) not in allowed
    ]


def refuse_unloadable(tool: str, subject: str, problems: Sequence[Problem], *, workspace_id: str) -> None:
    """Raise `UnloadableInput` naming the fix (upload_asset) when there are problems; nothing was sent."""
    if not problems:
        return
    lines = [
        f'Refused before sending: {subject} would fail in FLORA with "Failed to load inputs" (and the run would '
        "still be billed): FLORA loads input media only from its own hosts. Nothing was sent to FLORA."
    ]
    lines.extend(str(p) for p in problems)
    lines.append("Start outcome: not started. Nothing was charged.")
    lines.append(
        f"Next step: upload each such file first: upload_asset(workspace_id={workspace_id}, url=<that url>) and pass "
        f"the url it answers instead, then call {tool} again. Run outputs' URLs can be passed as they are."
    )
    raise UnloadableInput("\n".join(lines))

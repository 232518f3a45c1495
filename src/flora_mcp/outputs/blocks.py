"""Run outputs as MCP content blocks: media as resource links, text between fences.

Every answer about a finished run shows its outputs this way (server/results.py), and the
output service names files and previews with the same MIME types (service.py).
"""

from __future__ import annotations

import mimetypes
from urllib.parse import urlsplit

from mcp_types import ContentBlock, ResourceLink, TextContent

from flora_mcp.api.models import RunOutput
from flora_mcp.api.urls import link_url
from flora_mcp.untrusted import one_line, text_block

_FALLBACK_MIME = {
    "imageUrl": "image/png",
    "videoUrl": "video/mp4",
    "audioUrl": "audio/mpeg",
    "documentUrl": "application/pdf",
}


def mime_type_for(output: RunOutput) -> str:
    """The MIME type of a media output: from its URL's extension when that fits its type."""
    guessed, _ = mimetypes.guess_type(urlsplit(output.url or "").path)
    fallback = _FALLBACK_MIME.get(output.type)
    # A guess must be of the output's family (the fallback's top-level type, e.g. "image").
    if guessed and (fallback is None or guessed.startswith(fallback.split("/")[0])):
        return guessed
    return fallback or "application/octet-stream"


def _title(output: RunOutput) -> str:
    family = output.type[:-3] if output.type.endswith("Url") and len(output.type) > 3 else output.type
    return f"{one_line(family, 40)} output {one_line(output.output_id, 80)}"


def output_blocks(outputs: list[RunOutput] | None) -> list[ContentBlock]:
    """Media outputs as resource links, text outputs as fenced text.

    A text output is kept exactly, between code fences longer than any backtick run in it, so
    none of its lines can pass for ours. Only a valid absolute http(s) URI becomes a link
    (whatever the output's type, a type FLORA added included); anything else is quoted on one
    line, control characters escaped, so a URL holding CR/LF can neither pass as a link nor
    write a line of its own into the text.
    """
    blocks: list[ContentBlock] = []
    for output in outputs or []:
        name = one_line(output.output_id, 80)
        if output.type == "text":
            text = f"Output {name} (text, FLORA's words between the fences):\n{text_block(output.url or '')}"
            blocks.append(TextContent(type="text", text=text))
            continue
        link = link_url(output.url)
        if link is None:
            shown = "no URL given" if not output.url else f"not a usable URL: {one_line(output.url)}"
            blocks.append(TextContent(type="text", text=f"Output {name} ({one_line(output.type, 40)}): {shown}"))
            continue
        blocks.append(
            ResourceLink(
                type="resource_link", uri=link, name=name, title=_title(output), mime_type=mime_type_for(output)
            )
        )
    return blocks

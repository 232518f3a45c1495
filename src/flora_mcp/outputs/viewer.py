"""The run viewer: an MCP App (`ui://flora-mcp/run-viewer.html`) that shows a run and follows it.

wait_for_run, get_run and get_technique_run point `_meta.ui.resourceUri` at it. A host that
renders MCP Apps shows the page with the tool's result; the page shows the status, progress,
outputs (images, a video player, an audio player, text) and cost, and while the run is going
asks the host to call wait_for_run again. The page is one self-contained file (viewer.html,
no CDN); its CSP, declared in the resource's `_meta.ui.csp` and in the page itself, allows
media only from FLORA's media origins (FLORA_MEDIA_ORIGINS; the sandbox's own origin in
sandbox mode). Hosts without apps support ignore all this and show the same text and
structured result as before.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Any

from mcp.server.apps import Apps, ResourceCsp
from mcp.server.mcpserver.resources import TextResource
from mcp.server.mcpserver.tools import Tool

VIEWER_URI = "ui://flora-mcp/run-viewer.html"
VIEWER_TOOLS = frozenset({"wait_for_run", "get_run", "get_technique_run"})


def viewer_html(media_origins: list[str]) -> str:
    """The page, with its CSP allowing media from `media_origins` only."""
    template = resources.files("flora_mcp.outputs").joinpath("viewer.html").read_text(encoding="utf-8")
    sources = " ".join(html.escape(origin, quote=True) for origin in media_origins) or "'none'"
    return template.replace("__MEDIA_ORIGINS__", sources)


def _meta(media_origins: list[str]) -> dict[str, Any]:
    csp = ResourceCsp(resource_domains=list(media_origins), connect_domains=[])
    return {"ui": {"csp": csp.model_dump(by_alias=True, exclude_none=True), "prefersBorder": True}}


class RunViewer:
    """The Apps extension carrying the viewer resource, and the one place its CSP is set."""

    def __init__(self, media_origins: list[str]) -> None:
        self.apps = Apps()
        self.apps.add_html_resource(
            VIEWER_URI,
            viewer_html(media_origins),
            name="run-viewer",
            title="FLORA run viewer",
            description="Shows a FLORA run's status, progress, outputs and cost, and follows it to the end.",
        )
        self.resource = self.apps.resources()[0].resource
        self.set_media_origins(media_origins)

    def set_media_origins(self, media_origins: list[str]) -> None:
        """Allow media from these origins (the lifespan calls it once the sandbox's origin is known)."""
        assert isinstance(self.resource, TextResource)
        self.resource.text = viewer_html(media_origins)
        self.resource.meta = _meta(media_origins)

    @staticmethod
    def bind(tools: list[Tool]) -> list[Tool]:
        """`tools`, with the run-reading ones pointing `_meta.ui.resourceUri` at the viewer."""
        for tool in tools:
            if tool.name in VIEWER_TOOLS:
                tool.meta = {**(tool.meta or {}), "ui": {"resourceUri": VIEWER_URI}}
        return tools

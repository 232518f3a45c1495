"""`flora-mcp demo`: a narrated session of a real MCP client with `flora-mcp --sandbox` over stdio.

It starts the server as a subprocess exactly as an MCP host would, and shows what an agent
sees: the tool list, ids found, a generation started and waited for with live progress, its
output's preview and saved file (in a temporary folder), its URLs (fetched, to show they are
real), a technique run, and a bad input refused before anything is sent. No key and no network beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import io
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

import httpx2
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult, ImageContent, ResourceLink, TextContent
from PIL import Image

# Quicker than life (an image in ~1.5 s, a technique in ~5 s) but slow enough to show progress.
DEMO_TIME_SCALE = "0.25"


def _text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _call_line(name: str, arguments: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    return f"  > {name}({shown})"


class _Narrator:
    def __init__(self, client: Client, out: TextIO) -> None:
        self.client = client
        self.out = out

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def section(self, title: str) -> None:
        self.say()
        self.say(f"== {title}")

    async def call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        self.say(_call_line(name, arguments))

        async def show_progress(progress: float, total: float | None, message: str | None) -> None:
            self.say(f"    [progress {progress:5.1f}/{total or 100:g}] {message or ''}")

        result = await self.client.call_tool(name, arguments, progress_callback=show_progress)
        marker = "refused (isError)" if result.is_error else "ok"
        self.say(f"  < {marker}:")
        self.say(_indent(_text(result)))
        return result


async def run_demo(out: TextIO, *, time_scale: str = DEMO_TIME_SCALE) -> None:
    """Run the narrated session, writing it to `out` (`time_scale` sets the sandbox's pace)."""
    with tempfile.TemporaryDirectory(prefix="flora-demo-") as folder:
        await _session(out, time_scale, Path(folder))


async def _session(out: TextIO, time_scale: str, output_dir: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "flora_mcp", "--sandbox", "--output-dir", str(output_dir)],
        env={"FLORA_SANDBOX_TIME_SCALE": time_scale, "FLORA_LOG_LEVEL": "WARNING"},
    )
    out.write(f"Starting `{sys.executable} -m flora_mcp --sandbox` and connecting an MCP client over stdio...\n")
    async with Client(params) as client:
        n = _Narrator(client, out)
        info = client.server_info
        n.say(f"Connected to {info.name if info else 'flora-mcp'} {info.version if info else ''}".rstrip())
        n.say(f"Protocol version: {client.protocol_version}")

        n.section("The tools an agent sees")
        for tool in (await client.list_tools()).tools:
            hints = tool.annotations
            kind = "read-only" if hints and hints.read_only_hint else "paid start"
            n.say(f"  {tool.name:<22} {tool.title or '':<30} [{kind}]")

        n.section("Finding the ids a start needs")
        workspaces = await n.call("list_workspaces", {})
        workspace_id = (workspaces.structured_content or {})["workspaces"][0]["workspace_id"]
        projects = await n.call("list_projects", {"workspace_id": workspace_id})
        project_id = (projects.structured_content or {})["projects"][0]["project_id"]

        n.section("Starting an image generation (a paid start)")
        started = await n.call(
            "start_generation_run",
            {
                "workspace_id": workspace_id,
                "project_id": project_id,
                "prompt": "A cinematic product photo of a ceramic mug on a sunlit table",
                "type": "image",
                "params": {"aspect_ratio": "16:9"},
            },
        )
        follow = (started.structured_content or {})["next"]

        n.section("Waiting for it, with live progress notifications")
        finished = await n.call(follow["tool"], follow["arguments"])

        n.section("What came back besides the text: a preview the model can look at, and a saved file")
        for image in (block for block in finished.content if isinstance(block, ImageContent)):
            raw = base64.b64decode(image.data)
            width, height = Image.open(io.BytesIO(raw)).size
            n.say(f"  image block: {image.mime_type}, {width}x{height}, {len(raw):,} bytes (the model sees it)")
        for saved in (finished.structured_content or {}).get("saved_files") or []:
            n.say(
                f"  saved {saved['output_id']} to {saved['path']} ({saved['bytes']:,} bytes; a temporary folder here)"
            )

        n.section("Its output URLs")
        links = [
            block for block in finished.content if isinstance(block, ResourceLink) and str(block.uri).startswith("http")
        ]
        async with httpx2.AsyncClient(trust_env=False) as http:
            for link in links:
                answer = await http.get(str(link.uri))
                n.say(f"  {link.uri}")
                n.say(
                    f"    resource_link, {link.mime_type}; fetched: HTTP {answer.status_code}, "
                    f"{len(answer.content)} bytes of {answer.headers.get('content-type', '?')}"
                )

        n.section("A technique run: poster-maker")
        await n.call("get_technique", {"technique_id": "poster-maker"})
        technique = await n.call(
            "start_technique_run",
            {
                "technique_id": "tech_sandboxposter",
                "workspace_id": workspace_id,
                "inputs": [
                    {"id": "subject", "type": "text", "value": "a lighthouse in a storm"},
                    {"id": "style", "type": "text", "value": "risograph"},
                ],
            },
        )
        follow = (technique.structured_content or {})["next"]
        await n.call(follow["tool"], follow["arguments"])

        n.section("A bad input, refused before anything is sent (nothing is charged)")
        await n.call(
            "start_generation_run",
            {"workspace_id": workspace_id, "project_id": project_id, "prompt": "a mug", "type": "t2i"},
        )
        n.say()
        n.say("Done. Point your MCP host at `flora-mcp` (with FLORA_API_KEY set) to do this for real.")

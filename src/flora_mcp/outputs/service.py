"""What a run's answer adds for its outputs: previews, saved files, and who may read them later.

`OutputService` is built once per server (the lifespan) and held on AppState. `present` is
called with every run answer (get_run, get_technique_run, wait_for_run): it records the run as
the caller's (for resources), and for a completed run fetches each output at most once to
make a preview and save a file, as configured. The previews made are kept (the latest
KEPT_PREVIEWS), so reading a finished run again costs no download and no decoding. Nothing here
fails the tool: an output that cannot be fetched, previewed or saved keeps its link and gets
one line saying why.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from mcp_types import ContentBlock, ResourceLink

from flora_mcp.api.models import RunOutput
from flora_mcp.outputs import previews
from flora_mcp.outputs.fetch import Fetched, FetchError, fetch_output
from flora_mcp.outputs.index import KnownRun, RunIndex
from flora_mcp.outputs.saving import SavedFile, save_output
from flora_mcp.server.results import RunResult, mime_type_for, output_blocks

logger = logging.getLogger("flora_mcp.outputs")

FETCH_TIMEOUT_SECONDS = 15.0
_PREVIEWED = ("imageUrl", "videoUrl")
# Previews kept for repeated reads: each is at most previews.MAX_PREVIEW_BYTES (a third more as
# base64), so the cache stays within a few MiB. Agents reread the runs they just finished.
KEPT_PREVIEWS = 16
_Key = tuple[str, str, str | None]  # run_id, output_id, url


@dataclass
class Presented:
    """What `present` adds to a run answer: content blocks, text lines and saved files."""

    blocks: list[ContentBlock]
    lines: list[str] = field(default_factory=list)
    files: list[SavedFile] = field(default_factory=list)
    previews: list[previews.Preview] = field(default_factory=list)


@dataclass
class OutputService:
    """Fetching, previewing, saving and indexing run outputs for one server (see module docstring)."""

    http: httpx2.AsyncClient  # never carries the FLORA key: media URLs are public (FLORA's docs)
    index: RunIndex
    trusted_origin: str | None  # FLORA_BASE_URL's origin, the one non-public origin allowed
    previews_on: bool = True
    output_dir: Path | None = None
    max_bytes: int = 20 * 1024 * 1024
    fetch_timeout: float = FETCH_TIMEOUT_SECONDS
    _saved: dict[tuple[str, str], SavedFile] = field(default_factory=dict)
    # (run_id, output_id, url) -> the preview made, or the one-line reason none could be.
    _previews: OrderedDict[_Key, previews.Preview | str] = field(default_factory=OrderedDict)

    async def fetch(self, url: str, *, max_bytes: int | None = None) -> Fetched:
        return await fetch_output(
            self.http,
            url,
            trusted_origin=self.trusted_origin,
            max_bytes=max_bytes or self.max_bytes,
            within_seconds=self.fetch_timeout,
        )

    async def present(self, caller: str, result: RunResult) -> Presented:
        """The extras of `result`'s answer for `caller`; see the module docstring."""
        outputs = result.outputs or []
        await self.index.record(caller, KnownRun(result.run_id, result.technique_id, result.status, tuple(outputs)))
        shown = Presented(blocks=list(output_blocks(outputs)))
        if result.status != "completed" or not outputs:
            return shown
        budget = previews.PreviewBudget()
        for output in outputs:
            await self._one(result.run_id, output, budget, shown)
        return shown

    async def _one(self, run_id: str, output: RunOutput, budget: previews.PreviewBudget, shown: Presented) -> None:
        wants_preview = self.previews_on and output.type in _PREVIEWED
        wants_file = self.output_dir is not None and (run_id, output.output_id) not in self._saved
        if (run_id, output.output_id) in self._saved:
            self._show_saved(self._saved[(run_id, output.output_id)], shown)
        if output.url is None:
            return  # FLORA listed the output without its URL (or text): nothing to show or save
        if output.type == "text":
            if wants_file:
                self._save(run_id, output, output.url.encode("utf-8"), "text/plain", shown)
            return
        if wants_preview and output.type == "videoUrl" and not previews.video_available():
            # Without the extra there is nothing to make, so nothing to fetch for it.
            shown.lines.append(f"No preview of {output.output_id}: video previews need pip install 'flora-mcp[video]'.")
            wants_preview = False
        refusal = budget.refusal() if wants_preview else None
        if refusal:
            shown.lines.append(f"No preview of {output.output_id}: {refusal}.")
            wants_preview = False
        key = (run_id, output.output_id, output.url)
        if wants_preview and self._show_kept(key, output, budget, shown):
            wants_preview = False
        if not (wants_preview or wants_file):
            return
        try:
            fetched = await self.fetch(output.url)
        except FetchError as exc:
            shown.lines.append(f"No preview or file for {output.output_id}: {exc}.")
            return
        if wants_file:
            self._save(run_id, output, fetched.content, mime_type_for(output), shown)
        if wants_preview:
            await self._preview(key, output, fetched.content, budget, shown)

    def _show_kept(self, key: _Key, output: RunOutput, budget: previews.PreviewBudget, shown: Presented) -> bool:
        """Show the preview (or reason) kept from an earlier read; False when there is none that fits."""
        kept = self._previews.get(key)
        if kept is None or (isinstance(kept, previews.Preview) and kept.size > budget.cap()):
            return False
        self._previews.move_to_end(key)
        if isinstance(kept, str):
            shown.lines.append(f"No preview of {output.output_id}: {kept}.")
        else:
            self._attach(output, kept, budget, shown)
        return True

    def _keep(self, key: _Key, made: previews.Preview | str) -> None:
        self._previews[key] = made
        self._previews.move_to_end(key)
        while len(self._previews) > KEPT_PREVIEWS:
            self._previews.popitem(last=False)

    async def _preview(
        self,
        key: _Key,
        output: RunOutput,
        data: bytes,
        budget: previews.PreviewBudget,
        shown: Presented,
    ) -> None:
        make = previews.image_preview if output.type == "imageUrl" else previews.contact_sheet
        try:
            preview = await make(data, max_bytes=budget.cap())
        except previews.PreviewError as exc:
            # The same bytes would fail the same way: kept, so a reread does not download them again.
            self._keep(key, str(exc))
            shown.lines.append(f"No preview of {output.output_id}: {exc}.")
            return
        self._keep(key, preview)
        self._attach(output, preview, budget, shown)

    @staticmethod
    def _attach(output: RunOutput, preview: previews.Preview, budget: previews.PreviewBudget, shown: Presented) -> None:
        budget.spend(preview)
        what = "preview" if output.type == "imageUrl" else "contact sheet"
        shown.lines.append(f"A {what} of {output.output_id} is attached ({preview.describe()}).")
        shown.blocks.append(preview.block)
        shown.previews.append(preview)

    def _save(self, run_id: str, output: RunOutput, data: bytes, mime_type: str, shown: Presented) -> None:
        assert self.output_dir is not None
        try:
            saved = save_output(self.output_dir, run_id, output.output_id, data, mime_type, output.url)
        except OSError as exc:
            logger.warning("could not save an output", extra={"run_id": run_id, "error": repr(exc)})
            shown.lines.append(f"{output.output_id} was not saved: {exc.strerror or exc}.")
            return
        self._saved[(run_id, output.output_id)] = saved
        self._show_saved(saved, shown)

    @staticmethod
    def _show_saved(saved: SavedFile, shown: Presented) -> None:
        shown.files.append(saved)
        shown.lines.append(f"Saved {saved.output_id} to {saved.path} ({saved.bytes:,} bytes).")
        shown.blocks.append(
            ResourceLink(
                type="resource_link",
                uri=saved.uri,
                name=Path(saved.path).name,
                title=f"saved file of {saved.output_id}",
                mime_type=saved.mime_type,
                size=saved.bytes,
            )
        )

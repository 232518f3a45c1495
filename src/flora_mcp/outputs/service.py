"""What a run's answer adds for its outputs: previews, saved files, and who may read them later.

`OutputService` is built once per server (the lifespan) and held on AppState. `present` is
called with every run answer (get_run, get_technique_run, wait_for_run): it records the run as
the caller's (for resources), and for a completed run fetches each output at most once to
make a preview and save a file, as configured. The previews made are kept (the latest
KEPT_PREVIEWS), so reading a finished run again costs no download and no decoding. Nothing here
fails the tool: an output that cannot be fetched, previewed or saved keeps its link and gets
one line saying why.

Downloads share the caller's time: the outputs are fetched side by side (FETCHES_AT_ONCE) and
all of them within `within_seconds` (what is left of a wait's budget; PRESENT_SECONDS when the
tool has none), so slow media never holds an answer past the time the agent asked for. A
download that failed or ran out of time is remembered per URL for FAILURE_MEMORY_SECONDS, and
reads in that time say so instead of trying again.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
from mcp_types import ContentBlock, ResourceLink

from flora_mcp.api.models import RunOutput
from flora_mcp.outputs import previews
from flora_mcp.outputs.blocks import mime_type_for, output_blocks
from flora_mcp.outputs.fetch import Fetched, FetchError, Resolver, fetch_output, system_resolver
from flora_mcp.outputs.index import KnownRun, RunIndex
from flora_mcp.outputs.saving import SavedFile, save_output

logger = logging.getLogger("flora_mcp.outputs")

FETCH_TIMEOUT_SECONDS = 15.0
PRESENT_SECONDS = 10.0  # all downloads of one answer, when the tool gives no budget (get_run)
MIN_PRESENT_SECONDS = 1.0  # a wait that ends on its budget still gets this for its downloads
FETCHES_AT_ONCE = 4
FAILURE_MEMORY_SECONDS = 60.0
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
    resolve: Resolver = system_resolver  # what output hosts resolve to (injectable: tests have no DNS)
    _saved: dict[tuple[str, str], SavedFile] = field(default_factory=dict)
    # (run_id, output_id, url) -> the preview made, or the one-line reason none could be.
    _previews: OrderedDict[_Key, previews.Preview | str] = field(default_factory=OrderedDict)
    # output URL -> (when it may be tried again, anyio clock; why its download failed)
    _failed: dict[str, tuple[float, str]] = field(default_factory=dict)

    async def fetch(self, url: str, *, max_bytes: int | None = None, within_seconds: float | None = None) -> Fetched:
        """One output's bytes within `within_seconds` (at most fetch_timeout); FetchError otherwise."""
        seconds = self.fetch_timeout if within_seconds is None else min(within_seconds, self.fetch_timeout)
        return await fetch_output(
            self.http,
            url,
            trusted_origin=self.trusted_origin,
            max_bytes=max_bytes or self.max_bytes,
            within_seconds=seconds,
            resolve=self.resolve,
        )

    async def present(self, caller: str, run: KnownRun, *, within_seconds: float | None = None) -> Presented:
        """The extras of the answer about `run` for `caller`, all downloads within `within_seconds`.

        `within_seconds` is what the tool has left of its own budget; None means no budget
        (PRESENT_SECONDS). See the module docstring.
        """
        outputs = list(run.outputs)
        await self.index.record(caller, run)
        shown = Presented(blocks=list(output_blocks(outputs)))
        if run.status != "completed" or not outputs:
            return shown
        seconds = PRESENT_SECONDS if within_seconds is None else max(within_seconds, MIN_PRESENT_SECONDS)
        deadline = anyio.current_time() + min(seconds, self.fetch_timeout)
        fetched = await self._fetch_all(self._wanted(run.run_id, outputs), deadline)
        budget = previews.PreviewBudget()
        for output in outputs:
            await self._one(run.run_id, output, budget, shown, fetched, deadline)
        return shown

    def _wanted(self, run_id: str, outputs: list[RunOutput]) -> list[str]:
        """The URLs whose bytes this answer needs: for a file not saved yet, or a preview not kept
        (of the first MAX_PREVIEWS previewable outputs only: no more are shown anyway)."""
        wanted: list[str] = []
        previewable = 0
        for output in outputs:
            if output.url is None or output.type == "text" or output.url in wanted:
                continue
            wants_file = self.output_dir is not None and (run_id, output.output_id) not in self._saved
            wants_preview = self.previews_on and output.type in _PREVIEWED
            if wants_preview and output.type == "videoUrl" and not previews.video_available():
                wants_preview = False
            if wants_preview:
                previewable += 1
                kept = (run_id, output.output_id, output.url) in self._previews
                wants_preview = not kept and previewable <= previews.MAX_PREVIEWS
            if (wants_file or wants_preview) and self._failure(output.url) is None:
                wanted.append(output.url)
        return wanted

    async def _fetch_all(self, urls: list[str], deadline: float) -> dict[str, Fetched | str]:
        """Each URL's bytes, or why there are none, all by `deadline` (FETCHES_AT_ONCE at a time)."""
        got: dict[str, Fetched | str] = {}
        limiter = anyio.CapacityLimiter(FETCHES_AT_ONCE)

        async def one(url: str) -> None:
            async with limiter:
                left = deadline - anyio.current_time()
                if left <= 0:
                    got[url] = "the answer's time ran out before its download began; read the run again"
                    return
                try:
                    got[url] = await self.fetch(url, within_seconds=left)
                except FetchError as exc:
                    got[url] = str(exc)
                    self._remember_failure(url, str(exc))

        async with anyio.create_task_group() as group:
            for url in urls:
                group.start_soon(one, url)
        return got

    def _remember_failure(self, url: str, reason: str) -> None:
        now = anyio.current_time()
        if len(self._failed) >= 256:  # bounded: forget what has expired, else the oldest
            self._failed = {u: f for u, f in self._failed.items() if f[0] > now} or self._failed
            while len(self._failed) >= 256:
                del self._failed[next(iter(self._failed))]
        self._failed[url] = (now + FAILURE_MEMORY_SECONDS, reason)

    def _failure(self, url: str) -> str | None:
        """Why `url`'s download failed a short while ago (it is not tried again yet), else None."""
        remembered = self._failed.get(url)
        if remembered is None:
            return None
        until, reason = remembered
        left = until - anyio.current_time()
        if left <= 0:
            del self._failed[url]
            return None
        return f"{reason} (not tried again for {left:.0f} s; the link works meanwhile)"

    async def _one(
        self,
        run_id: str,
        output: RunOutput,
        budget: previews.PreviewBudget,
        shown: Presented,
        got: dict[str, Fetched | str],
        deadline: float,
    ) -> None:
        wants_preview = self.previews_on and output.type in _PREVIEWED
        wants_file = self.output_dir is not None and (run_id, output.output_id) not in self._saved
        if (run_id, output.output_id) in self._saved:
            self._show_saved(self._saved[(run_id, output.output_id)], shown)
        if output.url is None:
            return  # FLORA listed the output without its URL (or text): nothing to show or save
        if output.type == "text":
            if wants_file:
                await self._save(run_id, output, output.url.encode("utf-8"), "text/plain", shown)
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
        # Not fetched and no failure remembered: _wanted skipped it, past what one answer shows.
        fetched = got.get(output.url) or self._failure(output.url)
        if fetched is None:
            shown.lines.append(
                f"No preview of {output.output_id}: one answer shows {previews.MAX_PREVIEWS} previews "
                f"({previews.MAX_TOTAL_BYTES // 1000} KB) at most."
            )
            return
        if isinstance(fetched, str):
            shown.lines.append(f"No preview or file for {output.output_id} yet: {fetched}.")
            return
        if wants_file:
            await self._save(run_id, output, fetched.content, mime_type_for(output), shown)
        if wants_preview:
            await self._preview(key, output, fetched.content, budget, shown, deadline)

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
        deadline: float,
    ) -> None:
        make = previews.image_preview if output.type == "imageUrl" else previews.contact_sheet
        try:
            # Waiting for a decode slot ends with the answer's time (a decode under way finishes).
            with anyio.fail_after(max(deadline - anyio.current_time(), 0.0)):
                preview = await make(data, max_bytes=budget.cap())
        except TimeoutError:
            shown.lines.append(f"No preview of {output.output_id} yet: other previews were being made; read again.")
            return
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

    async def _save(self, run_id: str, output: RunOutput, data: bytes, mime_type: str, shown: Presented) -> None:
        directory = self.output_dir
        assert directory is not None
        try:
            # Disk work (a write, an fsync) in a thread: a slow disk must not stall other calls.
            saved = await anyio.to_thread.run_sync(
                lambda: save_output(directory, run_id, output.output_id, data, mime_type, output.url)
            )
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

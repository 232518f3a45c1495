"""An automated creative pipeline: a list of prompts in, FLORA runs out, a manifest of outputs.

It talks to FLORA only through flora-mcp's tools, exactly as an agent would: it finds a
workspace and project (list_workspaces, list_projects), starts one generation per prompt
(start_generation_run), follows each run to its end (wait_for_run, printing progress), and
writes a JSON manifest: run id, status, cost and output URLs of every prompt.

    python examples/pipeline.py                         # examples/prompts.csv, local sandbox, no key
    FLORA_API_KEY=... python examples/pipeline.py --server-cmd flora-mcp --concurrency 2

Prompts come from a CSV (columns name, type, prompt, optional model; every further non-empty
column is a model parameter, e.g. aspect_ratio or duration) or from a JSON list of objects
{name, type, prompt, model?, params?}.

Starts cost money, so three things are deliberate. At most --concurrency runs are in flight
at once. The manifest is rewritten after every start and every end, so an interrupted pipeline
leaves its run ids behind, and `--resume` picks the batch up: finished runs are kept,
unfinished ones followed, the rest started. And every start carries an idempotency key made of
the batch id and the prompt's name, so even a start whose answer was lost in the crash is not
run (or charged) twice: FLORA answers that it was accepted earlier, and the manifest says so.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shlex
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio
from mcp import Client, StdioServerParameters
from mcp.shared.dispatcher import ProgressFnT
from mcp.types import CallToolResult, TextContent

HERE = Path(__file__).resolve().parent
DEFAULT_PROMPTS = HERE / "prompts.csv"
TERMINAL = frozenset({"completed", "failed"})
# wait_for_run keeps each call under the common 60 s client timeout; the pipeline calls it again
# until the run ends or the job's own budget (--max-wait) is spent.
WAIT_SLICE_SECONDS = 50.0
# FLORA errors after which starting more runs can only fail the same way (or cost money the
# user has not got): the pipeline stops starting new prompts and reports them as skipped.
STOP_CODES = ("unauthorized", "invalid_api_key", "insufficient_credits", "forbidden")
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]+")


class ToolCaller(Protocol):
    """The one thing the pipeline needs from an MCP client (mcp.Client satisfies it)."""

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        read_timeout_seconds: float | None = None,
        progress_callback: ProgressFnT | None = None,
    ) -> CallToolResult: ...


@dataclass(frozen=True)
class Job:
    """One prompt to generate."""

    name: str
    type: str
    prompt: str
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What became of one prompt: the manifest's entry for it."""

    name: str
    type: str
    prompt: str
    status: str = "not_started"
    run_id: str | None = None
    idempotency_key: str | None = None
    cost_usd: float | None = None
    cost_is_quote: bool = True
    outputs: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


class PipelineError(Exception):
    """The pipeline cannot run at all (no prompts, no workspace, ...)."""


# --- reading prompts ---------------------------------------------------------------------------
def read_jobs(path: Path) -> list[Job]:
    """Jobs from a CSV or JSON file; names must be unique (they make the idempotency keys)."""
    if path.suffix.lower() == ".json":
        rows = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(rows, list):
            raise PipelineError(f"{path}: expected a JSON list of prompts")
        jobs = [_job_from_mapping(row, params=dict(row.get("params") or {})) for row in rows]
    else:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            jobs = []
            for row in reader:
                extra = {k: _parse_value(v) for k, v in row.items() if k not in _JOB_COLUMNS and k and v}
                jobs.append(_job_from_mapping(row, params=extra))
    # Compared as they appear in the keys, where "a b" and "a-b" would be the same prompt.
    names = [_KEY_UNSAFE.sub("-", job.name) for job in jobs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PipelineError(f"{path}: prompt names must be unique, repeated: {', '.join(duplicates)}")
    if not jobs:
        raise PipelineError(f"{path}: no prompts")
    return jobs


_JOB_COLUMNS = frozenset({"name", "type", "prompt", "model"})


def _job_from_mapping(row: dict[str, Any], *, params: dict[str, Any]) -> Job:
    missing = [column for column in ("name", "type", "prompt") if not (row.get(column) or "").strip()]
    if missing:
        raise PipelineError(f"prompt {row!r} lacks {', '.join(missing)}")
    return Job(
        name=row["name"].strip(),
        type=row["type"].strip(),
        prompt=row["prompt"].strip(),
        model=(row.get("model") or "").strip() or None,
        params=params,
    )


def _parse_value(text: str) -> Any:
    """CSV cells are text; a parameter like duration must reach FLORA as a number."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def idempotency_key(batch_id: str, job: Job) -> str:
    """The same batch and prompt name always give the same key, so a rerun never charges twice."""
    return _KEY_UNSAFE.sub("-", f"pipeline:{batch_id}:{job.name}")[:255]


# --- talking to the server ---------------------------------------------------------------------
class ToolFailed(Exception):
    """A tool answered isError; the text is the server's explanation (code, message, next step)."""


async def call(
    client: ToolCaller, name: str, arguments: dict[str, Any], progress_callback: ProgressFnT | None = None
) -> dict[str, Any]:
    """Call a tool and return its structured answer; a tool error becomes ToolFailed."""
    result = await client.call_tool(name, arguments, progress_callback=progress_callback)
    text = " ".join(item.text for item in result.content if isinstance(item, TextContent))
    if result.is_error:
        raise ToolFailed(text or f"{name} failed")
    if result.structured_content is None:
        raise ToolFailed(f"{name} returned no structured content: {text[:200]}")
    return dict(result.structured_content)


async def find_ids(client: ToolCaller, workspace_id: str | None, project_id: str | None) -> tuple[str, str]:
    """The workspace and project to generate in: the given ones, else the first the key can see."""
    if workspace_id is None:
        workspaces = (await call(client, "list_workspaces", {})).get("workspaces") or []
        if not workspaces:
            raise PipelineError("this API key sees no workspace")
        workspace_id = str(workspaces[0]["workspace_id"])
    if project_id is None:
        projects = (await call(client, "list_projects", {"workspace_id": workspace_id})).get("projects") or []
        if not projects:
            raise PipelineError(f"workspace {workspace_id} has no project: create one in FLORA, or pass --project-id")
        project_id = str(projects[0]["project_id"])
    return workspace_id, project_id


Report = Callable[[str], None]


async def run_job(
    client: ToolCaller,
    job: Job,
    outcome: Outcome,
    *,
    workspace_id: str,
    project_id: str,
    batch_id: str,
    max_wait: float,
    report: Report,
    checkpoint: Callable[[], None],
) -> None:
    """Start one prompt's run (unless resuming it) and follow it to its end or max_wait; fills `outcome`."""
    if outcome.run_id is None:
        await start_job(client, job, outcome, workspace_id=workspace_id, project_id=project_id, batch_id=batch_id)
        if outcome.run_id is None:
            report(f"[{job.name}] accepted earlier with key {outcome.idempotency_key}")
            return
        report(f"[{job.name}] started {outcome.run_id} (quote {_money(outcome.cost_usd)})")
        checkpoint()
    else:
        # An earlier pass's note ("still running after ...") says nothing about this pass.
        outcome.error = None
        report(f"[{job.name}] resuming {outcome.run_id} ({outcome.status})")

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        share = f"{progress / total:.0%}" if total else f"{progress:g}"
        report(f"[{job.name}] {message or share}")

    with anyio.move_on_after(max_wait):
        while outcome.status not in TERMINAL:
            state = await call(
                client,
                "wait_for_run",
                {"run_id": outcome.run_id, "timeout_seconds": WAIT_SLICE_SECONDS},
                progress_callback=on_progress,
            )
            _record_state(outcome, state)
    if outcome.status not in TERMINAL:
        outcome.error = f"still {outcome.status} after {max_wait:g} s; follow it with get_run {outcome.run_id}"
    report(f"[{job.name}] {outcome.status}" + (f": {outcome.error}" if outcome.error else ""))


async def start_job(
    client: ToolCaller, job: Job, outcome: Outcome, *, workspace_id: str, project_id: str, batch_id: str
) -> None:
    """Start one prompt's generation; sets run_id (also for a start the server already had under this
    key: a rerun answers with that run), or status accepted_earlier when its run is not known yet."""
    arguments: dict[str, Any] = {
        "workspace_id": workspace_id,
        "project_id": project_id,
        "prompt": job.prompt,
        "type": job.type,
        "idempotency_key": idempotency_key(batch_id, job),
    }
    if job.model:
        arguments["model"] = job.model
    if job.params:
        arguments["params"] = job.params
    outcome.idempotency_key = arguments["idempotency_key"]

    started = await call(client, "start_generation_run", arguments)
    run_id = started.get("run_id")
    if started.get("outcome") == "accepted_earlier" or not run_id:
        # FLORA accepted this key before but the run could not be identified yet: the run exists
        # and is charged. Never start it again.
        outcome.status = "accepted_earlier"
        outcome.error = "FLORA accepted this start earlier (same idempotency key); find the run in FLORA"
        return
    outcome.run_id = str(run_id)
    outcome.status = str(started.get("status") or "pending")
    _record_cost(outcome, started.get("quote_usd"), final=False)


def _record_state(outcome: Outcome, state: dict[str, Any]) -> None:
    outcome.status = str(state.get("status") or outcome.status)
    if outcome.status in TERMINAL:
        _record_cost(outcome, state.get("charged_cost"), final=True)
    outputs = state.get("outputs") or []
    # With the server's --output-dir (FLORA_OUTPUT_DIR), each output also names the file it was saved to.
    saved = {str(f.get("output_id")): str(f.get("path")) for f in state.get("saved_files") or []}
    outcome.outputs = []
    for o in outputs:
        entry = {"type": str(o.get("type")), ("text" if o.get("type") == "text" else "url"): str(o.get("url"))}
        if str(o.get("output_id")) in saved:
            entry["saved_path"] = saved[str(o.get("output_id"))]
        outcome.outputs.append(entry)
    if outcome.status == "failed":
        outcome.error = f"{state.get('error_code') or 'failed'}: {state.get('error_message') or ''}".rstrip(": ")


def _record_cost(outcome: Outcome, cost: Any, *, final: bool) -> None:
    if isinstance(cost, int | float):
        outcome.cost_usd = float(cost)
        outcome.cost_is_quote = not final


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.2f}"


async def run_pipeline(
    client: ToolCaller,
    jobs: Sequence[Job],
    *,
    concurrency: int = 3,
    workspace_id: str | None = None,
    project_id: str | None = None,
    batch_id: str | None = None,
    max_wait: float = 900.0,
    previous: dict[str, Any] | None = None,
    report: Report = lambda line: None,
    checkpoint: Callable[[dict[str, Any]], None] = lambda manifest: None,
) -> dict[str, Any]:
    """Run every job with at most `concurrency` in flight; return the manifest (a JSON-able dict).

    `previous` is an earlier manifest of the same batch to resume: its finished runs are kept,
    its unfinished ones are followed rather than started again, the rest start with the batch's
    keys. `checkpoint` receives the manifest after every start and every end, so an interrupted
    pipeline leaves the run ids it had behind.
    """
    if previous is not None:
        batch_id = previous["batch_id"]
        workspace_id = workspace_id or previous.get("workspace_id")
        project_id = project_id or previous.get("project_id")
    batch_id = batch_id or uuid.uuid4().hex[:12]
    workspace_id, project_id = await find_ids(client, workspace_id, project_id)
    earlier = {run["name"]: run for run in (previous or {}).get("runs", []) if run.get("run_id")}
    outcomes = [
        Outcome(**earlier[job.name])
        if job.name in earlier
        else Outcome(name=job.name, type=job.type, prompt=job.prompt)
        for job in jobs
    ]
    limiter = anyio.CapacityLimiter(concurrency)
    stop_reason: list[str] = []

    def manifest() -> dict[str, Any]:
        costs = [o.cost_usd for o in outcomes if o.cost_usd is not None]
        return {
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "batch_id": batch_id,
            "workspace_id": workspace_id,
            "project_id": project_id,
            "total_cost_usd": round(sum(costs), 6),
            "runs": [asdict(o) for o in outcomes],
        }

    async def one(job: Job, outcome: Outcome) -> None:
        if outcome.status in TERMINAL:
            return  # finished in an earlier pass of this batch
        async with limiter:
            if stop_reason and outcome.run_id is None:
                outcome.status, outcome.error = "skipped", f"not started: {stop_reason[0]}"
                return
            try:
                await run_job(
                    client,
                    job,
                    outcome,
                    workspace_id=workspace_id,
                    project_id=project_id,
                    batch_id=batch_id,
                    max_wait=max_wait,
                    report=report,
                    checkpoint=lambda: checkpoint(manifest()),
                )
            except ToolFailed as exc:
                outcome.status = "error" if outcome.run_id is None else outcome.status
                outcome.error = str(exc)
                report(f"[{job.name}] error: {exc}")
                if any(code in str(exc) for code in STOP_CODES):
                    stop_reason.append(f"an earlier start failed with {str(exc)[:200]}")
            checkpoint(manifest())

    async with anyio.create_task_group() as group:
        for job, outcome in zip(jobs, outcomes, strict=True):
            group.start_soon(one, job, outcome)
    return manifest()


# --- command line ------------------------------------------------------------------------------
def server_parameters(server_cmd: str | None) -> StdioServerParameters:
    """How to launch flora-mcp: the given command, else this Python's flora_mcp on the sandbox."""
    if server_cmd:
        command, *args = shlex.split(server_cmd)
    else:
        command, args = sys.executable, ["-m", "flora_mcp", "--sandbox"]
    # The SDK gives a stdio server a reduced environment: hand over FLORA's settings explicitly.
    env = {name: value for name, value in os.environ.items() if name.startswith("FLORA_")}
    return StdioServerParameters(command=command, args=args, env=env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Generate every prompt of a list through flora-mcp.")
    parser.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS, help="CSV or JSON prompt list.")
    parser.add_argument("--out", type=Path, default=Path("flora-manifest.json"), help="Manifest to write.")
    parser.add_argument("--concurrency", type=int, default=3, help="Most runs in flight at once (default 3).")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--server-cmd", help='Command that starts flora-mcp over stdio, e.g. "flora-mcp" (uses FLORA_API_KEY).'
    )
    source.add_argument(
        "--sandbox", action="store_true", help="Use this Python's flora-mcp on its built-in sandbox (the default)."
    )
    parser.add_argument("--workspace-id", help="Workspace to generate in (default: the first one).")
    parser.add_argument("--project-id", help="Project to generate in (default: the workspace's first).")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="Resume the batch in --out: keep its finished runs, follow its unfinished ones, start the rest.",
    )
    parser.add_argument("--max-wait", type=float, default=900.0, help="Seconds to follow each run (default 900).")
    return parser


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Replace the manifest atomically: an interrupted write never leaves half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)


async def amain(args: argparse.Namespace) -> int:
    jobs = read_jobs(args.prompts)
    previous = None
    if args.resume:
        if not args.out.exists():
            raise PipelineError(f"--resume: no manifest at {args.out} to resume")
        previous = json.loads(args.out.read_text(encoding="utf-8"))

    def report(line: str) -> None:
        print(line, flush=True)

    async with Client(server_parameters(args.server_cmd)) as client:
        try:
            manifest = await run_pipeline(
                client,
                jobs,
                concurrency=args.concurrency,
                workspace_id=args.workspace_id,
                project_id=args.project_id,
                max_wait=args.max_wait,
                previous=previous,
                report=report,
                checkpoint=lambda manifest: write_manifest(args.out, manifest),
            )
        except (PipelineError, ToolFailed) as exc:
            print(f"pipeline: {exc}", file=sys.stderr)
            return 2
    write_manifest(args.out, manifest)
    done = sum(run["status"] == "completed" for run in manifest["runs"])
    print(
        f"{done}/{len(manifest['runs'])} completed, cost {_money(manifest['total_cost_usd'])}, "
        f"batch {manifest['batch_id']}; manifest: {args.out}"
    )
    return 0 if done == len(manifest["runs"]) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.concurrency < 1:
        build_parser().error("--concurrency must be at least 1")
    try:
        return anyio.run(amain, args)
    except PipelineError as exc:
        print(f"pipeline: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

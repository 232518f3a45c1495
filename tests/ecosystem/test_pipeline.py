"""examples/pipeline.py: prompts in, runs started through flora-mcp's tools, a manifest out.

Most tests drive the pipeline through an in-memory MCP client against a sandbox whose runs end
on first read; one runs the script itself, which spawns `python -m flora_mcp --sandbox` over
stdio exactly as a user would.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "examples" / "pipeline.py"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,255}$")  # FLORA's idempotency key alphabet

pytestmark = pytest.mark.anyio


@dataclass
class Connected:
    client: Client
    sandbox: Sandbox


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(time_scale=0)


@pytest.fixture
async def connected(sandbox_config: SandboxConfig) -> AsyncIterator[Connected]:
    sandbox = Sandbox(sandbox_config)
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        server = create_server(Settings(), http_client=http, sandbox=sandbox)
        async with Client(server) as client:
            yield Connected(client, sandbox)


async def test_with_an_output_dir_the_manifest_names_each_saved_file(pipeline: ModuleType, tmp_path: Path) -> None:
    sandbox = Sandbox(SandboxConfig(time_scale=0))
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        server = create_server(Settings(output_dir=tmp_path / "out"), http_client=http, sandbox=sandbox)
        async with Client(server) as client:
            jobs = [pipeline.Job("hero", "image", "A ceramic mug"), pipeline.Job("tagline", "text", "A tagline")]
            manifest = await pipeline.run_pipeline(client, jobs, concurrency=2)
    runs = {run["name"]: run for run in manifest["runs"]}
    hero, tagline = runs["hero"]["outputs"][0], runs["tagline"]["outputs"][0]
    assert Path(hero["saved_path"]).read_bytes()[:4] == b"\x89PNG"  # noqa: ASYNC240
    assert Path(tagline["saved_path"]).read_text(encoding="utf-8") == tagline["text"]  # noqa: ASYNC240


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("name,type,prompt,model,aspect_ratio,duration\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


# --- reading prompts -------------------------------------------------------------------------------
def test_csv_columns_beyond_the_job_become_typed_model_params(pipeline: ModuleType, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ['hero,image,"A mug, at dawn",,16:9,', "clip,video,A mug turning,,,5"])
    hero, clip = pipeline.read_jobs(path)
    assert (hero.name, hero.type, hero.prompt, hero.model) == ("hero", "image", "A mug, at dawn", None)
    assert hero.params == {"aspect_ratio": "16:9"}
    assert clip.params == {"duration": 5}


def test_json_prompt_lists_are_read_too(pipeline: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"name": "a", "type": "text", "prompt": "hi", "params": {"x": 1}}]), encoding="utf-8")
    (job,) = pipeline.read_jobs(path)
    assert (job.name, job.type, job.params) == ("a", "text", {"x": 1})


def test_repeated_prompt_names_are_refused_because_they_make_the_idempotency_keys(
    pipeline: ModuleType, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "p.csv", ["a b,image,one,,,", "c,image,two,,,", "a-b,image,three,,,"])
    with pytest.raises(pipeline.PipelineError, match="repeated: a-b"):
        pipeline.read_jobs(path)


def test_the_shipped_prompts_file_reads_as_valid_generation_types(pipeline: ModuleType) -> None:
    jobs = pipeline.read_jobs(pipeline.DEFAULT_PROMPTS)
    assert len(jobs) >= 3
    assert {job.type for job in jobs} <= {"image", "video", "audio", "text"}


def test_idempotency_keys_are_stable_per_batch_and_name_and_always_valid(pipeline: ModuleType) -> None:
    job = pipeline.Job(name="Hero shot #1 (final)", type="image", prompt="p")
    key = pipeline.idempotency_key("batch1", job)
    assert key == pipeline.idempotency_key("batch1", job)
    assert key != pipeline.idempotency_key("batch2", job)
    assert KEY_PATTERN.match(key)


# --- running against the sandbox -------------------------------------------------------------------
async def test_every_prompt_ends_in_the_manifest_with_run_id_status_cost_and_urls(
    pipeline: ModuleType, connected: Connected
) -> None:
    jobs = [
        pipeline.Job("hero", "image", "A ceramic mug", params={"aspect_ratio": "16:9"}),
        pipeline.Job("tagline", "text", "A tagline for a mug"),
        pipeline.Job("jingle", "audio", "A short jingle"),
    ]
    manifest = await pipeline.run_pipeline(connected.client, jobs, concurrency=2)

    json.dumps(manifest)  # the manifest is written as JSON
    assert (manifest["workspace_id"], manifest["project_id"]) == ("ws_sandbox", "prj_sandbox")
    runs = {run["name"]: run for run in manifest["runs"]}
    assert [run["status"] for run in manifest["runs"]] == ["completed"] * 3
    assert len({run["run_id"] for run in manifest["runs"]}) == 3
    assert all(run["run_id"].startswith("run_") for run in manifest["runs"])
    assert runs["hero"]["outputs"][0]["type"] == "imageUrl"
    assert runs["hero"]["outputs"][0]["url"].startswith("http")
    assert runs["tagline"]["outputs"][0]["type"] == "text" and runs["tagline"]["outputs"][0]["text"]
    assert runs["jingle"]["outputs"][0]["type"] == "audioUrl"
    assert all(run["cost_usd"] is not None and run["cost_usd"] > 0 for run in manifest["runs"])
    assert manifest["total_cost_usd"] == pytest.approx(sum(run["cost_usd"] for run in manifest["runs"]))
    assert len(connected.sandbox.runs) == 3


async def test_the_prompts_model_and_params_reach_the_start_tool(pipeline: ModuleType, connected: Connected) -> None:
    sent: list[dict[str, Any]] = []

    class Recording:
        async def call_tool(self, name: str, arguments: dict[str, Any] | None = None, **kw: Any) -> CallToolResult:
            if name == "start_generation_run":
                sent.append(dict(arguments or {}))
            return await connected.client.call_tool(name, arguments, **kw)

    job = pipeline.Job("wide", "image", "A wide mug", model="t2i-sandbox-image", params={"aspect_ratio": "16:9"})
    manifest = await pipeline.run_pipeline(Recording(), [job], batch_id="b1")
    (arguments,) = sent
    assert arguments["params"] == {"aspect_ratio": "16:9"}
    assert arguments["idempotency_key"] == pipeline.idempotency_key("b1", job)
    (run,) = connected.sandbox.runs
    assert manifest["runs"][0]["run_id"] == run.run_id
    assert (run.prompt, run.model_id, run.generation_type) == ("A wide mug", "t2i-sandbox-image", "image")


async def test_a_failed_run_is_reported_with_its_error_and_the_others_still_complete(
    pipeline: ModuleType, connected: Connected
) -> None:
    jobs = [pipeline.Job("ok", "image", "A mug"), pipeline.Job("bad", "image", "A mug [fail]")]
    manifest = await pipeline.run_pipeline(connected.client, jobs)
    ok, bad = manifest["runs"]
    assert ok["status"] == "completed"
    assert bad["status"] == "failed"
    assert bad["run_id"].startswith("run_")
    assert "provider_error" in bad["error"]


async def test_at_most_concurrency_runs_are_in_flight_at_once(pipeline: ModuleType, connected: Connected) -> None:
    class Counting:
        """Counts runs between their start and the answer that says they ended."""

        def __init__(self, client: Client) -> None:
            self.client, self.active, self.most = client, 0, 0

        async def call_tool(self, name: str, arguments: dict[str, Any] | None = None, **kw: Any) -> CallToolResult:
            if name == "start_generation_run":
                self.active += 1
                self.most = max(self.most, self.active)
            result = await self.client.call_tool(name, arguments, **kw)
            if name == "wait_for_run" and (result.structured_content or {}).get("finished"):
                self.active -= 1
            return result

    counting = Counting(connected.client)
    jobs = [pipeline.Job(f"p{i}", "image", f"Mug {i}") for i in range(6)]
    manifest = await pipeline.run_pipeline(counting, jobs, concurrency=2)
    assert [run["status"] for run in manifest["runs"]] == ["completed"] * 6
    assert counting.most == 2
    assert counting.active == 0


async def test_rerunning_a_batch_starts_nothing_twice(pipeline: ModuleType, connected: Connected) -> None:
    jobs = [pipeline.Job("a", "image", "A mug"), pipeline.Job("b", "text", "A tagline")]
    first = await pipeline.run_pipeline(connected.client, jobs, batch_id="resume-me")
    second = await pipeline.run_pipeline(connected.client, jobs, batch_id="resume-me")
    assert [run["status"] for run in first["runs"]] == ["completed", "completed"]
    assert len(connected.sandbox.runs) == 2
    # The batch's keys name the runs already started: the server answers with them, nothing starts twice.
    assert [run["status"] for run in second["runs"]] == ["completed", "completed"]
    assert [run["run_id"] for run in second["runs"]] == [run["run_id"] for run in first["runs"]]
    assert [run["idempotency_key"] for run in second["runs"]] == [run["idempotency_key"] for run in first["runs"]]


async def test_resuming_an_interrupted_batch_follows_its_started_runs_and_starts_only_the_rest(
    pipeline: ModuleType, connected: Connected
) -> None:
    snapshots: list[dict[str, Any]] = []
    jobs = [pipeline.Job("a", "image", "A mug"), pipeline.Job("b", "text", "A tagline")]
    await pipeline.run_pipeline(connected.client, jobs, concurrency=1, checkpoint=snapshots.append)
    # The first checkpoint is the one written right after "a" started: what a crash then leaves.
    interrupted = snapshots[0]
    assert [run["status"] for run in interrupted["runs"]] == ["pending", "not_started"]
    runs_before = len(connected.sandbox.runs)

    starts: list[str] = []

    class Recording:
        async def call_tool(self, name: str, arguments: dict[str, Any] | None = None, **kw: Any) -> CallToolResult:
            if name == "start_generation_run":
                starts.append((arguments or {})["prompt"])
            return await connected.client.call_tool(name, arguments, **kw)

    added = pipeline.Job("c", "audio", "A jingle")  # a prompt the first pass never saw
    resumed = await pipeline.run_pipeline(Recording(), [*jobs, added], previous=interrupted)
    a, b, c = resumed["runs"]
    assert resumed["batch_id"] == interrupted["batch_id"]
    assert (a["run_id"], a["status"]) == (interrupted["runs"][0]["run_id"], "completed")
    assert a["outputs"] and a["cost_is_quote"] is False
    # "b" had been started by the first pass too: its start with the batch's key is not run again,
    # the server answers with the run it already has, and the pipeline follows it.
    assert starts == ["A tagline", "A jingle"]
    assert b["status"] == "completed" and b["run_id"]
    assert c["status"] == "completed"
    assert len(connected.sandbox.runs) == runs_before + 1


async def test_a_finished_batch_resumes_without_calling_any_start(pipeline: ModuleType, connected: Connected) -> None:
    jobs = [pipeline.Job("a", "image", "A mug")]
    done = await pipeline.run_pipeline(connected.client, jobs)
    again = await pipeline.run_pipeline(connected.client, jobs, previous=done)
    assert again["runs"] == done["runs"]
    assert len(connected.sandbox.runs) == 1


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(time_scale=0, credits_usd=0.05)])
async def test_running_out_of_credits_stops_the_batch_instead_of_failing_every_prompt(
    pipeline: ModuleType, connected: Connected
) -> None:
    jobs = [pipeline.Job(f"p{i}", "image", f"Mug {i}") for i in range(4)]  # 0.04 USD each
    manifest = await pipeline.run_pipeline(connected.client, jobs, concurrency=1)
    statuses = [run["status"] for run in manifest["runs"]]
    assert statuses == ["completed", "error", "skipped", "skipped"]
    assert "insufficient_credits" in manifest["runs"][1]["error"]
    assert len(connected.sandbox.runs) == 1


async def test_a_workspace_without_projects_is_a_clear_error(pipeline: ModuleType, connected: Connected) -> None:
    class NoProjects:
        async def call_tool(self, name: str, arguments: dict[str, Any] | None = None, **kw: Any) -> CallToolResult:
            result = await connected.client.call_tool(name, arguments, **kw)
            if name == "list_projects":
                result = CallToolResult(content=[], structured_content={"projects": []})
            return result

    with pytest.raises(pipeline.PipelineError, match="no project"):
        await pipeline.run_pipeline(NoProjects(), [pipeline.Job("a", "image", "A mug")])


# --- the script, over stdio ---------------------------------------------------------------------------
# Waits out two 3 s runs of simulated time, twice: in the slow run (.ci/run: pytest -m slow). The
# tests above cover the same pipeline in memory.
@pytest.mark.slow
def test_the_script_runs_against_the_stdio_sandbox_and_writes_the_manifest(tmp_path: Path) -> None:
    # Text runs only: they take 3 s in the sandbox's simulated time, and the two run side by side.
    prompts = write_csv(
        tmp_path / "prompts.csv", ["tagline,text,A tagline for a mug,,,", "story,text,A mug's story,,,"]
    )
    out = tmp_path / "manifest.json"
    command = [sys.executable, str(PIPELINE), "--prompts", str(prompts), "--out", str(out), "--concurrency", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads(out.read_text(encoding="utf-8"))
    assert [(run["name"], run["status"]) for run in manifest["runs"]] == [
        ("tagline", "completed"),
        ("story", "completed"),
    ]
    assert all(run["run_id"].startswith("run_") and run["outputs"][0]["text"] for run in manifest["runs"])
    assert "2/2 completed" in done.stdout
    # Progress was printed as the runs went (before its first read, a wait reports the estimate's figure).
    assert re.search(r"\[story\] run_\w+: (running|about \d+%)", done.stdout)

    # Resuming a finished batch keeps every run and starts none.
    again = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "started" not in again.stdout
    resumed = json.loads(out.read_text(encoding="utf-8"))
    assert [run["run_id"] for run in resumed["runs"]] == [run["run_id"] for run in manifest["runs"]]


def test_resuming_without_a_manifest_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(PIPELINE), "--resume", "--out", str(tmp_path / "none.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "no manifest" in done.stderr


@pytest.mark.slow
async def test_resume_against_a_restarted_server_follows_unfinished_runs_and_counts_each_once(
    pipeline: ModuleType, tmp_path: Path
) -> None:
    # Two stdio server processes one after the other on one SQLite store, against one served
    # sandbox whose runs take a few seconds: the first pass stops following before they end.
    from flora_mcp.state import open_store

    sandbox = Sandbox(SandboxConfig(time_scale=0.3))
    url = f"sqlite:///{tmp_path}/state.db"
    jobs = [pipeline.Job("a", "image", "A mug"), pipeline.Job("b", "audio", "A jingle")]
    async with sandbox.serving() as base_url:
        env = {
            "FLORA_BASE_URL": base_url,
            "FLORA_API_KEY": sandbox.config.api_key,
            "FLORA_STATE_URL": url,
            "FLORA_LOG_LEVEL": "ERROR",
        }
        params = StdioServerParameters(command=sys.executable, args=["-m", "flora_mcp"], env=env)
        async with Client(params) as first:
            interrupted = await pipeline.run_pipeline(first, jobs, max_wait=0.2)
        assert all(run["status"] in ("pending", "running") for run in interrupted["runs"]), interrupted
        assert all("still" in (run["error"] or "") for run in interrupted["runs"])
        async with Client(params) as restarted:
            resumed = await pipeline.run_pipeline(restarted, jobs, previous=interrupted, max_wait=60)
            spend = (await restarted.call_tool("get_spend", {})).structured_content or {}
    assert [run["status"] for run in resumed["runs"]] == ["completed", "completed"]
    assert [run["run_id"] for run in resumed["runs"]] == [run["run_id"] for run in interrupted["runs"]]
    assert all(run["error"] is None for run in resumed["runs"]), "a stale 'still pending' note is dropped"
    assert all(run["cost_is_quote"] is False for run in resumed["runs"])
    assert len(sandbox.runs) == 2, "nothing was started again"
    assert resumed["total_cost_usd"] == pytest.approx(0.04 + 0.1)
    assert spend["starts"] == 2 and spend["spent_usd"] == pytest.approx(0.04 + 0.1), "each quote counted once"
    async with open_store(url) as store:
        records = await store.search(store.fingerprint(sandbox.config.api_key))
    assert sorted(r.run_status or "" for r in records) == ["completed", "completed"]

"""The hostile-input campaign: seeded, generated tool calls with broken arguments, against the sandbox.

Every tool the server lists is called through an in-memory MCP client with arguments that start
valid and are then broken at random (hypothesis): fields replaced by wrong types, nulls, huge or
odd unicode strings, negative and enormous numbers and ids full of path characters; fields
dropped; unknown fields added; the whole object replaced. Each call is judged:

- it must end as a valid result or a clean tool error (isError with text that says what to do,
  never "Error executing tool", never a crash report, never a protocol error or exception);
- arguments the tool's own model refuses must be refused with "Invalid arguments" and must not
  send a single request to the sandbox;
- every request a call does send must go to the path its ids name, each id inside its own
  segment, with a query that holds exactly the arguments given (nothing injected).

`run_hostile_campaign()` counts what happened (for the robustness report); the tests use
`hostile_harness()` and `explore()` directly and fail on the first problem, so hypothesis can
shrink it to the smallest failing call.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, quote

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import httpx2
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from mcp import Client
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, ValidationError

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox, SandboxConfig
from flora_mcp.server import create_server
from flora_mcp.server.tools import build_tools

from .fault_support import FakeClock
from .hostile_support import RequestLog, Seen, log_requests

API = "/api/v1"
WORKSPACE = "ws_sandbox"
PROJECT = "prj_sandbox"
TECHNIQUES = ("tech_sandboxposter", "tech_sandboxclip", "tech_sandboxcaption", "poster-maker", "caption-writer")
MODELS = ("t2i-sandbox-image", "t2v-sandbox-video", "t2a-sandbox-audio", "t2t-sandbox-text")
CALL_TIME_LIMIT = 30
# A tiny PNG (its signature and nothing else that matters) for upload_asset's data source.
PLAIN_PNG_B64 = "iVBORw0KGgoAAAAAAAAAAAAAAA=="

Outcome = Literal["result", "refused", "flora_error", "crash"]
T = TypeVar("T")


# --- values ------------------------------------------------------------------------------------
# Text JSON can carry: every code point but lone surrogates.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
PATH_PIECES = [
    "../", "..", ".", "/", "?", "#", "%2F", "%2f", "%2e%2e", "%", "%00", " ", "+", "\\", "@", ":", "&", "=",
    ";", "\n", "\r\n", "\t", "\x00", "\u202e", "é", "日本", "😀", "\ufeff", "\u200b", "ﬁ", "Ω", "run_", "/runs/",
]  # fmt: skip
hostile_ids = st.builds(
    lambda prefix, parts: prefix + "".join(parts),
    st.sampled_from(["run_", "tech_", "ws_", "prj_", ""]),
    st.lists(st.sampled_from(PATH_PIECES) | st.text(alphabet="abcXYZ019_-", min_size=1, max_size=4), max_size=6),
)
numbers = (
    st.sampled_from([-1, 0, 1, 100, 101, -(2**63), 2**63, 10**30, -1e308, 1e308, 0.5, -0.0, 1e-300])
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
)
huge_strings = st.builds(
    lambda piece, n: piece * n,
    st.sampled_from(["a", "😀", "../", "\u202e", "%2F", "é", " "]),
    st.integers(5_000, 40_000),
)
scalars = st.none() | st.booleans() | numbers | text
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=8
)
hostile = st.one_of(
    st.none(),
    st.booleans(),
    numbers,
    hostile_ids,
    text,
    huge_strings,
    st.lists(json_values, max_size=3),
    st.dictionaries(text, json_values, max_size=3),
)
CALLBACKS = [
    "https://hooks.example.com/flora",
    "http://hooks.example.com/flora",
    "https://127.0.0.1/x",
    "https://localhost/x",
    "https://10.0.0.7/x",
    "https://192.168.1.1/x",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/x",
    "https://[fe80::1]/x",
    "https://user:pass@hooks.example.com/x",
    "https://printer.local/x",
    "ftp://hooks.example.com/x",
    "https:///x",
    "not a url",
]
technique_items = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["subject", "style", "product_image", "image"]) | hostile,
        "type": st.sampled_from(["text", "imageUrl", "videoUrl"]) | hostile,
        "value": text | hostile,
    }
)
# Values aimed at particular fields, besides the general hostile ones.
FIELD_HOSTILE: dict[str, st.SearchStrategy[Any]] = {
    "inputs": st.lists(technique_items | json_values, max_size=4)
    | st.lists(st.just({"id": "subject", "type": "text", "value": "x"}), min_size=65, max_size=66),
    "callback_url": st.sampled_from(CALLBACKS) | hostile,
    "params": st.dictionaries(text, json_values, max_size=4) | hostile,
    "timeout_seconds": st.sampled_from([0, 0.999, 1, 900, 900.001, -5, 1e308, "5", True]) | hostile,
    "limit": st.sampled_from([0, 1, 100, 101, -1, 10**30, "5", 5.0, 5.5, True]) | hostile,
}


# --- valid arguments per tool --------------------------------------------------------------------
def _mostly(known: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a value the sandbox knows (so valid calls often succeed), sometimes any well-formed one."""
    return st.one_of(known, known, known, other)


def _valid_strategies(generation_run: str, technique_run: str) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    ws = _mostly(st.just(WORKSPACE), st.from_regex(r"\Aws_[A-Za-z0-9][A-Za-z0-9_-]{0,12}\Z"))
    prj = _mostly(
        st.sampled_from([PROJECT, "prj_sandboxmoodboard"]), st.from_regex(r"\Aprj_[A-Za-z0-9][A-Za-z0-9_-]{0,12}\Z")
    )
    tech = _mostly(st.sampled_from(TECHNIQUES), st.from_regex(r"\A(tech_[A-Za-z0-9]{1,12}|[a-z0-9][a-z0-9-]{0,12})\Z"))
    run = _mostly(
        st.sampled_from([generation_run, technique_run]), st.from_regex(r"\Arun_[A-Za-z0-9][A-Za-z0-9_-]{0,16}\Z")
    )
    technique_and_run = _mostly(st.just(("tech_sandboxposter", technique_run)), st.tuples(tech, run))
    key = st.from_regex(r"\A[A-Za-z0-9._:-]{8,40}\Z")
    limit = st.integers(1, 100)
    cursor = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=30)
    query = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
    image_url = st.just("https://images.example.com/mug.png")
    technique_start = st.one_of(
        st.fixed_dictionaries(
            {
                "technique_id": st.sampled_from(["tech_sandboxposter", "poster-maker"]),
                "inputs": st.tuples(st.just({"id": "subject", "type": "text"}), text.filter(str.strip)).map(
                    lambda pair: [{**pair[0], "value": pair[1]}]
                ),
            }
        ),
        st.fixed_dictionaries(
            {
                "technique_id": st.sampled_from(["tech_sandboxcaption", "caption-writer"]),
                "inputs": image_url.map(lambda url: [{"id": "image", "type": "imageUrl", "value": url}]),
            }
        ),
        st.fixed_dictionaries(
            {
                "technique_id": tech,
                "inputs": st.lists(
                    st.fixed_dictionaries(
                        {"id": st.sampled_from(["subject", "style", "image"]), "type": st.just("text"), "value": text}
                    ),
                    min_size=1,
                    max_size=3,
                ),
            }
        ),
    )
    return {
        "start_generation_run": st.fixed_dictionaries(
            {
                "workspace_id": ws,
                "project_id": prj,
                "prompt": text.filter(str.strip),
                "type": st.sampled_from(["image", "video", "audio", "text"]),
            },
            optional={
                "params": st.dictionaries(text, scalars, max_size=2),
                "idempotency_key": key,
            },
        ),
        "start_technique_run": st.tuples(
            technique_start,
            st.fixed_dictionaries(
                {},
                optional={
                    "workspace_id": ws,
                    "callback_url": st.just("https://hooks.example.com/flora"),
                    "idempotency_key": key,
                },
            ),
        ).map(lambda parts: {**parts[0], **parts[1]}),
        "wait_for_run": st.one_of(
            st.fixed_dictionaries({"run_id": st.just(generation_run)}),
            technique_and_run.map(lambda pair: {"technique_id": pair[0], "run_id": pair[1]}),
            st.fixed_dictionaries({"run_id": run}, optional={"technique_id": tech}),
        ).flatmap(
            lambda args: st.fixed_dictionaries(
                {k: st.just(v) for k, v in args.items()}, optional={"timeout_seconds": st.floats(1, 900)}
            )
        ),
        "get_run": st.fixed_dictionaries({"run_id": run}),
        "get_technique_run": technique_and_run.map(lambda pair: {"technique_id": pair[0], "run_id": pair[1]}),
        "list_technique_runs": st.fixed_dictionaries(
            {},
            optional={
                "workspace_id": ws,
                "project_id": prj,
                "technique_id": tech,
                "status": st.sampled_from(["pending", "running", "completed", "failed"]),
                "limit": limit,
                "cursor": cursor,
            },
        ),
        "list_generations": st.fixed_dictionaries(
            {},
            optional={
                "workspace_id": ws,
                "project_id": prj,
                "status": st.sampled_from(["pending", "running", "completed", "failed"]),
                "limit": limit,
                "cursor": cursor,
            },
        ),
        "list_workspaces": st.just({}),
        "list_projects": st.fixed_dictionaries({"workspace_id": ws}, optional={"query": query, "limit": limit}),
        "list_models": st.fixed_dictionaries(
            {}, optional={"type": st.sampled_from(["image", "video", "audio", "text"])}
        ),
        "list_techniques": st.fixed_dictionaries(
            {}, optional={"workspace_id": ws, "query": query, "limit": limit, "cursor": cursor}
        ),
        "get_technique": st.fixed_dictionaries({"technique_id": tech}),
        "list_actions": st.just({}),
        "start_action_run": st.fixed_dictionaries(
            {
                "action_id": st.sampled_from(["resize-image-browser", "crop-image-browser", "no-such-action"]),
                "workspace_id": ws,
                "project_id": prj,
                "inputs": st.lists(
                    st.fixed_dictionaries({"type": st.just("image"), "url": text.map(lambda url: url[:4096])}),
                    min_size=1,
                    max_size=3,
                ),
            },
            optional={
                "params": st.fixed_dictionaries(
                    {}, optional={"width": st.integers(-10, 5000), "aspect_ratio": st.sampled_from(["1:1", "2:1"])}
                ),
                "idempotency_key": key,
            },
        ),
        "create_project": st.fixed_dictionaries(
            {"workspace_id": ws, "name": text.filter(str.strip).map(lambda name: name[:200])},
            optional={"idempotency_key": key},
        ),
        "upload_asset": st.one_of(
            st.fixed_dictionaries(
                {"workspace_id": ws, "data": st.sampled_from([PLAIN_PNG_B64, "bm90IGJhc2U2NA=="]), "file_name": text}
            ),
            st.fixed_dictionaries({"workspace_id": ws, "url": text}),
            st.fixed_dictionaries({"workspace_id": ws, "path": text}),
        ),
        "start_generation_runs": st.fixed_dictionaries(
            {
                "workspace_id": ws,
                "project_id": prj,
                "type": st.sampled_from(["image", "video", "audio", "text"]),
                "items": st.lists(
                    st.fixed_dictionaries({"prompt": text.filter(str.strip)}, optional={"name": key}),
                    min_size=1,
                    max_size=4,
                ),
            },
            optional={"idempotency_key": key},
        ),
        "wait_for_runs": st.fixed_dictionaries(
            {
                "runs": st.lists(
                    st.one_of(
                        st.fixed_dictionaries({"run_id": st.just(generation_run)}),
                        technique_and_run.map(lambda pair: {"technique_id": pair[0], "run_id": pair[1]}),
                    ),
                    min_size=1,
                    max_size=3,
                )
            },
            optional={"timeout_seconds": st.floats(1, 900)},
        ),
    }


def _plain_calls(generation_run: str, technique_run: str) -> dict[str, dict[str, Any]]:
    """One valid call of each tool, on what the sandbox knows."""
    generation = {"workspace_id": WORKSPACE, "project_id": PROJECT, "type": "image"}
    return {
        "start_generation_run": {**generation, "prompt": "a plain mug"},
        "start_generation_runs": {**generation, "items": [{"prompt": "a plain cup"}]},
        "start_technique_run": {
            "technique_id": "tech_sandboxposter",
            "inputs": [{"id": "subject", "type": "text", "value": "a plain kite"}],
        },
        "wait_for_run": {"run_id": generation_run},
        "wait_for_runs": {"runs": [{"run_id": generation_run}]},
        "get_run": {"run_id": generation_run},
        "get_technique_run": {"technique_id": "tech_sandboxposter", "run_id": technique_run},
        "list_technique_runs": {},
        "list_generations": {},
        "list_workspaces": {},
        "list_projects": {"workspace_id": WORKSPACE},
        "list_models": {},
        "list_techniques": {},
        "get_technique": {"technique_id": "tech_sandboxposter"},
        "list_actions": {},
        "start_action_run": {
            "action_id": "resize-image-browser",
            "workspace_id": WORKSPACE,
            "project_id": PROJECT,
            "inputs": [{"type": "image", "url": "https://media.flora.ai/plain.png"}],
            "params": {"width": 512},
        },
        "create_project": {"workspace_id": WORKSPACE, "name": "A plain project"},
        "upload_asset": {"workspace_id": WORKSPACE, "data": PLAIN_PNG_B64, "file_name": "plain.png"},
        "get_spend": {},
        "find_runs": {},
    }


@dataclass(frozen=True)
class ToolSpec:
    name: str
    arguments: type[BaseModel]  # the model the server validates the tool's arguments with
    fields: tuple[str, ...]  # the argument names its input schema lists
    valid: st.SearchStrategy[dict[str, Any]]


@dataclass(frozen=True)
class HostileCall:
    tool: str
    arguments: dict[str, Any]


@st.composite
def _mutated(draw: st.DrawFn, spec: ToolSpec) -> HostileCall:
    arguments = dict(draw(spec.valid))
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3]))):
        kind = draw(st.sampled_from(["replace", "replace", "drop", "extra", "null", "whole"]))
        if kind in ("replace", "null") and spec.fields:
            name = draw(st.sampled_from(spec.fields))
            arguments[name] = None if kind == "null" else draw(FIELD_HOSTILE.get(name, hostile) | hostile)
        elif kind == "drop" and arguments:
            del arguments[draw(st.sampled_from(sorted(arguments)))]
        elif kind == "extra":
            arguments[draw(text | st.sampled_from(["__proto__", "$ref", "arguments", "ctx", "api_key"]))] = draw(
                json_values
            )
        elif kind == "whole":
            arguments = draw(st.dictionaries(text | st.sampled_from(spec.fields or ("x",)), hostile, max_size=4))
    return HostileCall(spec.name, arguments)


def hostile_calls(specs: dict[str, ToolSpec]) -> st.SearchStrategy[HostileCall]:
    return st.one_of([_mutated(spec) for _, spec in sorted(specs.items())])


# --- judging one call --------------------------------------------------------------------------
@dataclass
class Verdict:
    outcome: Outcome
    invalid_input: bool
    requests: int
    path_escapes: int
    problems: list[str] = field(default_factory=list)


def _q(value: Any) -> str:
    return quote(str(value), safe="")


QUERY_TOOLS = {
    "list_technique_runs": f"{API}/technique-runs",
    "list_generations": f"{API}/generations",
    "list_projects": f"{API}/projects",
    "list_models": f"{API}/models",
    "list_techniques": f"{API}/techniques",
    "list_workspaces": f"{API}/workspaces",
}


def _path_allowed(tool: str, args: dict[str, Any], path: str) -> bool | None:
    """Whether `path` is one the call may send given its (valid) arguments; None: tool unknown here."""
    run, tech = args.get("run_id"), args.get("technique_id")
    if tool in ("get_run", "get_technique_run", "wait_for_run") and path.startswith(f"/media/{_q(run)}/"):
        return True  # a completed run's output, fetched for its preview
    if tool in QUERY_TOOLS:
        return path == QUERY_TOOLS[tool]
    if tool == "get_run":
        return path == f"{API}/runs/{_q(run)}"
    if tool == "get_technique_run":
        return path == f"{API}/techniques/{_q(tech)}/runs/{_q(run)}"
    if tool == "get_technique":
        return path == f"{API}/techniques/{_q(tech)}"
    if tool == "list_actions":
        return path == f"{API}/actions"
    if tool == "start_action_run":  # the catalog check reads the actions, then the start
        return path in (f"{API}/actions", f"{API}/runs/action")
    if tool == "create_project":  # a reused key is answered by finding the project by name
        return path in (f"{API}/workspaces/{_q(args.get('workspace_id'))}/projects", f"{API}/projects")
    if tool == "upload_asset":  # the create (direct or URL), then reads of the asset until it is ready
        return path == f"{API}/assets" or path.startswith(f"{API}/assets/")
    if tool == "wait_for_run":
        # The technique may come from the run's start (the server remembers it) or its poll_url.
        parts = path.split("/")
        nested = len(parts) == 7 and path.startswith(f"{API}/techniques/") and parts[5] == "runs"
        return path == f"{API}/runs/{_q(run)}" or (nested and parts[6] == _q(run) and bool(parts[4]))
    # A start first reads the catalog it is checked against (GET /models?type=, GET /techniques/{id}).
    if tool == "start_generation_run":
        return path in (f"{API}/runs/generation", f"{API}/models")
    if tool == "start_technique_run":
        return path in (f"{API}/runs/technique", f"{API}/techniques/{_q(tech)}/runs", f"{API}/techniques/{_q(tech)}")
    if tool == "start_generation_runs":
        return path in (f"{API}/runs/generation", f"{API}/models")
    if tool == "wait_for_runs":
        runs = {_q(ref.get("run_id")) for ref in args.get("runs", []) if isinstance(ref, dict)}
        parts = path.split("/")
        nested = len(parts) == 7 and path.startswith(f"{API}/techniques/") and parts[5] == "runs"
        return (path.startswith(f"{API}/runs/") and parts[-1] in runs) or (nested and parts[6] in runs)
    return None


def _query_ok(tool: str, validated: dict[str, Any], seen: Seen) -> bool:
    pairs = parse_qsl(seen.query, keep_blank_values=True)
    if tool == "start_generation_run" and seen.raw_path == f"{API}/models":
        return pairs == [("type", str(validated.get("type")))]
    if tool == "start_generation_runs" and seen.raw_path == f"{API}/models":
        return len(pairs) == 1 and pairs[0][0] == "type"  # the shared type, or an item's own
    if tool == "create_project" and seen.raw_path == f"{API}/projects":
        return dict(pairs) == {"workspace_id": validated["workspace_id"], "query": validated["name"], "limit": "100"}
    if tool not in QUERY_TOOLS:
        return not pairs
    expected = {name: str(value) for name, value in validated.items() if value is not None}
    return len(pairs) == len(dict(pairs)) and dict(pairs) == expected


def _text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


class Harness:
    """An MCP client to a sandbox-backed server, and what it takes to judge one call."""

    def __init__(
        self,
        client: Client,
        sandbox: Sandbox,
        log: RequestLog,
        specs: dict[str, ToolSpec],
        plain: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.client = client
        self.sandbox = sandbox
        self.log = log
        self.specs = specs
        self.plain = plain or {}  # one plainly valid call per tool, made before the generated ones

    async def call(self, call: HostileCall) -> Verdict:
        spec = self.specs[call.tool]
        validated: dict[str, Any] | None
        try:
            validated = spec.arguments.model_validate(call.arguments).model_dump(exclude_none=True)
        except ValidationError:
            validated = None
        before_requests = sum(self.sandbox.requests.values())
        before_seen = len(self.log.seen)
        problems: list[str] = []
        result: CallToolResult | None = None
        try:
            with anyio.fail_after(CALL_TIME_LIMIT):
                result = await self.client.call_tool(call.tool, call.arguments)
        except Exception as exc:
            problems.append(f"the call raised {type(exc).__name__}: {str(exc)[:300]}")
        requests = sum(self.sandbox.requests.values()) - before_requests
        seen = self.log.seen[before_seen:]
        verdict = Verdict("crash", validated is None, requests, 0, problems)
        if result is None:
            return verdict
        text = _text(result)
        if not text.strip():
            problems.append("the answer has no text")
        if "Error executing tool" in text or "failed unexpectedly" in text:
            problems.append(f"a crash, not a clean answer: {text[:300]}")
            return verdict
        if validated is None:
            verdict.outcome = "refused"
            if not (result.is_error and text.startswith(f"Invalid arguments for {call.tool}")):
                problems.append(f"arguments the tool's model refuses were not refused: {text[:300]}")
            if requests or seen:
                problems.append(f"{requests} request(s) reached the sandbox for invalid arguments")
            return verdict
        if result.is_error:
            verdict.outcome = "flora_error"
            if "Next step" not in text:
                problems.append(f"an error without a next step: {text[:300]}")
        else:
            verdict.outcome = "result"
            if not isinstance(result.structured_content, dict):
                problems.append("a result without structured content")
        for request in seen:
            allowed = _path_allowed(call.tool, validated, request.raw_path)
            if allowed is False or not _query_ok(call.tool, validated, request):
                verdict.path_escapes += 1
                problems.append(f"unexpected request {request.method} {request.raw_path}?{request.query}")
        return verdict


@asynccontextmanager
async def hostile_harness() -> AsyncIterator[Harness]:
    """A fresh sandbox (instant runs, deep credits) behind the server, with two runs to find."""
    sandbox = Sandbox(SandboxConfig(time_scale=0, credits_usd=1e12))
    log = log_requests(sandbox)
    fake = FakeClock(now=time.monotonic())
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        server = create_server(
            Settings(max_retries=0),
            http_client=http,
            sandbox=sandbox,
            sleep=fake.sleep,
            clock=fake.time,
            wall_clock=fake.time,
        )
        async with Client(server) as client:
            known: list[str] = []
            for tool, arguments in (
                (
                    "start_generation_run",
                    {"workspace_id": WORKSPACE, "project_id": PROJECT, "prompt": "a mug", "type": "image"},
                ),
                (
                    "start_technique_run",
                    {
                        "technique_id": "tech_sandboxposter",
                        "inputs": [{"id": "subject", "type": "text", "value": "a fox"}],
                    },
                ),
            ):
                started = await client.call_tool(tool, arguments)
                assert not started.is_error, _text(started)
                known.append((started.structured_content or {})["run_id"])
            valid = _valid_strategies(*known)
            plain = _plain_calls(*known)
            specs: dict[str, ToolSpec] = {}
            tools = {tool.name: tool for tool in build_tools()}
            for listed in (await client.list_tools()).tools:
                registered = tools[listed.name]
                fields = tuple(listed.input_schema.get("properties", {}))
                specs[listed.name] = ToolSpec(
                    listed.name, registered.fn_metadata.arg_model, fields, valid.get(listed.name, st.just({}))
                )
            yield Harness(client, sandbox, log, specs, plain)


async def drive(
    strategy: st.SearchStrategy[T], check: Callable[[T], Awaitable[None]], *, seed: int, examples: int
) -> None:
    """Run `check` on `examples` values of `strategy`, seeded so that every run draws the same ones.

    hypothesis drives from a worker thread; each check runs back in this event loop. When a
    check raises, hypothesis shrinks the value to the smallest that still fails and re-raises.
    """

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(seed)
    @given(strategy)
    def run(value: T) -> None:
        anyio.from_thread.run(check, value)

    await anyio.to_thread.run_sync(run)


async def explore(harness: Harness, *, seed: int, examples: int, judge: Callable[[HostileCall, Verdict], None]) -> None:
    """Make `examples` hostile calls through `harness` and hand each verdict to `judge` (which may raise)."""

    async def check(call: HostileCall) -> None:
        judge(call, await harness.call(call))

    # Every tool is first called once, plainly and validly: whatever the generated calls happen to
    # draw (how many are valid depends on the draw), each tool shows both sides of the line.
    for tool, arguments in sorted(harness.plain.items()):
        if tool in harness.specs:
            await check(HostileCall(tool, arguments))
    await drive(hostile_calls(harness.specs), check, seed=seed, examples=examples)


async def run_hostile_campaign(*, seed: int = 0, examples: int = 300) -> dict[str, int]:
    """Run the campaign and count: calls, invalid inputs refused, valid results, requests sent for
    invalid input (must be 0), unexpected paths (0), crashes (0), problems of any kind (0)."""
    counts: Counter[str] = Counter()
    tools: set[str] = set()

    def tally(call: HostileCall, verdict: Verdict) -> None:
        counts["calls"] += 1
        tools.add(call.tool)
        counts["invalid_inputs"] += verdict.invalid_input
        counts["valid_inputs"] += not verdict.invalid_input
        counts["invalid_inputs_refused_before_sending"] += verdict.outcome == "refused" and verdict.requests == 0
        counts["valid_results"] += verdict.outcome == "result"
        counts["clean_flora_errors"] += verdict.outcome == "flora_error"
        counts["requests_for_invalid_input"] += verdict.requests if verdict.invalid_input else 0
        counts["requests_sent"] += verdict.requests
        counts["unexpected_request_paths"] += verdict.path_escapes
        counts["crashes"] += verdict.outcome == "crash"
        counts["problems"] += len(verdict.problems)

    started = time.perf_counter()
    # The server logs every refused FLORA call as a warning; without a handler Python would
    # print each one on stderr. The campaign counts them instead.
    quiet = logging.NullHandler()
    logging.getLogger("flora_mcp").addHandler(quiet)
    try:
        async with hostile_harness() as harness:
            await explore(harness, seed=seed, examples=examples, judge=tally)
            counts["tools"] = len(harness.specs)
    finally:
        logging.getLogger("flora_mcp").removeHandler(quiet)
    counts["tools_called"] = len(tools)
    counts["elapsed_ms"] = round((time.perf_counter() - started) * 1000)
    keys = (
        "calls", "tools", "tools_called", "invalid_inputs", "invalid_inputs_refused_before_sending", "valid_inputs",
        "valid_results", "clean_flora_errors", "requests_sent", "requests_for_invalid_input",
        "unexpected_request_paths", "crashes", "problems", "elapsed_ms",
    )  # fmt: skip
    return {key: counts[key] for key in keys}

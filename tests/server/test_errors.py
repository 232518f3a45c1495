"""Failures as the model reads them: every FLORA error, refused arguments, and crashes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from flora_mcp.api.client import FloraClient
from flora_mcp.sandbox import Fault, Sandbox

from .support import call_error, call_refused_unsent, generation

pytestmark = pytest.mark.anyio

START = "POST /runs/generation"


def envelope(status: int, code: str, message: str, fields: list[dict[str, str]] | None = None) -> Fault:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return Fault.raw(status, json.dumps(body).encode(), "application/json")


FIX = "fix the arguments"
STOP = "stop and tell the user"
RETRY = "then call start_generation_run again with the same arguments and idempotency_key="

CASES = [
    pytest.param(
        envelope(400, "input_validation_error", "prompt: Required", [{"field": "prompt", "message": "Required"}]),
        1,
        ["input_validation_error", "HTTP 400", 'Fields: prompt: "Required"', FIX],
        id="input_validation_error",
    ),
    pytest.param(envelope(400, "invalid_json", "Malformed JSON."), 1, ["invalid_json", FIX], id="invalid_json"),
    pytest.param(envelope(401, "unauthorized", "Invalid API key."), 1, ["unauthorized", STOP], id="unauthorized"),
    pytest.param(envelope(401, "invalid_api_key", "Bad key."), 1, ["invalid_api_key", STOP], id="invalid_api_key"),
    pytest.param(
        envelope(402, "insufficient_credits", "Insufficient credits."),
        1,
        ["insufficient_credits", STOP, "credits"],
        id="insufficient_credits",
    ),
    pytest.param(envelope(403, "forbidden", "Forbidden."), 1, ["forbidden", "list_workspaces"], id="forbidden"),
    pytest.param(envelope(404, "not_found", "Not found."), 1, ["not_found", "check the ids"], id="not_found"),
    pytest.param(
        Fault.rate_limited(retry_after=7), 3, ["rate_limited", "wait 7 s", RETRY, "Attempts: 3"], id="rate_limited"
    ),
    pytest.param(
        envelope(500, "unknown_error", "An unknown error occurred."),
        3,
        ["unknown_error", "HTTP 500", "wait 30 s", RETRY],
        id="unknown_error",
    ),
    pytest.param(
        Fault.raw(502, b"<html>Bad Gateway</html>", "text/html"), 3, ["HTTP 502", "Bad Gateway", RETRY], id="html-502"
    ),
    pytest.param(Fault.dropped(), 3, ["connection_error", "no answer arrived", RETRY], id="dropped-connection"),
    pytest.param(envelope(418, "teapot", "I am a teapot."), 1, ["teapot", "HTTP 418", STOP], id="unknown-code"),
]


@pytest.mark.parametrize(("fault", "times", "expected"), CASES)
async def test_every_flora_error_names_its_code_request_id_and_next_step(
    client: Client, sandbox: Sandbox, fault: Fault, times: int, expected: list[str]
) -> None:
    sandbox.faults.push(START, fault, times=times)
    text = await call_error(client, "start_generation_run", generation())
    for part in expected:
        assert part in text, f"{part!r} missing from:\n{text}"
    assert "Next step: " in text
    if fault.kind != "drop":
        assert "Request id: req_" in text
    assert "Error executing tool" not in text
    assert sandbox.config.api_key not in text


async def test_a_duplicate_key_on_a_read_tells_the_agent_not_to_start_again(client: Client, sandbox: Sandbox) -> None:
    sandbox.faults.push("GET /workspaces", envelope(409, "idempotency_duplicate", "Duplicate idempotency key."))
    text = await call_error(client, "list_workspaces", {})
    assert "idempotency_duplicate" in text and "do not start it again" in text


async def test_a_real_insufficient_credits_answer_starts_nothing(client: Client, sandbox: Sandbox) -> None:
    sandbox.credits_usd = 0.01
    text = await call_error(client, "start_generation_run", generation(type="video", prompt="a drone shot"))
    assert "insufficient_credits" in text and STOP in text
    assert sandbox.runs == []


BAD_ARGUMENTS = [
    pytest.param("start_generation_run", generation(workspace_id="abc"), ["workspace_id", "starts with ws_"], id="ws"),
    pytest.param("start_generation_run", generation(type="t2i"), ["type", "'image'"], id="type-family"),
    pytest.param(
        "start_generation_run", {"workspace_id": "ws_a", "type": "image"}, ["prompt", "required"], id="missing"
    ),
    pytest.param(
        "start_generation_run", generation(aspect_ratio="16:9"), ["aspect_ratio", "not an argument"], id="extra"
    ),
    pytest.param("start_generation_run", generation(idempotency_key="short"), ["idempotency_key"], id="short-key"),
    pytest.param(
        "start_technique_run",
        {"technique_id": "poster-maker", "inputs": [{"id": "subject", "type": "string", "value": "x"}]},
        ["inputs.0.type", "'imageUrl'"],
        id="input-type",
    ),
    pytest.param("list_projects", {"workspace_id": "ws_sandbox", "limit": 0}, ["limit"], id="limit"),
    pytest.param("list_projects", {}, ["workspace_id", "required"], id="no-workspace"),
    pytest.param("get_run", {"run_id": "../workspaces"}, ["run_id", "starts with run_"], id="path-injection"),
    pytest.param("wait_for_run", {"run_id": "run_a", "timeout_seconds": 0}, ["timeout_seconds"], id="budget"),
    pytest.param("get_technique", {"technique_id": "Poster Maker"}, ["technique_id"], id="technique"),
]


@pytest.mark.parametrize(("tool", "arguments", "expected"), BAD_ARGUMENTS)
async def test_invalid_arguments_are_refused_before_any_request_with_the_field_and_the_fix(
    client: Client, sandbox: Sandbox, tool: str, arguments: dict[str, Any], expected: list[str]
) -> None:
    text = await call_refused_unsent(client, sandbox, tool, arguments)
    assert text.startswith(f"Invalid arguments for {tool}; nothing was sent to FLORA.")
    for part in expected:
        assert part in text, f"{part!r} missing from:\n{text}"
    assert f"Next step: fix these arguments and call {tool} again." in text
    assert "Error executing tool" not in text


async def test_a_crash_in_the_server_reads_as_a_bug_to_report_not_a_bare_error(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: FloraClient) -> None:
        raise RuntimeError("boom: internal detail")

    monkeypatch.setattr(FloraClient, "list_workspaces", broken)
    text = await call_error(client, "list_workspaces", {})
    assert "failed unexpectedly in list_workspaces" in text and STOP in text
    assert "internal detail" not in text

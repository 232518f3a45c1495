"""No silent hangs over stdio: every hostile line is answered with its own id, and none starts a run."""

from __future__ import annotations

import json

import pytest

from .hostile_support import RawStdio, child_env
from .stdio_campaign import KINDS, run_stdio_campaign

pytestmark = pytest.mark.anyio


async def test_a_hostile_stdio_campaign_leaves_no_client_waiting_and_starts_nothing() -> None:
    figures = await run_stdio_campaign(3 * len(KINDS), seed=1)
    assert figures.hangs == 0, figures.hangs_by_kind
    assert figures.answered_with_id == figures.lines
    assert figures.runs_started == 0 and figures.served_after


async def test_a_one_megabyte_request_at_the_default_limit_is_answered_with_its_id() -> None:
    padding = "x" * (1024 * 1024)
    request = {"jsonrpc": "2.0", "id": "big", "method": "tools/list", "params": {"padding": padding}}
    async with RawStdio.start(child_env(FLORA_SANDBOX_TIME_SCALE="0"), "--sandbox") as wire:
        await wire.initialize()
        await wire.send(request)
        answer = await wire.next_message()
        assert answer["id"] == "big" and "1048576 bytes" in answer["error"]["message"]
        served = await wire.call_tool(2, "list_workspaces", {})
    assert served["result"]["isError"] is False


async def test_invalid_utf8_in_a_prompt_is_a_parse_error_never_a_garbled_paid_start() -> None:
    line = (
        b'{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "start_generation_run", "arguments": '
        b'{"workspace_id": "ws_sandbox", "project_id": "prj_sandbox", "type": "image", "prompt": "caf\xe9 mug"}}}\n'
    )
    async with RawStdio.start(child_env(FLORA_SANDBOX_TIME_SCALE="0"), "--sandbox") as wire:
        await wire.initialize()
        await wire.write(line)
        answer = await wire.next_message()
        listed = await wire.call_tool(2, "list_generations", {"project_id": "prj_sandbox"})
    assert answer["id"] == 9 and answer["error"]["code"] == -32700 and "UTF-8" in answer["error"]["message"]
    assert "\ufffd" not in json.dumps(answer)
    assert listed["result"]["structuredContent"]["generations"] == []

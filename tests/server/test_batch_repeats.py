"""A batch re-sent within the repeat window is a repeat, even when the window's time bucket turns between the two."""

from __future__ import annotations

import httpx2
import pytest
from mcp import Client

from flora_mcp.config import Settings
from flora_mcp.sandbox import Sandbox
from flora_mcp.server import create_server
from tests.fake_clock import FakeClock

from .support import PROJECT, WORKSPACE, call_ok

pytestmark = pytest.mark.anyio
WINDOW = 600.0


def batch(*prompts: str) -> dict[str, object]:
    return {
        "workspace_id": WORKSPACE,
        "project_id": PROJECT,
        "type": "image",
        "items": [{"prompt": p} for p in prompts],
    }


@pytest.mark.parametrize("resent_after", [5.0, 60.0, 590.0])
async def test_a_batch_resent_across_the_key_bucket_boundary_starts_nothing_twice(
    sandbox: Sandbox, resent_after: float
) -> None:
    # Sent 2 s before the bucket turns: the batch key derived the second time is another one.
    clock = FakeClock(now=(1_700_000_400 // WINDOW + 1) * WINDOW - 2)
    async with httpx2.AsyncClient(transport=sandbox.transport()) as http:
        server = create_server(
            Settings(repeat_window_seconds=WINDOW), http_client=http, sandbox=sandbox, wall_clock=clock.time
        )
        async with Client(server) as client:
            first = (
                await call_ok(client, "start_generation_runs", batch("a kite", "a kite", "a boat"))
            ).structured_content
            clock.advance(resent_after)
            again = (
                await call_ok(client, "start_generation_runs", batch("a kite", "a kite", "a boat"))
            ).structured_content
    assert len(sandbox.runs) == 3  # two equal items are two runs, and nothing ran twice
    assert [item["outcome"] for item in (again or {})["items"]] == ["repeat"] * 3
    assert [item["run_id"] for item in (again or {})["items"]] == [item["run_id"] for item in (first or {})["items"]]

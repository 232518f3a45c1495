"""`flora-mcp demo`: the narrated session a new user runs first."""

from __future__ import annotations

import io

import pytest

from flora_mcp.demo import run_demo

pytestmark = pytest.mark.anyio


async def test_the_demo_narrates_tools_a_waited_generation_its_urls_a_technique_and_a_refusal() -> None:
    out = io.StringIO()
    await run_demo(out, time_scale="0")
    session = out.getvalue()
    for expected in (
        "start_generation_run",
        "[paid start]",
        "Started image generation run run_",
        "[progress",
        "fetched: HTTP 200",
        "image block: image/jpeg, 64x64,",
        "A preview of output_1 is attached (64x64 JPEG",
        "_output_1.png (",
        "image/png",
        "start_technique_run(technique_id='tech_sandboxposter'",
        "completed after",
        "refused (isError)",
        "nothing was sent to FLORA",
    ):
        assert expected in session, f"{expected!r} missing from the demo:\n{session}"

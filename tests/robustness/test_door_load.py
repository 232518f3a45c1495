"""The HTTP door under 300 idle or slow clients: normal calls still succeed, and the log stays quiet.

Marked slow (about 45 s): run by .ci/run, not by a default `pytest`.

flora-mcp runs as a subprocess (Streamable HTTP, its sandbox); the crowd and the normal calls
come from this process over real sockets (door_campaign.py).
"""

from __future__ import annotations

import pytest

from .door_campaign import KINDS, run_door_campaign

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.mark.parametrize("kind", KINDS)
async def test_with_300_idle_or_slow_clients_connected_normal_calls_still_succeed(kind: str) -> None:
    figures = await run_door_campaign(kind, attackers=300, calls=200)
    assert figures.success_rate >= 0.95, figures
    assert figures.stderr_bytes < 64 * 1024, figures


@pytest.mark.parametrize("kind", KINDS)
async def test_at_a_256_file_limit_the_door_degrades_without_a_log_flood(kind: str) -> None:
    figures = await run_door_campaign(kind, attackers=300, calls=200, fd_limit=256)
    # Degrades, not fails: at most 96 connections fit, so a few calls lose the race against 300
    # reconnecting clients (94% to 100% in docs/ROBUSTNESS.md); before, every call timed out.
    assert figures.success_rate >= 0.8, figures
    assert figures.server_fds_peak < 256, figures
    assert figures.stderr_bytes < 64 * 1024, figures  # the issue saw 123 MB in 15 s

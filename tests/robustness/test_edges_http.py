"""Issue 19's HTTP findings hold: keyless requests through a same-host proxy, slow readers of large answers."""

from __future__ import annotations

import pytest

from .edges_http import (
    BIG_OUTPUT,
    RSS_GROWTH_TARGET_MB,
    dropped_reader_frees_its_slot,
    keyless_through_a_proxy,
    slow_reader_figures,
)

pytestmark = pytest.mark.anyio


async def test_a_keyless_start_through_a_bare_same_host_proxy_starts_no_run_unless_the_key_is_lent() -> None:
    assert await keyless_through_a_proxy() == (401, 0)
    assert await keyless_through_a_proxy("--lend-server-key") == (200, 1)


@pytest.mark.slow
async def test_thirty_slow_readers_of_large_answers_neither_pin_memory_nor_starve_normal_calls() -> None:
    figures = await slow_reader_figures()
    assert figures["growth_mb"] < RSS_GROWTH_TARGET_MB, figures
    assert figures["served"] >= 0.95 * figures["calls"], figures
    assert figures["after_mb"] < RSS_GROWTH_TARGET_MB / 2, figures


@pytest.mark.slow
async def test_a_reader_dropped_by_the_write_timeout_gives_its_large_read_slot_back() -> None:
    status, size, waited = await dropped_reader_frees_its_slot()
    assert status == 200
    assert size > BIG_OUTPUT  # the whole answer: the base64 of the output, in JSON
    assert waited < 10

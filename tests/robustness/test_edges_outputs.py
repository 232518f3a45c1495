"""Issue 19's output findings hold after their fixes: each figure of edges_outputs, asserted."""

from __future__ import annotations

import pathlib

import pytest

from . import edges_outputs as edges

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.slow
def test_eight_parallel_reads_of_an_8000px_png_stay_under_1_gb(tmp_path: pathlib.Path) -> None:
    peak, lines = edges.peak_rss_of_parallel_reads(tmp_path, 8000, 8000)
    assert peak < 1024, f"peak RSS {peak:.0f} MB"
    assert sum("too large to preview (8000x8000), open the link" in line for line in lines) == 8, lines


@pytest.mark.slow
def test_eight_parallel_decodes_just_under_the_limit_stay_under_1_gb(tmp_path: pathlib.Path) -> None:
    peak, lines = edges.peak_rss_of_parallel_reads(tmp_path, 4900, 4900)
    assert peak < 1024, f"peak RSS {peak:.0f} MB"
    assert sum("preview of o is attached" in line for line in lines) == 8, lines


async def test_wait_for_run_with_slow_outputs_keeps_its_budget_and_the_next_read_does_not_download() -> None:
    first, second, text = await edges.wait_seconds_with_slow_outputs(5)
    assert first < 5, f"{first:.1f} s"
    assert second < 2, f"{second:.1f} s"
    assert text.count("not tried again") == 4, text  # the fifth is past the four previews shown
    assert "No preview of output_4: one answer shows 4 previews" in text


async def test_a_name_that_rebinds_to_loopback_after_its_check_never_reaches_loopback() -> None:
    attempts, hits = await edges.rebinding_hits(3)
    assert attempts == 3 and hits == 0


def test_callback_names_that_resolve_to_private_addresses_are_refused() -> None:
    tried, refused, accepted = edges.callbacks_refused()
    assert refused == tried, accepted


def test_public_and_unresolvable_callback_names_still_pass() -> None:
    # Unresolvable here passes on purpose: FLORA resolves the name, not this machine (see urls.py).
    for url in ("https://hooks.example.com/flora", "https://nowhere.example.invalid/hook"):
        assert edges.check_public_https_url(url, resolver=edges.fake_dns) == url


def test_a_fifo_under_an_outputs_name_does_not_hang_the_answer(tmp_path: pathlib.Path) -> None:
    seconds = edges.fifo_answer_seconds(tmp_path)
    assert seconds is not None and seconds < 2
    saved = sorted(p.name for p in (tmp_path / "fifo-out").iterdir())
    assert saved == ["run_fifo_output_1-2.txt", "run_fifo_output_1.txt"]
    assert (tmp_path / "fifo-out" / "run_fifo_output_1-2.txt").read_bytes() == b""

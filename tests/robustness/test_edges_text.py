"""Issue 19's text findings hold: FLORA's text cannot forge our lines, no key spelling gets through."""

from __future__ import annotations

import pathlib

import pytest

from .edges_text import edge_figures

pytestmark = pytest.mark.anyio


async def test_each_text_edge_holds(tmp_path: pathlib.Path) -> None:
    figures = await edge_figures(tmp_path)
    assert [edge.area for edge in figures] == ["text", "text"]
    forged, keys = figures
    assert forged.tried >= 180, "every error-body form by line break, on a read and a start, and run/list answers"
    assert keys.tried >= 15
    for edge in figures:
        assert edge.holds, f"{edge.finding}: {edge.measured}"

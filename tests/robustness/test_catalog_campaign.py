"""The catalog campaigns (catalog_campaign.py): billable mistakes never reach FLORA, new values never break a read."""

from __future__ import annotations

import pytest

from .catalog_campaign import MISTAKES, UNKNOWNS, run_mistakes, run_unknowns

pytestmark = pytest.mark.anyio


async def test_every_billable_mistake_is_refused_with_no_request_reaching_flora() -> None:
    rows = await run_mistakes()
    assert len(rows) == len(MISTAKES)
    for row in rows:
        assert row.refused, f"{row.name}: not refused before sending:\n" + "\n---\n".join(row.texts)
        assert row.scripted_reached == 0, f"{row.name}: {row.scripted_reached} request(s) reached the scripted FLORA"
        assert row.sandbox_reached in (None, 0), f"{row.name}: {row.sandbox_reached} request(s) reached the sandbox"
    assert sum(row.sandbox_reached is not None for row in rows) >= 15


async def test_every_unknown_value_is_read_and_shown() -> None:
    rows = await run_unknowns()
    assert len(rows) == len(UNKNOWNS)
    problems = [f"{row.name}: {row.problem}" for row in rows if row.failed or row.problem]
    assert not problems, "\n".join(problems)

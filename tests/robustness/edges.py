"""The shape of one "edge" figure: a finding of the attack campaign, tried again after its fix.

Each area measures its findings in a module of its own (`edges_money.py`, `edges_stdio.py`,
`edges_outputs.py`, `edges_http.py`, `edges_text.py`), each with one entry point

    async def edge_figures(work: pathlib.Path) -> list[Edge]

that tries every finding for real and reports what happened. The tests in `test_edges_*.py`
assert on the same figures, and `scripts/robustness_report.py` writes them into
docs/ROBUSTNESS.md, so the page and the suite can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Edge:
    """One finding as measured after its fix."""

    area: str  # "money", "stdio", "outputs", "http", "text"
    finding: str  # what the campaign found, in a few words
    target: str  # what must hold now, with its number when the issue set one
    tried: int  # cases tried
    failed: int  # cases where the target did not hold
    measured: str  # the figure after the fix, as a reader wants it ("25 starts → 5 accepted")

    @property
    def holds(self) -> bool:
        return self.tried > 0 and self.failed == 0

"""Summaries of repeated measurements: median, spread (interquartile range), p95, extremes.

The machines are shared and noisy, so every number in the report is a median over repeats with
its spread beside it; a ratio is judged against the spread, not read to the last digit.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(values: Sequence[float], fraction: float) -> float:
    """Linear-interpolated percentile (fraction in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p25: float
    p75: float
    p95: float
    minimum: float
    maximum: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(values: Sequence[float]) -> Summary | None:
    if not values:
        return None
    return Summary(
        n=len(values),
        median=statistics.median(values),
        p25=percentile(values, 0.25),
        p75=percentile(values, 0.75),
        p95=percentile(values, 0.95),
        minimum=min(values),
        maximum=max(values),
    )

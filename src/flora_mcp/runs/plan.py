"""A start as the booking sees it: what to start, in canonical form, and where its run will be."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from flora_mcp.runs.keys import arguments_digest

PROMPT_SUMMARY_CHARS = 200


@dataclass(frozen=True)
class StartPlan:
    """One start as the booking sees it, made by a start tool from its validated arguments."""

    tool: str
    kind: Literal["generation", "technique"]
    arguments: Mapping[str, Any]  # canonical: no idempotency_key, no repeat flag
    given_key: str | None
    repeat: bool  # the agent asked for another run of the same thing on purpose
    describe: str  # "image generation", "technique run"
    workspace_id: str | None = None
    project_id: str | None = None
    technique_id: str | None = None
    model_id: str | None = None
    prompt: str | None = None
    # What the agent re-sends to retry this start when it is one item of a batch: the batch's
    # tool and key (each item's own key is derived from them), so that following the advice of
    # a failed item re-sends the batch, never each item under a key of its own.
    batch_key: str | None = None

    @functools.cached_property
    def digest(self) -> str:
        """The canonical arguments' digest (runs/keys.py): computed once, asked for twice per start."""
        return arguments_digest(self.tool, self.arguments)

    @property
    def prompt_summary(self) -> str | None:
        if self.prompt is None:
            return None
        text = " ".join(self.prompt.split())
        return text if len(text) <= PROMPT_SUMMARY_CHARS else text[: PROMPT_SUMMARY_CHARS - 1] + "…"

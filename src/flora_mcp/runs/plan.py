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
    kind: Literal["generation", "technique", "action"]
    arguments: Mapping[str, Any]  # canonical: no idempotency_key, no repeat flag
    given_key: str | None
    repeat: bool  # the agent asked for another run of the same thing on purpose
    describe: str  # "image generation", "technique run"
    workspace_id: str | None = None
    project_id: str | None = None
    technique_id: str | None = None
    model_id: str | None = None
    action_id: str | None = None
    prompt: str | None = None
    # What the agent re-sends to retry this start when it is one item of a batch: the batch's
    # tool and key (each item's own key is derived from them), so that following the advice of
    # a failed item re-sends the batch, never each item under a key of its own.
    batch_key: str | None = None
    # Whether a start already booked with these arguments within the repeat window is this one
    # (None: when the agent gave no key and did not ask for a repeat). A batch item sent without
    # a batch key of the agent's carries a key derived from the batch's, whose time bucket can
    # change within the window: such items are looked up by their arguments too.
    finds_repeats: bool | None = None

    @property
    def looks_for_repeat(self) -> bool:
        if self.finds_repeats is not None:
            return self.finds_repeats
        return not (self.given_key or self.repeat)

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

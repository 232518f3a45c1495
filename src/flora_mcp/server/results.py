"""The shapes tools return, and how a result becomes MCP content.

Every tool answers with `structuredContent` matching its `outputSchema` (the models here) and
a short text for clients and models that read only `content`. That text carries what an agent
needs to continue (ids, status, output URLs, the next step), so nothing is lost when a client
ignores structuredContent. Media outputs are also `resource_link` items, never inline blobs.

Field descriptions are kept to a line: they go out in every tools/list inside outputSchema, and
the meaning of a result is in the tool's description and the result's text.
"""

from __future__ import annotations

import mimetypes
from typing import Any, Literal
from urllib.parse import urlsplit

from mcp_types import CallToolResult, ContentBlock, ResourceLink, TextContent
from pydantic import BaseModel, Field

from flora_mcp.api.models import (
    GenerationItem,
    Model,
    Project,
    RunOutput,
    RunStatus,
    Technique,
    TechniqueRunItem,
    Workspace,
)
from flora_mcp.outputs.saving import SavedFile


class NextStep(BaseModel):
    """The call an agent should make next."""

    tool: str = Field(description="Name of the tool to call next.")
    arguments: dict[str, Any] = Field(description="Arguments to call it with.")
    after_seconds: float = Field(description="Seconds to wait before calling it (0 means now).")


class StartResult(BaseModel):
    """What a start tool returns."""

    outcome: Literal["started", "accepted_earlier"] = Field(
        description='"accepted_earlier": this idempotency_key was accepted before (answer lost); do not start again.'
    )
    run_id: str | None = Field(default=None, description="Absent only for accepted_earlier.")
    status: RunStatus | None = Field(default=None, description="The run's status, when the start answer gave it.")
    run_type: str | None = Field(default=None, description="generation, technique or action.")
    charged_cost: float | None = Field(default=None, description="USD quoted at start; the final charge can differ.")
    charged_cost_is_quote: bool = Field(default=True, description="Always true: charged_cost is a quote.")
    estimated_seconds: float | None = Field(default=None, description="FLORA's estimate of the run's duration.")
    poll_url: str | None = None
    technique_id: str | None = Field(default=None, description="Pass with run_id to wait_for_run, get_technique_run.")
    model_id: str | None = None
    outputs: list[RunOutput] | None = Field(default=None, description="Outputs, if the run already finished.")
    idempotency_key: str = Field(description="The key sent; retrying with it never starts a second run.")
    request_id: str | None = Field(default=None, description="FLORA's request-id, for support.")
    session_spent_usd: float | None = Field(
        default=None, description="USD this server process has spent so far, this run included."
    )
    spend_cap_usd: float | None = Field(default=None, description="FLORA_MAX_SPEND_USD; absent when no cap.")
    next: NextStep | None = None


class SpentRun(BaseModel):
    """One start this server process sent, as get_session_spend lists it."""

    idempotency_key: str
    tool: str
    outcome: Literal["started", "accepted_earlier", "outcome_unknown"] = Field(
        description='"outcome_unknown": FLORA may have acted on it; retry with its idempotency_key to settle it.'
    )
    run_id: str | None = None
    technique_id: str | None = None
    model_id: str | None = None
    cost_usd: float | None = Field(
        default=None, description="charged_cost as last reported, else the quote; absent when neither is known."
    )
    quote_usd: float | None = Field(default=None, description="The cost known before sending, if any.")
    at: float = Field(description="When the start was sent, unix seconds.")


class SpendResult(BaseModel):
    """get_session_spend's answer: what this server process has spent on FLORA."""

    spent_usd: float = Field(description="USD charged (or quoted) for runs started or accepted in this process.")
    unconfirmed_usd: float = Field(description="Quotes of starts whose outcome is unknown; counted against the cap.")
    cap_usd: float | None = Field(default=None, description="FLORA_MAX_SPEND_USD; absent when no cap is set.")
    remaining_usd: float | None = Field(default=None, description="What the cap still allows; absent without a cap.")
    confirm_above_usd: float | None = Field(
        default=None, description="FLORA_CONFIRM_ABOVE_USD: starts quoted above it ask the user first."
    )
    starts: int = Field(description="Logical starts sent by this process (all callers).")
    runs: list[SpentRun] = Field(description="Your starts in this process, newest first (at most 100).")


class RunResult(BaseModel):
    """A run's state as get_run, get_technique_run and wait_for_run return it."""

    run_id: str
    status: RunStatus
    finished: bool = Field(description="True when the run completed or failed; no further polling needed.")
    progress_percent: float = Field(description="0-100.")
    charged_cost: float | None = Field(default=None, description="USD charged, as FLORA reports it.")
    error_code: str | None = None
    error_message: str | None = None
    outputs: list[RunOutput] | None = Field(default=None, description="Outputs of a completed run.")
    created_at: float | None = None
    started_at: float | None = None
    completed_at: float | None = None
    poll_url: str | None = None
    technique_id: str | None = None
    advice: str | None = Field(default=None, description="What to do next, in words.")
    next: NextStep | None = Field(default=None, description="Set while the run has not finished.")
    saved_files: list[SavedFile] | None = Field(default=None, description="Outputs saved on disk (--output-dir).")


class WaitResult(RunResult):
    """wait_for_run's answer: the final state, or the current one when the time budget ran out."""

    waited_seconds: float
    polls: int
    budget_exhausted: bool = Field(description="True when the run had not finished within timeout_seconds.")


class WorkspacesResult(BaseModel):
    workspaces: list[Workspace]


class ProjectsResult(BaseModel):
    projects: list[Project]
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the next page; None at the end.")


class ModelsResult(BaseModel):
    models: list[Model]


class TechniquesResult(BaseModel):
    techniques: list[Technique]
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the next page; None at the end.")


class TechniqueResult(BaseModel):
    technique: Technique


class TechniqueRunsResult(BaseModel):
    technique_runs: list[TechniqueRunItem]
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the next page; None at the end.")
    total_estimate: float | None = None


class GenerationsResult(BaseModel):
    """list_generations' answer."""

    generations: list[GenerationItem]
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the next page; None at the end.")
    total_estimate: float | None = None


# --- content -----------------------------------------------------------------------------------
_FALLBACK_MIME = {
    "imageUrl": "image/png",
    "videoUrl": "video/mp4",
    "audioUrl": "audio/mpeg",
    "documentUrl": "application/pdf",
}


def mime_type_for(output: RunOutput) -> str:
    """The MIME type of a media output: from its URL's extension when that fits its type."""
    guessed, _ = mimetypes.guess_type(urlsplit(output.url).path)
    fallback = _FALLBACK_MIME.get(output.type)
    # A guess must be of the output's family (the fallback's top-level type, e.g. "image").
    if guessed and (fallback is None or guessed.startswith(fallback.split("/")[0])):
        return guessed
    return fallback or "application/octet-stream"


def output_blocks(outputs: list[RunOutput] | None) -> list[ContentBlock]:
    """Media outputs as resource links, text outputs as text."""
    blocks: list[ContentBlock] = []
    for output in outputs or []:
        if output.type == "text":
            blocks.append(TextContent(type="text", text=f"Output {output.output_id} (text):\n{output.url}"))
            continue
        if urlsplit(output.url).scheme not in ("http", "https"):
            blocks.append(TextContent(type="text", text=f"Output {output.output_id} ({output.type}): {output.url}"))
            continue
        blocks.append(
            ResourceLink(
                type="resource_link",
                uri=output.url,
                name=output.output_id,
                title=f"{output.type[:-3]} output {output.output_id}",
                mime_type=mime_type_for(output),
            )
        )
    return blocks


def output_lines(outputs: list[RunOutput] | None) -> list[str]:
    lines = []
    for output in outputs or []:
        if output.type == "text":
            lines.append(f"- {output.output_id} (text, shown below)")
        else:
            lines.append(f"- {output.output_id} ({output.type}): {output.url}")
    return lines


def tool_result(structured: BaseModel, text: str, extra: list[ContentBlock] | None = None) -> CallToolResult:
    """A CallToolResult whose structuredContent is `structured` and whose content leads with `text`."""
    content: list[ContentBlock] = [TextContent(type="text", text=text), *(extra or [])]
    return CallToolResult(content=content, structured_content=structured.model_dump(mode="json", exclude_none=True))


def describe_next(step: NextStep | None) -> str:
    if step is None:
        return ""
    args = ", ".join(f"{k}={v}" for k, v in step.arguments.items())
    when = "now" if step.after_seconds <= 0 else f"in about {step.after_seconds:g} s"
    return f"Next: call {step.tool}({args}) {when}."

"""The shapes tools return, and how a result becomes MCP content.

Every tool answers with `structuredContent` matching its `outputSchema` (the models here) and
a short text for clients and models that read only `content`. That text carries what an agent
needs to continue (ids, status, output URLs, the next step), so nothing is lost when a client
ignores structuredContent. Media outputs are also `resource_link` items, never inline blobs.

Field descriptions are kept to a line: they go out in every tools/list inside outputSchema, and
the meaning of a result is in the tool's description and the result's text.

FLORA's strings are data in that text (flora_mcp.untrusted): ids and types on one line,
escaped; a text output fenced; and `tool_result` runs every result's text through
`unforgeable`, so a FLORA string holding a line break cannot start a line of ours even where a
formatter put it in as it came.
"""

from __future__ import annotations

from typing import Literal

from mcp_types import CallToolResult, ContentBlock, TextContent
from pydantic import BaseModel, ConfigDict, Field

from flora_mcp.api.models import (
    GenerationItem,
    Model,
    Project,
    RunOutput,
    Technique,
    TechniqueRunItem,
    Workspace,
)
from flora_mcp.api.urls import link_url
from flora_mcp.outputs.saving import SavedFile
from flora_mcp.runs.following import NextStep
from flora_mcp.untrusted import one_line, unforgeable


class Result(BaseModel):
    """Base of the shapes here: validators are built at first use, not at import (cold start)."""

    model_config = ConfigDict(defer_build=True)


class StartResult(Result):
    """What start_generation_run returns; the fields every start result has."""

    outcome: Literal["started", "repeat", "recovered", "accepted_earlier"] = Field(
        description=(
            '"repeat": the same start was made moments ago, this is its run; "recovered": the answer was lost '
            'and the server found the run; "accepted_earlier": accepted, run id not known yet. Never start again.'
        )
    )
    run_id: str | None = Field(default=None, description="Absent only for accepted_earlier.")
    run_type: str | None = Field(default=None, description="generation, technique or action.")
    # A quote, and named so: FLORA's start answer calls it charged_cost, but the charge settles later.
    quote_usd: float | None = Field(default=None, description="USD quoted at start; the final charge can differ.")
    estimated_seconds: float | None = Field(default=None, description="FLORA's estimate of the run's duration.")
    poll_url: str | None = None
    model_id: str | None = None
    idempotency_key: str = Field(description="The key sent; retrying with it never starts a second run.")
    request_id: str | None = Field(default=None, description="FLORA's request-id, for support.")
    repeat_age_seconds: float | None = Field(default=None, description="For repeat: seconds since the first start.")
    candidates: list[str] | None = Field(default=None, description="Run ids that may be this start's.")
    spent_usd: float | None = Field(default=None, description="Your USD spend in the budget window, this run included.")
    spend_cap_usd: float | None = Field(default=None, description="FLORA_MAX_SPEND_USD; absent when no cap.")
    next: NextStep | None = None
    final: WaitResult | None = Field(default=None, description="Only in a finished task's result: the run's end.")


class TechniqueStartResult(StartResult):
    """What start_technique_run returns: a technique start may answer with the run's first read."""

    status: str | None = Field(default=None, description="The run's status, when the start answer gave it.")
    technique_id: str | None = Field(default=None, description="Pass with run_id to wait_for_run, get_technique_run.")
    outputs: list[RunOutput] | None = Field(default=None, description="Outputs, if the run already finished.")
    error_code: str | None = Field(default=None, description="FLORA's reason, if the run already failed.")
    error_message: str | None = None


class SpentRun(Result):
    """One of your starts, as get_spend lists it."""

    run_id: str | None = None
    idempotency_key: str
    tool: str
    status: str = Field(
        description='started, recovered, accepted_earlier, in_flight, or "unknown": FLORA may have acted on it.'
    )
    run_status: str | None = Field(default=None, description="The run's status when last read.")
    technique_id: str | None = None
    model_id: str | None = None
    prompt: str | None = Field(default=None, description="The start of the prompt or text inputs.")
    cost_usd: float | None = Field(default=None, description="FLORA's charge when known, else the quote.")
    at: float = Field(description="When the start was booked, unix seconds.")


class SpendResult(Result):
    """get_spend's answer: your spend in the budget window, and your recent runs."""

    window: str = Field(description="FLORA_SPEND_WINDOW: 24h, 7d, 30d, all or process.")
    spent_usd: float = Field(description="USD charged (or quoted) for your runs FLORA accepted in the window.")
    unconfirmed_usd: float = Field(description="Quotes of starts whose outcome is unknown; counted against the cap.")
    cap_usd: float | None = Field(default=None, description="FLORA_MAX_SPEND_USD; absent when no cap is set.")
    remaining_usd: float | None = Field(default=None, description="What the cap still allows; absent without a cap.")
    confirm_above_usd: float | None = Field(
        default=None, description="FLORA_CONFIRM_ABOVE_USD: starts quoted above it ask the user first."
    )
    starts: int = Field(description="Your starts in the window.")
    runs: list[SpentRun] = Field(description="Your latest starts, newest first.")


class RunResult(Result):
    """A run's state as get_run, get_technique_run and wait_for_run return it."""

    run_id: str
    status: str = Field(description="pending, running, completed, failed, or a status FLORA added (shown as sent).")
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


StartResult.model_rebuild()
TechniqueStartResult.model_rebuild()


class WorkspacesResult(Result):
    workspaces: list[Workspace]
    skipped: list[str] | None = Field(default=None, description="Items FLORA sent that could not be read.")


class ProjectsResult(Result):
    projects: list[Project]
    skipped: list[str] | None = Field(default=None, description="Items FLORA sent that could not be read.")
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the next page; None at the end.")


class ModelsResult(Result):
    models: list[Model]
    skipped: list[str] | None = Field(default=None, description="Items FLORA sent that could not be read.")


class TechniquesResult(Result):
    techniques: list[Technique]
    skipped: list[str] | None = Field(default=None, description="Items FLORA sent that could not be read.")
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the next page; None at the end.")


class TechniqueResult(Result):
    technique: Technique


class TechniqueRunsResult(Result):
    technique_runs: list[TechniqueRunItem]
    skipped: list[str] | None = Field(default=None, description="Items FLORA sent that could not be read.")
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the next page; None at the end.")
    total_estimate: float | None = None


class GenerationsResult(Result):
    """list_generations' answer."""

    generations: list[GenerationItem]
    skipped: list[str] | None = Field(default=None, description="Items FLORA sent that could not be read.")
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the next page; None at the end.")
    total_estimate: float | None = None


def output_lines(outputs: list[RunOutput] | None) -> list[str]:
    """One line per output for a result's text; never more than one line each."""
    lines = []
    for output in outputs or []:
        name, kind = one_line(output.output_id, 80), one_line(output.type, 40)
        if output.type == "text":
            lines.append(f"- {name} (text, shown below)")
        elif link_url(output.url) is not None:
            lines.append(f"- {name} ({kind}): {output.url}")
        elif not output.url:
            lines.append(f"- {name} ({kind}): no URL given")
        else:
            lines.append(f"- {name} ({kind}): not a usable URL (quoted, not a link): {one_line(output.url)}")
    return lines


def skipped_lines(lines: list[str], notes: list[str]) -> list[str] | None:
    """Add a line per item FLORA sent that could not be read; the notes for the structured result."""
    if not notes:
        return None
    lines.append(f"{len(notes)} item(s) FLORA sent could not be read and are left out:")
    lines.extend(f"- {one_line(note, None)}" for note in notes)
    return notes


def tool_result(structured: BaseModel, text: str, extra: list[ContentBlock] | None = None) -> CallToolResult:
    """A CallToolResult whose structuredContent is `structured` and whose content leads with `text`.

    `text` goes through `unforgeable` (see the module docstring): any string of `structured`
    that could start a line is shown on one line wherever `text` quotes it whole.
    """
    data = structured.model_dump(mode="json", exclude_none=True)
    content: list[ContentBlock] = [TextContent(type="text", text=unforgeable(text, data)), *(extra or [])]
    return CallToolResult(content=content, structured_content=data)


def describe_next(step: NextStep | None) -> str:
    if step is None:
        return ""
    args = ", ".join(f"{k}={one_line(v, 100)}" for k, v in step.arguments.items())
    when = "now" if step.after_seconds <= 0 else f"in about {step.after_seconds:g} s"
    return f"Next: call {step.tool}({args}) {when}."

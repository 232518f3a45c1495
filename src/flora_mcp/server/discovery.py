"""The discovery tools' bodies: every id a start needs, and the run history.

Each answer's text lists the items one per line with the ids first, so an agent reading only
text still finds what to pass next. The run histories (list_technique_runs, list_generations)
are also how an agent finds a run whose start answer was lost.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult

from flora_mcp.api.models import (
    GenerationItem,
    GenerationListQuery,
    Model,
    ModelListQuery,
    ProjectListQuery,
    Technique,
    TechniqueListQuery,
    TechniqueRunListQuery,
)
from flora_mcp.api.urls import one_line
from flora_mcp.server.param_checks import option_values
from flora_mcp.server.quotes import credits_to_usd
from flora_mcp.server.results import (
    GenerationsResult,
    ModelsResult,
    ProjectsResult,
    TechniqueResult,
    TechniqueRunsResult,
    TechniquesResult,
    WorkspacesResult,
    tool_result,
)
from flora_mcp.server.runs import flora_errors
from flora_mcp.server.state import state_of


def _more(next_cursor: str | None) -> str:
    return f"More: call again with cursor={next_cursor}." if next_cursor else "That is the last page."


async def list_workspaces(ctx: Context[Any]) -> CallToolResult:
    async with flora_errors("list_workspaces"):
        answer = await state_of(ctx).client_for(ctx).list_workspaces()
    lines = [f"{len(answer.workspaces)} workspace(s):"]
    lines += [
        f"- {w.workspace_id}: {w.name or '(no name)'}" + (f" [{w.role}]" if w.role else "") for w in answer.workspaces
    ]
    skipped = _skipped(lines, answer.skipped)
    lines.append("Next: list_projects(workspace_id=...) to find a project_id.")
    return tool_result(WorkspacesResult(workspaces=answer.workspaces, skipped=skipped), "\n".join(lines))


async def list_projects(ctx: Context[Any], **arguments: Any) -> CallToolResult:
    query = ProjectListQuery.model_validate(arguments)
    async with flora_errors("list_projects"):
        answer = await state_of(ctx).client_for(ctx).list_projects(query)
    lines = [f"{len(answer.projects)} project(s) in {query.workspace_id}:"]
    lines += [f"- {p.project_id}: {p.name or '(no name)'}" for p in answer.projects]
    skipped = _skipped(lines, answer.skipped)
    lines.append(_more(answer.meta.next_cursor))
    result = ProjectsResult(projects=answer.projects, next_cursor=answer.meta.next_cursor, skipped=skipped)
    return tool_result(result, "\n".join(lines))


def _skipped(lines: list[str], notes: list[str]) -> list[str] | None:
    """Add a line per item FLORA sent that could not be read; the notes for the structured result."""
    if not notes:
        return None
    lines.append(f"{len(notes)} item(s) FLORA sent could not be read and are left out:")
    lines.extend(f"- {note}" for note in notes)
    return notes


def _model_line(model: Model, usd_per_credit: float) -> str:
    line = f"- {model.model_id} ({model.type or '?'}): {model.name or ''}".rstrip(": ")
    facts = []
    if model.estimated_seconds is not None:
        facts.append(f"~{model.estimated_seconds:g} s")
    if model.estimated_credits is not None:
        usd = credits_to_usd(model.estimated_credits, usd_per_credit)
        estimate = f"about {usd:g} USD at {usd_per_credit:g} USD per credit"
        facts.append(f"~{model.estimated_credits:g} credits, an estimate ({estimate})")
    if model.beta:
        facts.append("beta")
    if facts:
        line += " [" + ", ".join(facts) + "]"
    for param in model.params or []:
        detail = param.type or ""
        if param.options:
            detail = "one of " + " | ".join(str(v) for v in option_values(param))
        elif param.min is not None or param.max is not None:
            detail = f"{param.min:g}..{param.max:g}" if param.min is not None and param.max is not None else detail
        default = f", default {param.default}" if param.default is not None else ""
        required = ", required" if param.required else ""
        line += f"\n    param {param.name}: {detail}{default}{required}"
    return line


async def list_models(ctx: Context[Any], **arguments: Any) -> CallToolResult:
    query = ModelListQuery.model_validate(arguments)
    state = state_of(ctx)
    async with flora_errors("list_models"):
        answer = await state.client_for(ctx).list_models(query)
    state.catalog.remember_models(state.caller(ctx), query.type, answer.models)  # starts check against it
    rate = state.quotes.usd_per_credit
    lines = [f"{len(answer.models)} model(s):", *(_model_line(m, rate) for m in answer.models)]
    skipped = _skipped(lines, answer.skipped)
    lines.append(
        "Pass a model_id as start_generation_run's model, and its params in params. Credits are FLORA credits, "
        "not USD; USD figures are estimates at FLORA_USD_PER_CREDIT. Params are checked against this list "
        "before a start is sent."
    )
    return tool_result(ModelsResult(models=answer.models, skipped=skipped), "\n".join(lines))


def _technique_line(t: Technique) -> str:
    line = f"- {t.technique_id}" + (f" (slug {t.slug})" if t.slug else "") + f": {t.name or '(no name)'}"
    if t.run_cost is not None:
        line += f", {t.run_cost:g} USD per run"
    return line


async def list_techniques(ctx: Context[Any], **arguments: Any) -> CallToolResult:
    query = TechniqueListQuery.model_validate(arguments)
    async with flora_errors("list_techniques"):
        answer = await state_of(ctx).client_for(ctx).list_techniques(query)
    lines = [f"{len(answer.techniques)} technique(s):", *(_technique_line(t) for t in answer.techniques)]
    skipped = _skipped(lines, answer.skipped)
    lines.append("Next: get_technique(technique_id=...) to see its inputs.")
    lines.append(_more(answer.meta.next_cursor))
    result = TechniquesResult(techniques=answer.techniques, next_cursor=answer.meta.next_cursor, skipped=skipped)
    return tool_result(result, "\n".join(lines))


async def get_technique(ctx: Context[Any], technique_id: str) -> CallToolResult:
    state = state_of(ctx)
    async with flora_errors("get_technique"):
        t = await state.client_for(ctx).get_technique(technique_id)
    state.catalog.remember_technique(state.caller(ctx), technique_id, t)  # starts check against it
    lines = [_technique_line(t).removeprefix("- ")]
    if t.description:
        lines.append(t.description)
    lines.append("Inputs:")
    for item in t.inputs or []:
        need = "optional" if item.optional else "required"
        if item.allow_multiple:
            need += ", several values allowed"
        lines.append(
            f"- {item.id} ({item.type or '?'}, {need})" + (f": {item.description}" if item.description else "")
        )
    if t.outputs:
        lines.append("Outputs: " + ", ".join(f"{o.id} ({o.type or '?'})" for o in t.outputs))
    lines.append(
        f"Start it with start_technique_run(technique_id={t.technique_id}, inputs=[{{id, type, value}}, ...]); "
        "it costs money."
    )
    return tool_result(TechniqueResult(technique=t), "\n".join(lines))


async def list_technique_runs(ctx: Context[Any], **arguments: Any) -> CallToolResult:
    query = TechniqueRunListQuery.model_validate(arguments)
    async with flora_errors("list_technique_runs"):
        answer = await state_of(ctx).client_for(ctx).list_technique_runs(query)
    lines = [f"{len(answer.technique_runs)} technique run(s), newest first:"]
    for run in answer.technique_runs:
        technique = run.technique.technique_id if run.technique else "?"
        status = one_line(run.status, 60)
        lines.append(f"- {run.run_id}: {status}, technique {technique}, project {run.project_id or '?'}")
    skipped = _skipped(lines, answer.skipped)
    lines.append(_more(answer.meta.next_cursor))
    result = TechniqueRunsResult(
        technique_runs=answer.technique_runs,
        skipped=skipped,
        next_cursor=answer.meta.next_cursor,
        total_estimate=answer.meta.total_estimate,
    )
    return tool_result(result, "\n".join(lines))


_PROMPT_SHOWN = 60  # characters of each prompt in the text: enough to tell runs apart


def _generation_line(item: GenerationItem) -> str:
    line = f"- {item.run_id or '?'}: {one_line(item.status or '?', 60)}, {item.type or '?'}"
    if item.model:
        line += f", model {item.model.model_id}"
    line += f", project {item.project_id or '?'}"
    if item.prompt:
        prompt = item.prompt if len(item.prompt) <= _PROMPT_SHOWN else item.prompt[: _PROMPT_SHOWN - 3] + "..."
        line += f', prompt "{prompt}"'
    return line


async def list_generations(ctx: Context[Any], **arguments: Any) -> CallToolResult:
    query = GenerationListQuery.model_validate(arguments)
    async with flora_errors("list_generations"):
        answer = await state_of(ctx).client_for(ctx).list_generations(query)
    lines = [f"{len(answer.generations)} generation run(s), newest first:"]
    lines += [_generation_line(item) for item in answer.generations]
    skipped = _skipped(lines, answer.skipped)
    if answer.generations:
        lines.append("Follow one with wait_for_run(run_id=...), or read it with get_run(run_id=...).")
    lines.append(_more(answer.meta.next_cursor))
    result = GenerationsResult(
        generations=answer.generations,
        skipped=skipped,
        next_cursor=answer.meta.next_cursor,
        total_estimate=answer.meta.total_estimate,
    )
    return tool_result(result, "\n".join(lines))

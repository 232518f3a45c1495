"""The discovery tools: every id a start needs (workspaces, projects, models, techniques).

Each answer's text lists the items one per line with the ids first, so an agent reading only
text still finds what to pass next.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult

from flora_mcp.api.models import (
    Model,
    ModelListQuery,
    ProjectListQuery,
    RequestModel,
    Technique,
    TechniqueListQuery,
    TechniqueRef,
)
from flora_mcp.runs.param_checks import option_values
from flora_mcp.runs.quotes import credits_to_usd
from flora_mcp.server.context import state_of
from flora_mcp.server.errors import flora_errors
from flora_mcp.server.results import (
    ModelsResult,
    ProjectsResult,
    TechniqueResult,
    TechniquesResult,
    WorkspacesResult,
    skipped_lines,
    tool_result,
)
from flora_mcp.server.tools.registry import READ_ONLY, NoArguments, ToolSpec
from flora_mcp.untrusted import quoted


def _more(next_cursor: str | None) -> str:
    return f"More: call again with cursor={next_cursor}." if next_cursor else "That is the last page."


async def list_workspaces(ctx: Context[Any], args: NoArguments) -> CallToolResult:
    async with flora_errors("list_workspaces"):
        answer = await state_of(ctx).caller(ctx).client.list_workspaces()
    lines = [f"{len(answer.workspaces)} workspace(s):"]
    lines += [
        f"- {w.workspace_id}: {w.name or '(no name)'}" + (f" [{w.role}]" if w.role else "") for w in answer.workspaces
    ]
    skipped = skipped_lines(lines, answer.skipped)
    lines.append("Next: list_projects(workspace_id=...) to find a project_id.")
    return tool_result(WorkspacesResult(workspaces=answer.workspaces, skipped=skipped), "\n".join(lines))


async def list_projects(ctx: Context[Any], query: ProjectListQuery) -> CallToolResult:
    async with flora_errors("list_projects"):
        answer = await state_of(ctx).caller(ctx).client.list_projects(query)
    lines = [f"{len(answer.projects)} project(s) in {query.workspace_id}:"]
    lines += [f"- {p.project_id}: {p.name or '(no name)'}" for p in answer.projects]
    skipped = skipped_lines(lines, answer.skipped)
    lines.append(_more(answer.meta.next_cursor))
    result = ProjectsResult(projects=answer.projects, next_cursor=answer.meta.next_cursor, skipped=skipped)
    return tool_result(result, "\n".join(lines))


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


async def list_models(ctx: Context[Any], query: ModelListQuery) -> CallToolResult:
    state = state_of(ctx)
    async with flora_errors("list_models"):
        answer = await state.caller(ctx).client.list_models(query)
    state.catalog.remember_models(state.caller(ctx).fingerprint, query.type, answer.models)  # starts check against it
    rate = state.quotes.usd_per_credit
    lines = [f"{len(answer.models)} model(s):", *(_model_line(m, rate) for m in answer.models)]
    skipped = skipped_lines(lines, answer.skipped)
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


async def list_techniques(ctx: Context[Any], query: TechniqueListQuery) -> CallToolResult:
    async with flora_errors("list_techniques"):
        answer = await state_of(ctx).caller(ctx).client.list_techniques(query)
    lines = [f"{len(answer.techniques)} technique(s):", *(_technique_line(t) for t in answer.techniques)]
    skipped = skipped_lines(lines, answer.skipped)
    lines.append("Next: get_technique(technique_id=...) to see its inputs.")
    lines.append(_more(answer.meta.next_cursor))
    result = TechniquesResult(techniques=answer.techniques, next_cursor=answer.meta.next_cursor, skipped=skipped)
    return tool_result(result, "\n".join(lines))


async def get_technique(ctx: Context[Any], args: TechniqueArguments) -> CallToolResult:
    state = state_of(ctx)
    async with flora_errors("get_technique"):
        t = await state.caller(ctx).client.get_technique(args.technique_id)
    state.catalog.remember_technique(state.caller(ctx).fingerprint, args.technique_id, t)  # starts check against it
    lines = [_technique_line(t).removeprefix("- ")]
    if t.description:  # FLORA's words, quoted: never at the start of a line, where they would read as ours
        lines.append(f"Description: {quoted(t.description)}")
    lines.append("Inputs:")
    for item in t.inputs or []:
        need = "optional" if item.optional else "required"
        if item.allow_multiple:
            need += ", several values allowed"
        lines.append(
            f"- {item.id} ({item.type or '?'}, {need})" + (f": {quoted(item.description)}" if item.description else "")
        )
    if t.outputs:
        lines.append("Outputs: " + ", ".join(f"{o.id} ({o.type or '?'})" for o in t.outputs))
    lines.append(
        f"Start it with start_technique_run(technique_id={t.technique_id}, inputs=[{{id, type, value}}, ...]); "
        "it costs money."
    )
    return tool_result(TechniqueResult(technique=t), "\n".join(lines))


class TechniqueArguments(RequestModel):
    """get_technique's arguments."""

    technique_id: TechniqueRef


SPECS = [
    ToolSpec(
        name="list_workspaces",
        title="List workspaces",
        description="List the workspaces this API key can use. Start here: every start needs a workspace_id.",
        arguments=NoArguments,
        output=WorkspacesResult,
        annotations=READ_ONLY,
        body=list_workspaces,
    ),
    ToolSpec(
        name="list_projects",
        title="List projects",
        description=(
            "List the projects of a workspace (optionally matching a name); a generation needs a project_id from here."
        ),
        arguments=ProjectListQuery,
        output=ProjectsResult,
        annotations=READ_ONLY,
        body=list_projects,
    ),
    ToolSpec(
        name="list_models",
        title="List models",
        description=(
            "List the models for generation runs: ids, types, typical duration and cost, and the params each accepts."
        ),
        arguments=ModelListQuery,
        output=ModelsResult,
        annotations=READ_ONLY,
        body=list_models,
    ),
    ToolSpec(
        name="list_techniques",
        title="List techniques",
        description="List the techniques (multi-step workflows) available; search with query.",
        arguments=TechniqueListQuery,
        output=TechniquesResult,
        annotations=READ_ONLY,
        body=list_techniques,
    ),
    ToolSpec(
        name="get_technique",
        title="Get a technique",
        description="Get one technique: its inputs (ids, types, which are required), its outputs and its cost per run.",
        arguments=TechniqueArguments,
        output=TechniqueResult,
        annotations=READ_ONLY,
        body=get_technique,
    ),
]

"""The tool list: names, titles, descriptions (written for the model), schemas and annotations.

Bodies live in runs.py, waiting.py, discovery.py and session_spend.py; this module only says
what each tool is.
"""

from __future__ import annotations

from mcp.server.mcpserver.tools import Tool

from flora_mcp.api.models import (
    GenerationListQuery,
    ModelListQuery,
    ProjectListQuery,
    StartTechniqueRun,
    TechniqueListQuery,
    TechniqueRunListQuery,
)
from flora_mcp.server import discovery, runs, session_spend, waiting
from flora_mcp.server.results import (
    GenerationsResult,
    ModelsResult,
    ProjectsResult,
    RunResult,
    SpendResult,
    StartResult,
    TechniqueResult,
    TechniqueRunsResult,
    TechniquesResult,
    WaitResult,
    WorkspacesResult,
)
from flora_mcp.server.schemas import (
    LOCAL_READ_ONLY,
    PAID_START,
    READ_ONLY,
    NoArguments,
    RunArguments,
    TechniqueArguments,
    TechniqueRunArguments,
    WaitForRunArguments,
    make_tool,
)

START_GENERATION = """Start one image, video, audio or text generation in a FLORA project. Costs money.

Needs workspace_id (list_workspaces), project_id (list_projects) and a prompt; model and params
are optional (list_models lists model ids and their params). Returns at once with run_id, a cost
quote and estimated_seconds; then call wait_for_run (or get_run) to get the outputs. To retry a
start whose answer you did not get, pass the same idempotency_key: it is never charged twice."""

START_TECHNIQUE = """Start a technique run (a multi-step FLORA workflow) with its inputs. Costs money.

Find techniques with list_techniques and their inputs with get_technique; pass each input as
{id, type, value}. With workspace_id, a tech_ id and no callback_url it uses POST /runs/technique,
otherwise POST /techniques/{technique_id}/runs in async mode. Returns run_id and technique_id at
once; then call wait_for_run with both. Retry with the same idempotency_key, never a new one."""

WAIT_FOR_RUN = """Wait for a run to finish, polling FLORA and reporting progress, then return its outputs.

Returns the final state (outputs or error) or, if timeout_seconds passes first, the current
state with a `next` hint to call wait_for_run again (the run keeps going either way). Pass
technique_id for technique runs, as the start returned it. Free: reading a run costs nothing."""

GET_RUN = """Get a generation run's current status, progress and, once completed, its outputs (media as links).

For technique runs use get_technique_run. Use wait_for_run instead to wait for the end."""

GET_TECHNIQUE_RUN = """Get a technique run's current status, progress and, once completed, its outputs.

Needs the technique_id (or slug) and run_id the start returned."""

LIST_TECHNIQUE_RUNS = """List technique runs, newest first, with optional filters; pages with cursor.

Use it to find a technique run whose start answer was lost (filter by technique_id and workspace_id)."""

LIST_GENERATIONS = """List generation runs, newest first, with optional filters; pages with cursor.

Use it to find a generation whose start answer was lost (filter by workspace_id and project_id)."""

LIST_WORKSPACES = """List the workspaces this API key can use. Start here: every start needs a workspace_id."""

LIST_PROJECTS = """List the projects of a workspace (optionally matching a name); pages with cursor.

A generation run needs a project_id from here."""

LIST_MODELS = """List the models available for generation runs, with their ids, types, typical
duration and cost, and the params each accepts. Filter by type."""

LIST_TECHNIQUES = """List the techniques (multi-step workflows) available; search with query; pages with cursor."""

GET_TECHNIQUE = """Get one technique: its inputs (ids, types, which are required), its outputs and its cost per run."""


GET_SESSION_SPEND = """Show what this server has spent on FLORA in this session: total, spend cap, and your runs.

Free and read-only. Use it before a costly start, or when a start is refused over the spend cap."""

START_TOOLS = frozenset({"start_generation_run", "start_technique_run"})


def build_tools(*, read_only: bool = False) -> list[Tool]:
    """Every tool; with `read_only`, none that can start (and so charge for) a run."""
    tools = _all_tools()
    if read_only:
        return [tool for tool in tools if tool.name not in START_TOOLS]
    return tools


def _all_tools() -> list[Tool]:
    return [
        make_tool(
            runs.start_generation_run,
            name="start_generation_run",
            title="Start a generation (paid)",
            description=START_GENERATION,
            arguments=runs.StartGenerationArguments,
            output=StartResult,
            annotations=PAID_START,
        ),
        make_tool(
            runs.start_technique_run,
            name="start_technique_run",
            title="Start a technique run (paid)",
            description=START_TECHNIQUE,
            arguments=StartTechniqueRun,
            output=StartResult,
            annotations=PAID_START,
        ),
        make_tool(
            waiting.wait_for_run,
            name="wait_for_run",
            title="Wait for a run",
            description=WAIT_FOR_RUN,
            arguments=WaitForRunArguments,
            output=WaitResult,
            annotations=READ_ONLY,
        ),
        make_tool(
            runs.get_run,
            name="get_run",
            title="Get a generation run",
            description=GET_RUN,
            arguments=RunArguments,
            output=RunResult,
            annotations=READ_ONLY,
        ),
        make_tool(
            runs.get_technique_run,
            name="get_technique_run",
            title="Get a technique run",
            description=GET_TECHNIQUE_RUN,
            arguments=TechniqueRunArguments,
            output=RunResult,
            annotations=READ_ONLY,
        ),
        make_tool(
            discovery.list_technique_runs,
            name="list_technique_runs",
            title="List technique runs",
            description=LIST_TECHNIQUE_RUNS,
            arguments=TechniqueRunListQuery,
            output=TechniqueRunsResult,
            annotations=READ_ONLY,
        ),
        make_tool(
            discovery.list_generations,
            name="list_generations",
            title="List generation runs",
            description=LIST_GENERATIONS,
            arguments=GenerationListQuery,
            output=GenerationsResult,
            annotations=READ_ONLY,
        ),
        make_tool(
            discovery.list_workspaces,
            name="list_workspaces",
            title="List workspaces",
            description=LIST_WORKSPACES,
            arguments=NoArguments,
            output=WorkspacesResult,
            annotations=READ_ONLY,
        ),
        make_tool(
            discovery.list_projects,
            name="list_projects",
            title="List projects",
            description=LIST_PROJECTS,
            arguments=ProjectListQuery,
            output=ProjectsResult,
            annotations=READ_ONLY,
        ),
        make_tool(
            discovery.list_models,
            name="list_models",
            title="List models",
            description=LIST_MODELS,
            arguments=ModelListQuery,
            output=ModelsResult,
            annotations=READ_ONLY,
        ),
        make_tool(
            discovery.list_techniques,
            name="list_techniques",
            title="List techniques",
            description=LIST_TECHNIQUES,
            arguments=TechniqueListQuery,
            output=TechniquesResult,
            annotations=READ_ONLY,
        ),
        make_tool(
            discovery.get_technique,
            name="get_technique",
            title="Get a technique",
            description=GET_TECHNIQUE,
            arguments=TechniqueArguments,
            output=TechniqueResult,
            annotations=READ_ONLY,
        ),
        make_tool(
            session_spend.get_session_spend,
            name="get_session_spend",
            title="Session spend",
            description=GET_SESSION_SPEND,
            arguments=NoArguments,
            output=SpendResult,
            annotations=LOCAL_READ_ONLY,
        ),
    ]

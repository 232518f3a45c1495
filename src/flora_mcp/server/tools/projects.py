"""The projects family: create_project, so an agent in a workspace with no project can begin.

A family of its own rather than a sixth tool in discovery: discovery's tools only read FLORA
(all READ_ONLY), and this one changes it. It spends nothing, so it is offered in read-only
mode too (that mode withholds what can be spent, see config.read_only).

Creating is not idempotent by nature: the same call twice makes two projects of one name. So
it is keyed like a start. Without an idempotency_key the key is derived (runs/keys.py) from the
caller, the tool and the canonical arguments within the repeat window, so a client re-sending
the call sends the same key. FLORA answers a reused key 409 idempotency_duplicate with no
project; the project is then found by name and answered as "created earlier".
"""

from __future__ import annotations

from typing import Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import Field

from flora_mcp.api.client import AcceptedEarlier, FloraClient
from flora_mcp.api.models import IdempotencyKey, Project, ProjectCreateRequest, ProjectListQuery
from flora_mcp.runs.following import NextStep
from flora_mcp.runs.keys import arguments_digest, derived_key
from flora_mcp.server.context import state_of
from flora_mcp.server.errors import flora_errors
from flora_mcp.server.results import Result, tool_result
from flora_mcp.server.tools.registry import ToolSpec

TOOL = "create_project"

# Makes something in FLORA and destroys nothing: not read-only, not destructive; not idempotent
# in MCP's sense (a repeat is recognised only by its key, within the repeat window); open world.
CREATES = ToolAnnotations(destructive_hint=False)


class CreateProjectArguments(ProjectCreateRequest):
    """create_project's arguments: the request, and the key that makes a re-sent call harmless."""

    idempotency_key: IdempotencyKey | None = None


class ProjectCreated(Result):
    """What create_project answers: the project's ids, and the start to make in it."""

    outcome: Literal["created", "created_earlier"] = Field(
        description='"created_earlier": this call was made before (same key); this is the project it made.'
    )
    project_id: str
    name: str | None = None
    workspace_id: str
    idempotency_key: str = Field(description="The key sent; creating again with it never makes a second project.")
    next: NextStep


def _key(ctx: Context[Any], args: CreateProjectArguments) -> str | None:
    """The caller's key, else one derived from who asks for which name where; None: a fresh one."""
    if args.idempotency_key is not None:
        return args.idempotency_key
    state = state_of(ctx)
    window = state.booking.repeat_window_seconds
    if window <= 0:  # repeats deliberately not recognised: every call is a new project
        return None
    digest = arguments_digest(TOOL, {"workspace_id": args.workspace_id, "name": args.name})
    return derived_key(state.caller(ctx).fingerprint, TOOL, digest, state.booking.now(), window)


async def _made_earlier(client: FloraClient, args: CreateProjectArguments) -> Project | None:
    """The project of this name the duplicate key made; the newest if the name is not unique."""
    answer = await client.list_projects(ProjectListQuery(workspace_id=args.workspace_id, query=args.name, limit=100))
    same = [p for p in answer.projects if p.name == args.name]
    # FLORA lists newest first; ordering by created_at too does not rely on that.
    return max(same, key=lambda p: str(p.created_at or ""), default=None) if same else None


async def create_project(ctx: Context[Any], args: CreateProjectArguments) -> CallToolResult:
    client = state_of(ctx).caller(ctx).client
    key = _key(ctx, args)
    async with flora_errors(TOOL, key):
        answer = await client.create_project(args.workspace_id, args.name, idempotency_key=key)
        if isinstance(answer, AcceptedEarlier):
            project = await _made_earlier(client, args)
        else:
            project = answer.response
    if project is None:
        raise ToolError(
            f"FLORA says a project was already created with idempotency key {answer.idempotency_key}, but no "
            f"project named {args.name!r} is listed in {args.workspace_id} yet. Call "
            f"list_projects(workspace_id={args.workspace_id}, query=...) to find it; do not create it again."
        )
    earlier = isinstance(answer, AcceptedEarlier)
    workspace_id = project.workspace_id or args.workspace_id
    step = NextStep(
        tool="start_generation_run",
        arguments={"workspace_id": workspace_id, "project_id": project.project_id},
        after_seconds=0,
    )
    result = ProjectCreated(
        outcome="created_earlier" if earlier else "created",
        project_id=project.project_id,
        name=project.name,
        workspace_id=workspace_id,
        idempotency_key=answer.idempotency_key,
        next=step,
    )
    said = " (created earlier by this same call; no second project was made)" if earlier else ""
    lines = [
        f"Project {project.project_id}: {project.name or args.name} in {workspace_id}{said}.",
        f"Next: start_generation_run(workspace_id={workspace_id}, project_id={project.project_id}, prompt=..., "
        "type=...) to generate in it.",
    ]
    return tool_result(result, "\n".join(lines))


SPECS = [
    ToolSpec(
        name=TOOL,
        title="Create a project",
        description=(
            "Create a project to start generations in (e.g. in an empty workspace). Free; the same call re-sent "
            "soon after answers the same project."
        ),
        arguments=CreateProjectArguments,
        output=ProjectCreated,
        annotations=CREATES,
        body=create_project,
    ),
]

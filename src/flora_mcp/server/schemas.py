"""Tool input schemas, built from the API's request models (one source of truth).

A tool's arguments model is its request model (`GenerationRunRequest`, `StartTechniqueRun`,
the list queries) or, for tools that take only ids, a small model made of the same id types.
The SDK's own schema derivation goes through a function signature, which drops the models'
`extra="forbid"`; building the argument model from the request model keeps it, so the schema
says `additionalProperties: false` and a misspelt argument is refused instead of silently
dropped (a dropped `params` still runs, and bills, with defaults).

Every schema is what an agent reads on each tools/list, so pydantic's noise is taken out:
`title` keywords (a title-cased copy of each property name) everywhere, and in output schemas
also model docstrings, defaults, `additionalProperties: true` (the default) and `$defs` used
once. None of that changes which values a schema accepts; input schemas keep every description,
enum, pattern, bound, default and `additionalProperties: false`.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, cast

from mcp.server.mcpserver.resolve import build_resolver_plans, find_resolved_parameters
from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata, StrictJsonSchema
from mcp_types import ToolAnnotations
from pydantic import BaseModel, Field, create_model

from flora_mcp.api.models import RequestModel, RunId, TechniqueRef
from flora_mcp.server.hints import DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS
from flora_mcp.server.lean_schema import lean_output_schema, strip_titles, walk


class NoArguments(RequestModel):
    """A tool without arguments."""


class RunArguments(RequestModel):
    """get_run's arguments."""

    run_id: RunId


class TechniqueArguments(RequestModel):
    """get_technique's arguments."""

    technique_id: TechniqueRef


class TechniqueRunArguments(RequestModel):
    """get_technique_run's arguments."""

    technique_id: TechniqueRef
    run_id: RunId


class WaitForRunArguments(RequestModel):
    """wait_for_run's arguments."""

    run_id: RunId
    technique_id: TechniqueRef | None = Field(
        default=None,
        description=(
            "Give it when the start returned a technique_id (technique runs on the nested route); "
            "omit it for generation runs."
        ),
    )
    timeout_seconds: float = Field(
        default=DEFAULT_WAIT_SECONDS,
        ge=1,
        le=MAX_WAIT_SECONDS,
        description=(
            f"Longest time to wait, in seconds (default {DEFAULT_WAIT_SECONDS:g}, under the common 60 s "
            f"tool-call timeout; up to {MAX_WAIT_SECONDS:g} if your client keeps waiting while progress arrives)."
        ),
    )


READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
# Reads this server's own memory, not FLORA: a closed world.
LOCAL_READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
# A start spends money and creates a run: not read-only, not idempotent (without the same
# idempotency_key a second call is a second run), but it destroys nothing.
PAID_START = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)


def arguments_model(tool_name: str, request_model: type[RequestModel]) -> type[ArgModelBase]:
    """The SDK-facing argument model: the request model itself, plus the SDK's helper base."""
    model = create_model(f"{tool_name}_arguments", __base__=(request_model, ArgModelBase))
    return cast(type[ArgModelBase], model)


def _hoist_descriptions(schema: dict[str, Any]) -> None:
    """Put an optional field's description next to its anyOf, where every client looks for it.

    pydantic leaves the description of `Annotated[str, Field(description=...)] | None` inside
    the non-null arm; several clients only read a property's top-level description.
    """
    for node in walk(schema):
        for prop in (node.get("properties") or {}).values():
            if "description" not in prop and "anyOf" in prop:
                for arm in prop["anyOf"]:
                    if isinstance(arm, dict) and "description" in arm:
                        prop["description"] = arm.pop("description")
                        break


def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a tool's arguments, as the agent reads it."""
    schema = model.model_json_schema(by_alias=True)
    _hoist_descriptions(schema)
    return strip_titles(schema)


@cache
def _output_schema(model: type[BaseModel]) -> dict[str, Any]:
    # The SDK's strict generator, as it would use itself: a type with no JSON form fails here,
    # at build time. Cached: several tools return the same model.
    return lean_output_schema(model.model_json_schema(by_alias=True, schema_generator=StrictJsonSchema))


def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The outputSchema published for a tool returning `model` (a lean one: see lean_schema)."""
    schema = _output_schema(model)
    if schema.get("type") != "object":
        raise TypeError(f"{model.__name__}: an output schema must describe an object")
    return copy.deepcopy(schema)  # each tool its own, so no caller can change another's


ToolFunction = Callable[..., Awaitable[Any]]


def make_tool(
    fn: ToolFunction,
    *,
    name: str,
    title: str,
    description: str,
    arguments: type[RequestModel],
    output: type[BaseModel],
    annotations: ToolAnnotations,
) -> Tool:
    """A registered tool whose arguments are `arguments` and whose output schema is `output`.

    `fn` is called as `fn(ctx=<Context>, **validated_arguments)` and returns a CallToolResult
    whose structuredContent the SDK checks against `output`. Parameters of `fn` annotated
    `Annotated[T, Resolve(resolver)]` are filled by running the resolver first (the start
    tools' money guard); resolvers may take tool arguments by name.
    """
    arg_model = arguments_model(name, arguments)
    resolved = find_resolved_parameters(fn)
    plans = build_resolver_plans(resolved, set(arg_model.model_fields)) if resolved else {}
    return Tool(
        resolved_params=dict(resolved),
        resolver_plans=plans,
        fn=fn,
        name=name,
        title=title,
        description=description,
        parameters=input_schema(arg_model),
        # The SDK still validates each result against `output` (the model); the schema only describes it.
        fn_metadata=FuncMetadata(arg_model=arg_model, output_model=output, output_schema=output_schema(output)),
        is_async=True,
        context_kwarg="ctx",
        annotations=annotations,
    )

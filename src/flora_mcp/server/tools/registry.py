"""How a tool is declared and registered: `ToolSpec`, and the SDK `Tool` built from it.

A tool module declares each tool as a `ToolSpec`: its name, title, description (written for
the model), arguments model, output model, annotations and body, side by side. The body is
called as `body(ctx, args)` with `args` the validated arguments model, validated once by the
SDK at the boundary; start tools add `Resolve` parameters (the money guard's consent step).

Why not `MCPServer.add_tool(fn)`: the SDK derives a tool's input schema from a function
signature, which loses the request models' `extra="forbid"` (a misspelt `params` would be
dropped and the run would bill with defaults) and their descriptions' placement. So this
module builds the SDK's `Tool` itself from the model. `Tool`, `FuncMetadata`, `ArgModelBase`
and the resolver-plan helpers are SDK internals, taken from server/sdk_internals.py (every SDK
and uvicorn internal the project touches is named there, and tests/server/test_sdk_internals.py
fails loudly, naming that module, when a release changes one).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

from mcp.server.mcpserver import Context
from mcp_types import CallToolResult, ToolAnnotations
from pydantic import BaseModel, ValidationError, create_model

from flora_mcp.api.models import RequestModel
from flora_mcp.server.sdk_internals import (
    ArgModelBase,
    FuncMetadata,
    StrictJsonSchema,
    Tool,
    build_resolver_plans,
    find_resolved_parameters,
)
from flora_mcp.server.tools.lean_schema import lean_input_schema, outline_output_schema, walk

# Annotations say only what differs from MCP's defaults (readOnlyHint false, destructiveHint true,
# idempotentHint false, openWorldHint true), and destructiveHint/idempotentHint only where MCP
# gives them meaning (readOnlyHint false): the same hints in fewer bytes of every tools/list. A
# client that skips the defaults errs the careful way (a read taken as destructive, not the reverse).
# Reads FLORA, changes nothing: read-only (hence not destructive, idempotent), in an open world.
READ_ONLY = ToolAnnotations(read_only_hint=True)
# Reads this server's own records, not FLORA: a closed world.
LOCAL_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
# A start spends money and creates a run: not read-only, not idempotent (a repeat is only
# recognised within the repeat window or with the same idempotency_key), but it destroys nothing.
PAID_START = ToolAnnotations(destructive_hint=False)

ToolBody = Callable[..., Awaitable[CallToolResult]]


@dataclass(frozen=True)
class ToolSpec:
    """Everything that makes one tool, declared next to its body."""

    name: str
    title: str
    description: str
    arguments: type[RequestModel]
    output: type[BaseModel]
    annotations: ToolAnnotations
    body: ToolBody  # async (ctx, args, **resolved) -> CallToolResult
    # Parameters filled by the SDK's resolvers before the body runs: name -> Annotated[T, Resolve(fn)].
    resolved: Mapping[str, Any] = field(default_factory=dict)
    meta: Mapping[str, Any] | None = None
    starts_runs: bool = False  # True for tools that can spend money (refused in read-only mode)


def parsed_arguments(model: type[RequestModel]) -> Callable[..., Awaitable[RequestModel | None]]:
    """A resolver giving a start's guards (quote, catalog check, consent) the call's arguments as `model`.

    The SDK hands a resolver the tool's raw arguments by parameter name, so this one's signature
    is made from the model's fields: a field added to the model reaches every guard with nothing
    listed again. It parses once per call (the SDK memoizes a resolver within a call) and gives
    None when the arguments fail the model, which the tool's own validation then reports.
    """

    async def parse(ctx: Context[Any], **raw: Any) -> RequestModel | None:
        try:
            return model.model_validate({k: v for k, v in raw.items() if v is not None})
        except ValidationError:
            return None

    parameters = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Context)]
    parameters += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Any)
        for name in model.model_fields
    ]
    parse.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    parse.__annotations__ = {"ctx": Context, **dict.fromkeys(model.model_fields, Any)}
    parse.__name__ = parse.__qualname__ = f"parsed_{model.__name__}"
    return parse


class NoArguments(RequestModel):
    """A tool without arguments."""


def _hoist_descriptions(schema: dict[str, Any]) -> None:
    """Put an optional field's description next to its anyOf, where every client looks for it."""
    for node in walk(schema):
        for prop in (node.get("properties") or {}).values():
            if "description" not in prop and "anyOf" in prop:
                for arm in prop["anyOf"]:
                    if isinstance(arm, dict) and "description" in arm:
                        prop["description"] = arm.pop("description")
                        break


def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a tool's arguments, as the agent reads it (trimmed: see lean_schema)."""
    schema = model.model_json_schema(by_alias=True)
    _hoist_descriptions(schema)
    return lean_input_schema(schema)


@cache
def _output_schema(model: type[BaseModel]) -> dict[str, Any]:
    # The SDK's strict generator, as it would use itself: a type with no JSON form fails here.
    return outline_output_schema(full_output_schema(model))


def full_output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Every detail of what a tool returning `model` answers; results are checked against it in tests."""
    return model.model_json_schema(by_alias=True, schema_generator=StrictJsonSchema)


def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The outputSchema published for a tool returning `model`: its top level (see lean_schema)."""
    schema = _output_schema(model)
    if schema.get("type") != "object":
        raise TypeError(f"{model.__name__}: an output schema must describe an object")
    return copy.deepcopy(schema)  # each tool its own, so no caller can change another's


def arguments_model(spec: ToolSpec) -> type[ArgModelBase]:
    model = create_model(f"{spec.name}_arguments", __base__=(spec.arguments, ArgModelBase))
    return cast(type[ArgModelBase], model)


def _entry_point(spec: ToolSpec, field_names: frozenset[str]) -> Callable[..., Awaitable[CallToolResult]]:
    """The function the SDK calls: it rebuilds the validated model and hands it to the body."""

    async def call(ctx: Context[Any], **kwargs: Any) -> CallToolResult:
        values = {k: v for k, v in kwargs.items() if k in field_names}
        resolved = {k: v for k, v in kwargs.items() if k not in field_names}
        # Already validated by the SDK against this very model: construct, don't validate again.
        args = spec.arguments.model_construct(**values)
        return await spec.body(ctx, args, **resolved)

    parameters = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context)]
    parameters += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=hint) for name, hint in spec.resolved.items()
    ]
    parameters.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
    call.__signature__ = inspect.Signature(parameters, return_annotation=CallToolResult)  # type: ignore[attr-defined]
    call.__annotations__ = {"ctx": Context, **spec.resolved, "return": CallToolResult}
    call.__name__ = call.__qualname__ = spec.name
    return call


def build_tool(spec: ToolSpec, published: Mapping[str, Any] | None = None) -> Tool:
    """The SDK's Tool for `spec` (see the module docstring for why it is built by hand).

    `published`: its schemas as computed ahead ({"input": ..., "output": ...}, see published.py);
    without them they are computed from the models here.
    """
    arg_model = arguments_model(spec)
    if published is not None:
        parameters, returns = published["input"], published["output"]
    else:
        parameters, returns = input_schema(arg_model), output_schema(spec.output)
    fn = _entry_point(spec, frozenset(spec.arguments.model_fields))
    resolved = find_resolved_parameters(fn)
    plans = build_resolver_plans(resolved, set(arg_model.model_fields)) if resolved else {}
    return Tool(
        resolved_params=dict(resolved),
        resolver_plans=plans,
        fn=fn,
        name=spec.name,
        title=spec.title,
        description=spec.description,
        parameters=parameters,
        # No output_model: every body builds its structured result from an instance of `output`
        # (results.tool_result dumps a model), so the SDK's second validation of that dump, per
        # call, would check what pydantic already made. Clients still check it against the schema
        # (mcp.Client does, in every test of a tool's answer).
        fn_metadata=FuncMetadata(arg_model=arg_model, output_schema=returns),
        is_async=True,
        context_kwarg="ctx",
        annotations=spec.annotations,
        meta=dict(spec.meta) if spec.meta else None,
    )

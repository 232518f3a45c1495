"""The schemas an agent reads on every tools/list: lean, and honest about what they accept.

Input schemas are trimmed (lean_schema.py) yet accept exactly what pydantic's do: a property test
tries values and one-change spoilings of them against both. Output schemas are outlines of the
top level: they accept every result the model can produce (None fields left out, as results are
sent) and still refuse a result with a wrong top-level type or a missing required field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from mcp import Client
from mcp.server.mcpserver.utilities.func_metadata import StrictJsonSchema
from pydantic import BaseModel, Field

from flora_mcp.server import results
from flora_mcp.server.tools import build_tools, tool_specs
from flora_mcp.server.tools.lean_schema import lean_input_schema, outline_output_schema, strip_titles
from flora_mcp.server.tools.registry import arguments_model, input_schema, output_schema

# Every model a tool returns, new tools included.
OUTPUT_MODELS: list[type[BaseModel]] = list(dict.fromkeys(spec.output for spec in tool_specs()))

# Every tool's arguments model, as the SDK validates calls with it.
ARGUMENT_MODELS = {spec.name: arguments_model(spec) for spec in tool_specs()}
# Keywords that constrain an argument's values: the trimming may respell them, never drop them.
CONSTRAINTS = ("pattern", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "required")


def pydantic_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The output schema the SDK would publish for `model` on its own."""
    return model.model_json_schema(by_alias=True, schema_generator=StrictJsonSchema)


def all_dicts(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from all_dicts(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_dicts(value)


def title_keywords(schema: dict[str, Any]) -> list[str]:
    """Every `title` keyword left (a property named title would map to a dict, not a string)."""
    return [node["title"] for node in all_dicts(schema) if isinstance(node.get("title"), str)]


def constraint_census(schema: dict[str, Any]) -> Counter[tuple[str, str]]:
    """How often each constraint appears with each value (a dict under a keyword's name is a property)."""
    return Counter(
        (key, repr(node[key]))
        for node in all_dicts(schema)
        for key in CONSTRAINTS
        if key in node and not isinstance(node[key], dict)
    )


def descriptions(schema: dict[str, Any]) -> list[str]:
    return sorted(node["description"] for node in all_dicts(schema) if isinstance(node.get("description"), str))


# --- values to try against both schemas -----------------------------------------------------------
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)


def conforming(schema: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values shaped like `schema`: each anyOf arm (null included), optional keys present or not."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return st.deferred(lambda: conforming(defs[name], defs))
    if "anyOf" in schema:
        return st.one_of([conforming(arm, defs) for arm in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {name: conforming(sub, defs) for name, sub in properties.items() if name in required},
            optional={name: conforming(sub, defs) for name, sub in properties.items() if name not in required},
        )
    if kind == "array":
        return st.lists(conforming(schema.get("items", {}), defs), max_size=2)
    if kind == "string" and "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)  # an id, a key: mostly values that match
    simple: dict[str, st.SearchStrategy[Any]] = {
        "string": st.text(max_size=4),
        "number": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
        "integer": st.integers(),
        "boolean": st.booleans(),
        "null": st.none(),
    }
    return simple.get(kind, ANY_JSON) if isinstance(kind, str) else ANY_JSON


# What a wrong value can be: each JSON type, and a string outside any enum.
WRONG_VALUES: tuple[Any, ...] = (None, "zz", 7, 1.5, True, [], {})


def spoilings(value: Any) -> Iterator[Any]:
    """`value` with one change at one place, for every place: a value swapped, a key dropped or added."""
    if isinstance(value, dict):
        yield {**value, "unexpected": 1}
        for key, item in value.items():
            yield {name: other for name, other in value.items() if name != key}
            for spoiled in spoilings(item):
                yield {**value, key: spoiled}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for spoiled in spoilings(item):
                yield [*value[:index], spoiled, *value[index + 1 :]]
    for wrong in WRONG_VALUES:
        if wrong != value or type(wrong) is not type(value):
            yield wrong


@cache
def output_judges(model: type[BaseModel]) -> tuple[st.SearchStrategy[Any], Draft202012Validator, Draft202012Validator]:
    full = pydantic_schema(model)
    return (
        conforming(full, full.get("$defs", {})),
        Draft202012Validator(full),
        Draft202012Validator(output_schema(model)),
    )


@cache
def input_judges(tool: str) -> tuple[st.SearchStrategy[Any], Draft202012Validator, Draft202012Validator]:
    full = ARGUMENT_MODELS[tool].model_json_schema(by_alias=True)
    return (
        conforming(full, full.get("$defs", {})),
        Draft202012Validator(full),
        Draft202012Validator(input_schema(ARGUMENT_MODELS[tool])),
    )


def as_sent(value: Any) -> Any:
    """A result as results.tool_result sends it: None fields left out."""
    if isinstance(value, dict):
        return {key: as_sent(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [as_sent(item) for item in value]
    return value


def top_level_spoilings(value: dict[str, Any], schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`value` with a required field dropped, or a field of a JSON type its schema never takes."""
    for name in schema.get("required", []):
        yield {key: item for key, item in value.items() if key != name}
    for name in value:
        for wrong in WRONG_VALUES:
            if wrong is None:
                continue  # a result never carries null (as_sent); the outline refuses it, pydantic's may not
            spoiled = {**value, name: wrong}
            if not Draft202012Validator(schema).is_valid(spoiled):
                yield spoiled


@pytest.mark.parametrize("tool", sorted(ARGUMENT_MODELS))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_lean_input_schema_accepts_what_pydantics_accepts_with_optional_arguments_left_out_not_null(
    tool: str, data: st.DataObject
) -> None:
    values, full, lean = input_judges(tool)
    value = data.draw(values)
    for candidate in [value, *spoilings(value)]:
        if has_null_field(candidate):
            # An optional argument is published without its null alternative: an agent leaves it
            # out (the server takes null there too). With the nulls left out, the two agree.
            candidate = as_sent(candidate)
        assert lean.is_valid(candidate) == full.is_valid(candidate), candidate


def has_null_field(value: Any) -> bool:
    if isinstance(value, dict):
        return any(item is None or has_null_field(item) for item in value.values())
    if isinstance(value, list):
        return any(has_null_field(item) for item in value)
    return False


@pytest.mark.parametrize("model", OUTPUT_MODELS, ids=lambda model: model.__name__)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_an_output_outline_accepts_every_result_and_refuses_a_wrong_top_level(
    model: type[BaseModel], data: st.DataObject
) -> None:
    values, full, outline = output_judges(model)
    value = as_sent(data.draw(values))
    assert full.is_valid(value)
    assert outline.is_valid(value), value
    for spoiled in top_level_spoilings(value, outline.schema):
        assert not full.is_valid(spoiled), spoiled  # the outline refuses nothing pydantic's would take


@pytest.mark.parametrize("model", OUTPUT_MODELS, ids=lambda model: model.__name__)
def test_an_outline_keeps_every_property_required_fields_and_top_level_enums(model: type[BaseModel]) -> None:
    full = pydantic_schema(model)
    outline = output_schema(model)
    assert outline["type"] == "object"
    assert outline["required"] == full["required"]
    assert list(outline["properties"]) == list(full["properties"])
    for name, prop in outline["properties"].items():
        assert prop == {} or "type" in prop, name  # {} only for a field of any JSON value
        assert "null" not in (prop.get("type") or []), name  # a None field is left out, not sent as null
    assert "$defs" not in outline
    assert title_keywords(outline) == [] and descriptions(outline) == []


def test_an_outline_names_an_optional_field_with_its_type_and_an_enum_with_its_values() -> None:
    outline = output_schema(results.TechniqueStartResult)
    assert outline["properties"]["run_id"] == {"type": "string"}  # optional: absent when None, never null
    assert outline["properties"]["outcome"]["enum"] == ["started", "repeat", "recovered", "accepted_earlier"]
    assert outline["properties"]["outputs"] == {"type": "array"}
    assert outline["properties"]["next"] == {"type": "object"}
    wait = output_schema(results.WaitResult)
    assert not Draft202012Validator(wait).is_valid({"run_id": "r", "status": "running", "finished": False,
                                                    "progress_percent": 1, "error_code": None, "waited_seconds": 1,
                                                    "polls": 1, "budget_exhausted": False})  # fmt: skip


class Article(BaseModel):
    """A model whose fields are named like schema keywords."""

    title: str = Field(description="The article's title.")
    default: int | None = None
    tags: list[str] = []


def test_properties_named_title_or_default_survive_the_trimming() -> None:
    stripped = strip_titles(Article.model_json_schema())
    assert set(stripped["properties"]) == {"title", "default", "tags"}
    assert stripped["properties"]["title"] == {"description": "The article's title.", "type": "string"}
    lean = lean_input_schema(Article.model_json_schema())
    assert lean["properties"]["default"] == {"type": "integer"}
    outline = outline_output_schema(Article.model_json_schema())
    assert outline["properties"] == {
        "title": {"type": "string"},
        "default": {"type": "integer"},
        "tags": {"type": "array"},
    }
    assert outline["required"] == ["title"]


def test_an_optional_argument_has_its_one_type_and_a_required_nullable_one_keeps_null() -> None:
    class Query(BaseModel):
        kind: Literal["a", "b"] | None = Field(default=None, description="Which kind.")
        name: str | None = Field(default=None, max_length=9)
        must: str | None  # required, and may be null

    lean = lean_input_schema(Query.model_json_schema())
    assert lean["properties"]["kind"] == {"enum": ["a", "b"], "type": "string", "description": "Which kind."}
    assert lean["properties"]["name"] == {"maxLength": 9, "type": "string"}
    assert lean["properties"]["must"]["type"] == ["string", "null"]
    assert Draft202012Validator(lean).is_valid({"must": None}) and not Draft202012Validator(lean).is_valid(
        {"must": "x", "name": None}
    ), "left out, not null: how an agent says none"


def test_a_flag_that_defaults_to_false_drops_the_default_other_defaults_stay() -> None:
    class Flags(BaseModel):
        again: bool = Field(default=False, description="true: do it again.")
        loud: bool = True
        limit: int = 20

    props = lean_input_schema(Flags.model_json_schema())["properties"]
    assert props["again"] == {"type": "boolean", "description": "true: do it again."}
    assert props["loud"]["default"] is True and props["limit"]["default"] == 20


def test_a_definition_used_twice_stays_shared_and_one_used_once_is_inlined() -> None:
    class Point(BaseModel):
        x: int

    class Box(BaseModel):
        x: int

    class Shape(BaseModel):
        corner: Point
        other_corner: Point
        box: Box | None = None

    lean = lean_input_schema(Shape.model_json_schema())
    assert set(lean["$defs"]) == {"Point"}
    assert lean["properties"]["corner"] == {"$ref": "#/$defs/Point"}
    assert lean["properties"]["box"]["type"] == "object"
    assert lean["properties"]["box"]["properties"] == {"x": {"type": "integer"}}


def test_a_recursive_definition_is_left_as_a_reference() -> None:
    class Node(BaseModel):
        children: list[Node] = []

    class Tree(BaseModel):
        root: Node

    lean = lean_input_schema(Tree.model_json_schema())
    assert lean["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert Draft202012Validator(lean).is_valid({"root": {"children": [{"children": []}]}})
    assert not Draft202012Validator(lean).is_valid({"root": {"children": [{"children": 3}]}})


def test_the_input_schemas_keep_every_constraint_and_description() -> None:
    for tool in build_tools():
        listed = tool.parameters
        original = tool.fn_metadata.arg_model.model_json_schema(by_alias=True)
        assert title_keywords(listed) == [], tool.name
        assert constraint_census(listed) == constraint_census(original), tool.name
        # A description may only go where a field's own replaced its type's (the field's is the one shown).
        assert set(descriptions(listed)) <= set(descriptions(original)), tool.name
        assert "examples" not in {key for node in all_dicts(listed) for key in node}, tool.name


@pytest.mark.anyio
async def test_no_schema_in_the_tool_list_carries_a_title_keyword(client: Client) -> None:
    for tool in (await client.list_tools()).tools:
        assert title_keywords(tool.input_schema) == [], tool.name
        assert title_keywords(tool.output_schema or {}) == [], tool.name
        assert tool.title, tool.name  # the tool's own display title stays

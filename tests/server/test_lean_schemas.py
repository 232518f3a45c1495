"""The schemas an agent reads on every tools/list: lean, yet accepting exactly what pydantic's do.

Output schemas are trimmed (lean_schema.py); a property test checks that the trimmed schema and
pydantic's own accept and refuse the same values. Input schemas only lose `title` keywords.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from mcp import Client
from mcp.server.mcpserver.utilities.func_metadata import StrictJsonSchema
from pydantic import BaseModel, Field

from flora_mcp.server import results
from flora_mcp.server.tools import build_tools, tool_specs
from flora_mcp.server.tools.lean_schema import lean_output_schema, strip_titles
from flora_mcp.server.tools.registry import output_schema

# Every model a tool returns, new tools included.
OUTPUT_MODELS: list[type[BaseModel]] = list(dict.fromkeys(spec.output for spec in tool_specs()))

# Keywords that constrain or explain an argument; stripping titles must keep every one of them.
KEPT_INPUT_KEYWORDS = (
    "description",
    "enum",
    "const",
    "pattern",
    "format",
    "required",
    "additionalProperties",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "default",
    "examples",
    "type",
    "$ref",
)


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


def keyword_census(schema: dict[str, Any]) -> Counter[tuple[str, str]]:
    """How often each keyword appears with each value (a dict under a keyword's name is a property)."""
    return Counter(
        (key, repr(node[key]))
        for node in all_dicts(schema)
        for key in KEPT_INPUT_KEYWORDS
        if key in node and not isinstance(node[key], dict)
    )


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
def judges(model: type[BaseModel]) -> tuple[st.SearchStrategy[Any], Draft202012Validator, Draft202012Validator]:
    full = pydantic_schema(model)
    return (
        conforming(full, full.get("$defs", {})),
        Draft202012Validator(full),
        Draft202012Validator(output_schema(model)),
    )


@pytest.mark.parametrize("model", OUTPUT_MODELS, ids=lambda model: model.__name__)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_lean_output_schema_accepts_exactly_what_pydantics_schema_accepts(
    model: type[BaseModel], data: st.DataObject
) -> None:
    values, full, lean = judges(model)
    value = data.draw(values)
    for candidate in [value, *spoilings(value)]:
        assert lean.is_valid(candidate) == full.is_valid(candidate), candidate


@pytest.mark.parametrize("model", OUTPUT_MODELS, ids=lambda model: model.__name__)
def test_lean_output_schemas_keep_types_required_fields_and_enums_but_no_titles_or_defaults(
    model: type[BaseModel],
) -> None:
    full = pydantic_schema(model)
    lean = output_schema(model)
    assert lean["type"] == "object"
    assert lean["required"] == full["required"]
    assert set(lean["properties"]) == set(full["properties"])
    assert title_keywords(lean) == []
    assert not any("default" in node for node in all_dicts(lean["properties"].values()) if "type" in node)
    enums = {repr(node["enum"]) for node in all_dicts(full) if "enum" in node}
    assert enums == {repr(node["enum"]) for node in all_dicts(lean) if "enum" in node}


def test_output_schemas_carry_no_description_text_but_keep_a_property_named_description() -> None:
    # No client hands an output schema's text to the model; a field called "description" stays.
    lean = output_schema(results.RunResult)
    assert [node for node in all_dicts(lean) if isinstance(node.get("description"), str)] == []
    assert set(lean["properties"]) == set(pydantic_schema(results.RunResult)["properties"])

    def has_a_description_field(schema: dict[str, Any]) -> bool:
        return any(isinstance(node.get("properties"), dict) and "description" in node["properties"]
                   for node in all_dicts(schema))  # fmt: skip

    model = next(m for m in OUTPUT_MODELS if has_a_description_field(pydantic_schema(m)))
    assert has_a_description_field(output_schema(model)), model.__name__


def test_an_optional_field_becomes_a_type_list_that_still_allows_null() -> None:
    lean = output_schema(results.RunResult)
    assert lean["properties"]["error_code"] == {"type": ["string", "null"]}
    assert Draft202012Validator(lean).is_valid({"run_id": "r", "status": "running", "finished": False,
                                                "progress_percent": 1, "error_code": None})  # fmt: skip


class Article(BaseModel):
    """A model whose fields are named like schema keywords."""

    title: str = Field(description="The article's title.")
    default: int | None = None
    tags: list[str] = []


def test_properties_named_title_or_default_survive_the_trimming() -> None:
    stripped = strip_titles(Article.model_json_schema())
    assert set(stripped["properties"]) == {"title", "default", "tags"}
    assert stripped["properties"]["title"] == {"description": "The article's title.", "type": "string"}
    lean = lean_output_schema(Article.model_json_schema())
    assert set(lean["properties"]) == {"title", "default", "tags"}
    assert lean["required"] == ["title"]


def test_a_definition_used_twice_stays_shared_and_one_used_once_is_inlined() -> None:
    class Point(BaseModel):
        x: int

    class Box(BaseModel):
        x: int

    class Shape(BaseModel):
        corner: Point
        other_corner: Point
        box: Box | None = None

    lean = lean_output_schema(Shape.model_json_schema())
    assert set(lean["$defs"]) == {"Point"}
    assert lean["properties"]["corner"] == {"$ref": "#/$defs/Point"}
    assert lean["properties"]["box"]["type"] == ["object", "null"]
    assert lean["properties"]["box"]["properties"] == {"x": {"type": "integer"}}


def test_a_recursive_definition_is_left_as_a_reference() -> None:
    class Node(BaseModel):
        children: list[Node] = []

    class Tree(BaseModel):
        root: Node

    lean = lean_output_schema(Tree.model_json_schema())
    assert lean["$defs"]["Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node"}
    assert Draft202012Validator(lean).is_valid({"root": {"children": [{"children": []}]}})
    assert not Draft202012Validator(lean).is_valid({"root": {"children": [{"children": 3}]}})


def test_the_input_schemas_lose_titles_and_nothing_else() -> None:
    for tool in build_tools():
        listed = tool.parameters
        original = tool.fn_metadata.arg_model.model_json_schema(by_alias=True)
        assert title_keywords(listed) == [], tool.name
        assert keyword_census(listed) == keyword_census(original), tool.name


@pytest.mark.anyio
async def test_no_schema_in_the_tool_list_carries_a_title_keyword(client: Client) -> None:
    for tool in (await client.list_tools()).tools:
        assert title_keywords(tool.input_schema) == [], tool.name
        assert title_keywords(tool.output_schema or {}) == [], tool.name
        assert tool.title, tool.name  # the tool's own display title stays

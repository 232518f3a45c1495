"""Pydantic's JSON schemas, trimmed to what an agent needs, accepting exactly the same values.

An agent reads every tool's schemas on each tools/list, and pydantic's output carries much
that says nothing: a `title` per property (its name, title-cased), and in an output schema every
`description` (no client hands an output schema's text to the model: it reads the result, and the
tool's description says what comes back), `default` values, `additionalProperties: true` (the
default anyway) and `anyOf: [X, {"type": "null"}]` wrappers. Everything removed here is an annotation or a
spelling of the same constraint, so a trimmed schema accepts exactly the values the original
accepts: the client-side check of structuredContent against outputSchema is unchanged.

The walk is schema-aware: it edits schema objects only, never the maps of property names, so a
property that happens to be called "title" or "default" survives.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

Schema = dict[str, Any]

# Where a schema keeps its subschemas: maps of them, lists of them, or one.
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_SCHEMA_ONE = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "contains",
        "if",
        "then",
        "else",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
    }
)
_DEFS_PREFIX = "#/$defs/"
_NULL = {"type": "null"}
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "deprecated", "readOnly", "writeOnly"})
# Keywords that only constrain values of one JSON type, so they let a null through untouched.
_TYPE_SPECIFIC = _ANNOTATIONS | {
    "type",
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "properties",
    "patternProperties",
    "additionalProperties",
    "required",
    "minProperties",
    "maxProperties",
    "propertyNames",
}


def subschemas(schema: Schema) -> Iterator[Schema]:
    """The schema objects directly inside `schema` (not `schema` itself)."""
    for key, value in list(schema.items()):
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            yield from (child for child in value.values() if isinstance(child, dict))
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            yield from (child for child in value if isinstance(child, dict))
        elif key in _SCHEMA_ONE and isinstance(value, dict):
            yield value


def walk(schema: Schema) -> Iterator[Schema]:
    """`schema` and every schema object inside it, parents first."""
    yield schema
    for child in subschemas(schema):
        yield from walk(child)


def strip_titles(schema: Schema) -> Schema:
    """Remove every `title` keyword (in place); returns `schema`."""
    for node in walk(schema):
        node.pop("title", None)
    return schema


def lean_output_schema(schema: Schema) -> Schema:
    """A trimmed copy of an output schema: types and constraints only, the same values accepted."""
    lean = copy.deepcopy(schema)
    for node in walk(lean):
        # Docstrings and field descriptions: about half of every tools/list, read by no model.
        node.pop("description", None)
        node.pop("title", None)
        node.pop("default", None)  # an answer has values, not defaults
        if node.get("additionalProperties") is True:
            del node["additionalProperties"]
    _inline_single_use_defs(lean)
    for node in walk(lean):
        _merge_nullable(node)
    return lean


def _ref_name(node: Schema) -> str | None:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_DEFS_PREFIX):
        return ref.removeprefix(_DEFS_PREFIX)
    return None


def _refs_in(schema: Schema) -> Iterator[str]:
    for node in walk(schema):
        name = _ref_name(node)
        if name is not None:
            yield name


def _reaches(defs: dict[str, Schema], start: str, target: str) -> bool:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        for ref in _refs_in(defs.get(name, {})):
            if ref == target:
                return True
            if ref not in seen:
                seen.add(ref)
                todo.append(ref)
    return False


def _inline_single_use_defs(schema: Schema) -> None:
    """Put each definition referenced exactly once (and not recursive) where it is used."""
    defs: dict[str, Schema] = schema.get("$defs") or {}
    if not defs:
        return
    uses: dict[str, int] = {}
    for name in _refs_in({key: value for key, value in schema.items() if key != "$defs"}):
        uses[name] = uses.get(name, 0) + 1
    for definition in defs.values():
        for name in _refs_in(definition):
            uses[name] = uses.get(name, 0) + 1
    inline = {name for name, count in uses.items() if count == 1 and name in defs and not _reaches(defs, name, name)}
    if not inline:
        return
    bodies = {name: defs.pop(name) for name in inline}
    if not defs:
        del schema["$defs"]

    def replace(node: Schema) -> None:
        name = _ref_name(node)
        if name in bodies:
            body = bodies.pop(name)
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            node.clear()
            if set(siblings) & set(body) <= _ANNOTATIONS:
                # Annotations written beside the $ref (a field's description) win over the definition's.
                node.update(body, **siblings)
            else:
                node.update(allOf=[body], **siblings)  # both sets of constraints apply, as with the $ref
        for child in subschemas(node):  # also the definitions that stayed shared
            replace(child)

    replace(schema)


def _merge_nullable(node: Schema) -> None:
    """`anyOf: [{"type": T, ...}, {"type": "null"}]` becomes `{"type": [T, "null"], ...}` (in place).

    Only where that is the same constraint: the arm's keywords must all be ones that apply to its
    own type alone (null is then checked by `type` only), so an arm with `enum`, `const` or a
    combinator stays as it is.
    """
    arms = node.get("anyOf")
    if not isinstance(arms, list) or len(arms) != 2 or _NULL not in arms:
        return
    other = arms[0] if arms[1] == _NULL else arms[1]
    if not isinstance(other.get("type"), str) or not set(other) <= _TYPE_SPECIFIC:
        return
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    if not set(rest) <= _ANNOTATIONS:
        return
    node.clear()
    # The field's own description (beside the anyOf) wins over the arm's.
    node.update(other, **rest)
    node["type"] = [other["type"], "null"]

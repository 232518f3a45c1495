"""Pydantic's JSON schemas, trimmed to what an agent needs: an agent reads them on every tools/list.

Input schemas (`lean_input_schema`) say what the server accepts, in fewer bytes: pydantic's
`title` per property (its name, title-cased), `"default": null` on an optional field (`required`
already says it may be left out), `additionalProperties: true` (the default anyway) and single-use
`$defs` (inlined where used) go; every description, enum, pattern, bound and `required` stays.
An optional argument is published with its one type, without the `null` alternative pydantic
writes for `X | None`: leaving it out is how an agent says "none", and a single `type` is what
every client's schema dialect takes (a type list or an anyOf with null trips Gemini-style
function declarations; the MCP Inspector's --strict check warns about both). The server still
accepts an explicit null there, as left out. Otherwise the trimmed schema accepts exactly the
values pydantic's accepts.

Output schemas (`outline_output_schema`) are for programs: no client hands an output schema's
text to the model (it reads the result; the tool's description says what comes back). The outline
keeps the top-level property names with their JSON types, their enums and `required`; a nested
object or list is typed "object" or "array" and its inside is not spelled out. A result is sent
without its None fields (results.tool_result dumps with exclude_none), so an optional field is
absent, never null, and the outline types it without null. Every value the full schema accepts,
its None fields left out, the outline accepts too; tests check results against the full schema.

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


def lean_input_schema(schema: Schema) -> Schema:
    """A trimmed copy of an arguments schema: every constraint and description, the same values accepted."""
    lean = copy.deepcopy(schema)
    for node in walk(lean):
        node.pop("title", None)
        if "default" in node and node["default"] is None:
            del node["default"]  # optional is what `required` says; null is no advice
        elif node.get("default") is False and node.get("type") == "boolean":
            del node["default"]  # an optional flag left out is false: the default says nothing more
        if node.get("additionalProperties") is True:
            del node["additionalProperties"]
    _inline_single_use_defs(lean)
    for node in walk(lean):
        _optional_without_null(node)
    for node in walk(lean):
        _merge_nullable(node)  # what stays nullable (a required field that may be null) as a type list
    return lean


def _optional_without_null(node: Schema) -> None:
    """Each optional property of `node` written `anyOf: [X, {"type": "null"}]` becomes X (in place)."""
    required = set(node.get("required") or ())
    properties = node.get("properties") or {}
    for name, prop in properties.items():
        other = _non_null_arm(prop)
        if name in required or other is None:
            continue
        annotations = {key: value for key, value in prop.items() if key != "anyOf"}
        # The field's own description (beside the anyOf) wins over the arm's.
        properties[name] = _without_null({**other, **annotations})


def _non_null_arm(node: Schema) -> Schema | None:
    """X, when `node` is `anyOf: [X, {"type": "null"}]` with nothing but annotations beside it."""
    arms = node.get("anyOf")
    if not isinstance(arms, list) or len(arms) != 2 or _NULL not in arms:
        return None
    if not set(node) - {"anyOf"} <= _ANNOTATIONS:
        return None
    other: Schema = arms[0] if arms[1] == _NULL else arms[1]
    return other


def outline_output_schema(schema: Schema) -> Schema:
    """The top level of an output schema: property names, JSON types, enums and `required`.

    Accepts every value `schema` accepts (and more below the top level); see the module docstring.
    """
    defs: dict[str, Schema] = schema.get("$defs") or {}
    outline: Schema = {"type": "object"}
    outline["properties"] = {
        name: _without_null(_outline(sub, defs)) for name, sub in (schema.get("properties") or {}).items()
    }
    if schema.get("required"):
        outline["required"] = list(schema["required"])
    return outline


def _outline(node: Schema, defs: dict[str, Schema]) -> Schema:
    """What a value of `node` is at its top: its JSON type(s), and its enum or const when it has one."""
    name = _ref_name(node)
    if name is not None and name in defs:
        return _outline(defs[name], defs)
    arms = node.get("anyOf") or node.get("oneOf")
    if isinstance(arms, list):
        return _union([_outline(arm, defs) for arm in arms if isinstance(arm, dict)])
    kept: Schema = {key: node[key] for key in ("type", "enum", "const") if key in node}
    if "allOf" in node and "type" not in kept:
        return {}  # a value of some intersection: left unconstrained at this level (accepts a superset)
    return kept


def _without_null(node: Schema) -> Schema:
    """`node` with null taken out of its type and enum: a field that would be null is left out instead."""
    kinds = node.get("type")
    if isinstance(kinds, list) and "null" in kinds:
        rest = [kind for kind in kinds if kind != "null"]
        node = {**node, "type": rest[0] if len(rest) == 1 else rest}
    if isinstance(node.get("enum"), list) and None in node["enum"]:
        node = {**node, "enum": [value for value in node["enum"] if value is not None]}
    return node


def _union(arms: list[Schema]) -> Schema:
    """One schema for "any of `arms`": a type list where that says the same, else the anyOf itself."""
    if any(arm == {} for arm in arms):
        return {}  # one arm accepts anything, so the union does
    if all(set(arm) == {"type"} for arm in arms):
        types: list[Any] = []
        for arm in arms:
            for kind in arm["type"] if isinstance(arm["type"], list) else [arm["type"]]:
                if kind not in types:
                    types.append(kind)
        return {"type": types[0] if len(types) == 1 else types}
    if len(arms) == 2 and _NULL in arms:
        merged = {"anyOf": arms}
        _merge_nullable(merged)
        return merged
    return {"anyOf": arms}


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
    own type alone (null is then checked by `type` only), or an `enum`, which then lists null too.
    An arm with `const` or a combinator stays as it is.
    """
    other = _non_null_arm(node)
    if other is None or not isinstance(other.get("type"), str) or not set(other) <= _TYPE_SPECIFIC | {"enum"}:
        return
    if "enum" in other and not isinstance(other["enum"], list):
        return
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    node.clear()
    # The field's own description (beside the anyOf) wins over the arm's.
    node.update(other, **rest)
    node["type"] = [other["type"], "null"]
    if "enum" in other:
        node["enum"] = [*other["enum"], None]

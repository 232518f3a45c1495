"""Checking start bodies and list queries the way FLORA does, field by field.

Each check collects every problem it finds as (field, message) and raises one 400
input_validation_error naming them all. Ids that name nothing the key can see answer 404
not_found instead (FLORA's answer for a project the key cannot see), except a model or a
technique named in a start body, which are field errors.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flora_mcp.sandbox import seed
from flora_mcp.sandbox.errors import ApiError, not_found, validation_error

GENERATION_TYPES = ("image", "video", "audio", "text")
RUN_STATUSES = ("pending", "running", "completed", "failed")
INPUT_TYPES = ("text", "imageUrl", "videoUrl", "audioUrl", "documentUrl")  # string-valued input types
NESTED_INPUT_TYPES = ("text", "imageUrl", "videoUrl")  # the nested route documents only these
MODES = ("async", "stream")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100

Fields = list[tuple[str, str]]


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    return body


def _prefixed(fields: Fields, body: dict[str, Any], name: str, prefix: str, what: str) -> str:
    value = body.get(name)
    if value is None or value == "":
        fields.append((name, "Required"))
    elif not isinstance(value, str):
        fields.append((name, "Expected string"))
    elif not value.startswith(prefix) or len(value) == len(prefix):
        fields.append((name, f"Must be a {what} id starting with {prefix} (from list {what}s)"))
    else:
        return value
    return ""


def _text(fields: Fields, body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        fields.append((name, "Required"))
    elif not isinstance(value, str):
        fields.append((name, "Expected string"))
    else:
        return value
    return ""


def require_workspace(workspace_id: str) -> None:
    if not seed.workspace_exists(workspace_id):
        raise not_found(f"Workspace {workspace_id} not found.")


ProjectLookup = Callable[[str], "seed.SeedProject | None"]


def require_project(project_id: str, workspace_id: str, find: ProjectLookup = seed.find_project) -> None:
    project = find(project_id)
    if project is None or project.workspace_id != workspace_id:
        raise not_found(f"Project {project_id} not found.")


@dataclass(frozen=True)
class GenerationStart:
    workspace_id: str
    project_id: str
    prompt: str
    model: seed.SeedModel
    # Kept as sent and never checked: like FLORA, an unknown value runs at the default and bills.
    params: dict[str, Any] | None = None


def check_generation(body: dict[str, Any], find_project: ProjectLookup = seed.find_project) -> GenerationStart:
    """A generation start's body; `find_project` also knows the projects made through the API."""
    fields: Fields = []
    workspace_id = _prefixed(fields, body, "workspace_id", "ws_", "workspace")
    project_id = _prefixed(fields, body, "project_id", "prj_", "project")
    prompt = _text(fields, body, "prompt")
    kind = body.get("type")
    if kind is None:
        fields.append(("type", "Required"))
    elif kind not in GENERATION_TYPES:
        fields.append(("type", 'Expected "image", "video", "audio" or "text" (not a model family such as t2i)'))
        kind = None
    model: seed.SeedModel | None = None
    model_id = body.get("model")
    if model_id is not None:
        model = seed.find_model(model_id) if isinstance(model_id, str) else None
        if model is None:
            fields.append(("model", f"Unknown model {model_id!r}; use a model_id from GET /models"))
        elif kind and model.type != kind:
            fields.append(("model", f"Model {model.model_id} is a {model.type} model, not {kind}"))
    params = body.get("params")
    if params is not None and not isinstance(params, dict):
        fields.append(("params", "Expected object"))
    if fields:
        raise validation_error(fields)
    require_workspace(workspace_id)
    require_project(project_id, workspace_id, find_project)
    return GenerationStart(workspace_id, project_id, prompt, model or seed.default_model(str(kind)), params)


def check_technique_inputs(technique: seed.SeedTechnique, inputs: dict[str, Any], fields: Fields) -> None:
    """Inputs as an id -> value map: known ids, string values (a list of them where allow_multiple is
    set; an http(s) URL for a URL type; any JSON for a json input), required ones present."""
    known = {i.id: i for i in technique.inputs}
    for key, value in inputs.items():
        spec = known.get(key)
        if spec is None:
            fields.append((f"inputs.{key}", f"Unknown input; {technique.slug} takes {', '.join(known)}"))
            continue
        if spec.type not in INPUT_TYPES:
            continue  # e.g. a "json" input: FLORA's map[unknown] takes any value
        values = value if isinstance(value, list) and spec.allow_multiple else [value]
        for item in values:
            if not isinstance(item, str):
                fields.append(
                    (f"inputs.{key}", "Expected string" + (" or array of strings" if spec.allow_multiple else ""))
                )
            elif spec.type != "text" and not item.startswith(("https://", "http://")):
                fields.append((f"inputs.{key}", f"Expected an http(s) URL ({spec.type})"))
    for spec in technique.inputs:
        if not spec.optional and (inputs.get(spec.id) is None or inputs.get(spec.id) == ""):
            fields.append((f"inputs.{spec.id}", "Required"))


@dataclass(frozen=True)
class TechniqueStart:
    technique: seed.SeedTechnique
    workspace_id: str
    inputs: dict[str, Any]


def check_top_level_technique(body: dict[str, Any]) -> TechniqueStart:
    fields: Fields = []
    technique_id = _prefixed(fields, body, "technique_id", "tech_", "technique")
    workspace_id = _prefixed(fields, body, "workspace_id", "ws_", "workspace")
    inputs = body.get("inputs")
    technique = seed.find_technique(technique_id) if technique_id else None
    if technique_id and technique is None:
        fields.append(("technique_id", f"Unknown technique {technique_id}; use an id from GET /techniques"))
    if inputs is None:
        fields.append(("inputs", "Required"))
    elif not isinstance(inputs, dict):
        fields.append(("inputs", "Expected object (input id -> value)"))
    elif technique is not None:
        check_technique_inputs(technique, inputs, fields)
    if fields or technique is None or not isinstance(inputs, dict):
        raise validation_error(fields)
    require_workspace(workspace_id)
    return TechniqueStart(technique, workspace_id, inputs)


@dataclass(frozen=True)
class NestedStart:
    inputs: dict[str, Any]
    idempotency_key: str | None


def check_nested_technique(technique: seed.SeedTechnique, body: dict[str, Any]) -> NestedStart:
    fields: Fields = []
    known = {i.id: i for i in technique.inputs}
    raw_inputs = body.get("inputs")
    inputs: dict[str, Any] = {}
    if raw_inputs is None:
        fields.append(("inputs", "Required"))
    elif not isinstance(raw_inputs, list):
        fields.append(("inputs", "Expected array of {id, type, value}"))
    else:
        for n, item in enumerate(raw_inputs):
            where = f"inputs[{n}]"
            if not isinstance(item, dict):
                fields.append((where, "Expected object {id, type, value}"))
                continue
            if not isinstance(item.get("id"), str) or not item["id"]:
                fields.append((f"{where}.id", "Required"))
                continue
            if item.get("type") not in NESTED_INPUT_TYPES:
                fields.append((f"{where}.type", 'Expected "text", "imageUrl" or "videoUrl"'))
            elif item["id"] in known and known[item["id"]].type != item["type"]:
                fields.append((f"{where}.type", f"Input {item['id']} takes {known[item['id']].type}"))
            if not isinstance(item.get("value"), str):
                fields.append((f"{where}.value", "Expected string"))
            spec = known.get(item["id"])
            if spec is not None and spec.allow_multiple:
                inputs.setdefault(item["id"], []).append(item.get("value"))
            else:
                inputs[item["id"]] = item.get("value")
        check_technique_inputs(technique, {k: v for k, v in inputs.items() if isinstance(v, str | list)}, fields)
    mode = body.get("mode")
    if mode is None:
        fields.append(("mode", "Required"))
    elif mode not in MODES:
        fields.append(("mode", 'Expected "async" or "stream"'))
    callback_url = body.get("callback_url")
    if callback_url is not None and (not isinstance(callback_url, str) or not callback_url.startswith("https://")):
        fields.append(("callback_url", "Must be an https:// URL"))
    key = body.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not key):
        fields.append(("idempotency_key", "Expected a non-empty string"))
    if fields:
        raise validation_error(fields)
    return NestedStart(inputs, key)


# --- list queries ----------------------------------------------------------------------------
def parse_limit(query: dict[str, str], fields: Fields) -> int:
    raw = query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        fields.append(("limit", "Expected a number"))
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        fields.append(("limit", f"Must be between 1 and {MAX_LIMIT}"))
    return limit


def encode_cursor(position: int) -> str:
    raw = json.dumps({"p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(query: dict[str, str], fields: Fields) -> int | None:
    """The position a cursor from encode_cursor() carries; None for the first page."""
    raw = query.get("cursor")
    if raw is None or raw == "":
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        position = decoded["p"]
        if not isinstance(position, int) or position < 0:
            raise ValueError
        return position
    except (ValueError, TypeError, KeyError, binascii.Error):
        fields.append(("cursor", "Invalid cursor; pass meta.next_cursor from the previous page"))
        return None


def check_prefixed_filter(query: dict[str, str], name: str, prefix: str, fields: Fields) -> str | None:
    value = query.get(name)
    if value is not None and (not value.startswith(prefix) or len(value) == len(prefix)):
        fields.append((name, f"Must start with {prefix}"))
    return value


def check_enum_filter(query: dict[str, str], name: str, allowed: tuple[str, ...], fields: Fields) -> str | None:
    value = query.get(name)
    if value is not None and value not in allowed:
        fields.append((name, "Expected one of " + ", ".join(allowed)))
    return value

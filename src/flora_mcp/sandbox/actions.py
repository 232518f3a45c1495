"""The action routes: GET /actions, GET /actions/{action_id} and POST /runs/action.

A start follows the order of the other starts (runs.py): admit, parse, the header key, validate,
charge, create, remember the key. FLORA validates an action's params against its schema, so
an unknown key, a value outside available_values or min/max, or a wrong type answers 400
naming the field; inputs are checked against the action's declared inputs the same way.

Input media load only from FLORA's own hosts: here, the sandbox's media origin (the origin the
request came in on, under /media/). A URL anywhere else is accepted, and the run then fails with
"Failed to load inputs", as FLORA's does. An action run is read with GET /runs/{run_id}; its
output is derived from its inputs and params, so a test can tell what it was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flora_mcp.sandbox import render, seed
from flora_mcp.sandbox.access import admit, origin
from flora_mcp.sandbox.errors import not_found, validation_error
from flora_mcp.sandbox.render import api_route
from flora_mcp.sandbox.runs import RunRoutes
from flora_mcp.sandbox.validation import Fields, parse_json_object, require_project, require_workspace

if TYPE_CHECKING:
    from flora_mcp.sandbox.app import Sandbox

MEDIA_OUTPUT_TYPES = {"image": "imageUrl", "video": "videoUrl", "audio": "audioUrl", "text": "text"}
LOAD_FAILURE = ("input_validation_error", "Failed to load inputs")


@dataclass(frozen=True)
class ActionStart:
    action: seed.SeedAction
    workspace_id: str
    project_id: str
    inputs: dict[str, list[str]]  # input name -> its URLs (or texts), in the order sent
    params: dict[str, Any]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _param_problem(spec: dict[str, Any], value: Any) -> str | None:
    kind = spec.get("type")
    if kind == "number" and not _number(value):
        return "Expected number"
    if kind == "string" and not isinstance(value, str):
        return "Expected string"
    if kind == "boolean" and not isinstance(value, bool):
        return "Expected boolean"
    allowed = spec.get("available_values")
    if allowed is not None and value not in allowed:
        return "Expected one of " + ", ".join(str(v) for v in allowed)
    low, high = spec.get("min_number_value"), spec.get("max_number_value")
    if _number(value) and ((low is not None and value < low) or (high is not None and value > high)):
        return f"Expected a number from {low} to {high}"
    return None


def _check_params(action: seed.SeedAction, params: Any, fields: Fields) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, dict):
        fields.append(("params", "Expected object"))
        return {}
    specs = {p["key"]: p for p in action.params}
    for key, value in params.items():
        spec = specs.get(key)
        if spec is None:
            fields.append((f"params.{key}", f"Unknown param of action {action.action_id}"))
        elif (problem := _param_problem(spec, value)) is not None:
            fields.append((f"params.{key}", problem))
    return dict(params)


def _check_inputs(action: seed.SeedAction, inputs: Any, fields: Fields) -> dict[str, list[str]]:
    if not isinstance(inputs, list) or not inputs:
        fields.append(("inputs", "Expected a non-empty array"))
        return {}
    declared = {d["name"]: d for d in action.inputs}
    given: dict[str, list[str]] = {}
    for index, item in enumerate(inputs):
        where = f"inputs.{index}"
        if not isinstance(item, dict):
            fields.append((where, "Expected object"))
            continue
        kind = item.get("type")
        # An unnamed input fills the first declared input of its type.
        name = item.get("name") or next((n for n, d in declared.items() if d["type"] == kind), None)
        spec = declared.get(name) if isinstance(name, str) else None
        if spec is None:
            fields.append((where, f"No input of this name or type in action {action.action_id}"))
            continue
        if kind != spec["type"]:
            fields.append((f"{where}.type", f"Expected {spec['type']}"))
            continue
        value = item.get("text") if kind == "text" else item.get("url")
        if not isinstance(value, str) or not value:
            fields.append((where, "Expected text" if kind == "text" else "Expected url"))
            continue
        given.setdefault(spec["name"], []).append(value)
    for name, spec in declared.items():
        count = len(given.get(name, []))
        multiple = spec.get("multiple")
        low = multiple.get("min", 1) if isinstance(multiple, dict) else 1
        high = multiple.get("max") if isinstance(multiple, dict) else None if multiple else 1
        if count == 0 and not spec.get("optional"):
            fields.append((f"inputs.{name}", "Required"))
        elif count and count < low:
            fields.append((f"inputs.{name}", f"At least {low} values"))
        elif high is not None and count > high:
            fields.append((f"inputs.{name}", f"At most {high} value(s)"))
    return given


def check_action_start(body: dict[str, Any], sandbox: Sandbox) -> ActionStart:
    fields: Fields = []
    action_id = body.get("action_id")
    action = seed.find_action(action_id) if isinstance(action_id, str) else None
    if action is None:
        fields.append(("action_id", "Required" if action_id is None else "Unknown action; use GET /actions"))
    workspace_id, project_id = body.get("workspace_id"), body.get("project_id")
    for name, value, prefix in (("workspace_id", workspace_id, "ws_"), ("project_id", project_id, "prj_")):
        if not isinstance(value, str) or not value.startswith(prefix):
            fields.append((name, f"Required: an id starting with {prefix}"))
    inputs = _check_inputs(action, body.get("inputs"), fields) if action else {}
    params = _check_params(action, body.get("params"), fields) if action else {}
    if fields or action is None:
        raise validation_error(fields)
    assert isinstance(workspace_id, str) and isinstance(project_id, str)
    require_workspace(workspace_id)
    require_project(project_id, workspace_id, sandbox.state.find_project)
    return ActionStart(action, workspace_id, project_id, inputs, params)


class ActionRoutes:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    def routes(self) -> list[Route]:
        return [
            api_route("GET", "/actions", self.actions),
            api_route("GET", "/actions/{action_id}", self.action),
            api_route("POST", "/runs/action", self.start_action),
        ]

    async def actions(self, request: Request) -> JSONResponse:
        admit(request, self.sb)
        return JSONResponse({"actions": [a.to_json() for a in seed.ACTIONS]})

    async def action(self, request: Request) -> JSONResponse:
        admit(request, self.sb)
        action = seed.find_action(request.path_params["action_id"])
        if action is None:
            raise not_found(f"Action {request.path_params['action_id']} not found.")
        return JSONResponse(action.to_json())

    async def start_action(self, request: Request) -> JSONResponse:
        runs = RunRoutes(self.sb)  # the start steps every start shares
        now = admit(request, self.sb)
        body = parse_json_object(await request.body())
        header_key = runs._refuse_duplicate_header_key(request, now)
        start = check_action_start(body, self.sb)
        runs._charge(start.action.charged_cost)
        here = origin(request) + "/media/"
        media = [
            v for spec in start.action.inputs if spec["type"] != "text" for v in start.inputs.get(spec["name"], [])
        ]
        loads = all(url.startswith(here) for url in media)
        output = start.action.outputs[0]
        run = runs._create(
            now,
            start.action.seconds,
            "",
            kind="action",
            charged_cost=start.action.charged_cost,
            workspace_id=start.workspace_id,
            project_id=start.project_id,
            output_type=MEDIA_OUTPUT_TYPES.get(output["type"], "imageUrl"),
            output_text=f"Sandbox {start.action.name.lower()} result",
            action_id=start.action.action_id,
            inputs={name: list(values) for name, values in start.inputs.items()},
            params=start.params,
        )
        if not loads:
            run.fails, run.failure = True, LOAD_FAILURE
        self.sb.state.remember_keys(run, now, header_key, None)
        return JSONResponse(render.start_response(run, origin(request)))

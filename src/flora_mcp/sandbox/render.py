"""Runs as FLORA's JSON: start answers, run states, and the items of the run lists; API routes.

Optional fields that do not apply yet (started_at of a pending run, outputs of a running one)
are left out, as FLORA documents them optional. URLs are absolute on the origin the request
came in on, so a client on a real socket and one in process each get URLs they can follow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from flora_mcp.sandbox import seed
from flora_mcp.sandbox.state import PROVIDER_ERROR_MESSAGE, Run

API_PREFIX = "/api/v1"
OUTPUT_ID = "output_1"
MEDIA_EXTENSIONS = {"imageUrl": "png", "audioUrl": "wav", "videoUrl": "mp4"}


def api_route(method: str, path: str, endpoint: Callable[..., Any]) -> Route:
    """A route under API_PREFIX named by its template ("GET /runs/{run_id}"), the name under which
    the gateway counts requests and tests queue faults."""
    return Route(API_PREFIX + path, endpoint, methods=[method], name=f"{method} {path}")


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def poll_url(run: Run, origin: str) -> str:
    if run.kind == "technique":
        return f"{origin}{API_PREFIX}/techniques/{run.technique_id}/runs/{run.run_id}"
    return f"{origin}{API_PREFIX}/runs/{run.run_id}"


def media_seed(run: Run) -> str:
    """What a run's media file is derived from: its source URLs when its model read any (so the
    output depends on the source, as a real edit or animation does), else its run id."""
    if run.kind == "action":
        # An action's output is a function of what it was given: its inputs and params.
        given = [str(v) for v in run.inputs.values()] + [f"{k}={v}" for k, v in sorted((run.params or {}).items())]
        return f"action:{run.action_id}\n" + "\n".join(given)
    model = seed.find_model(run.model_id) if run.model_id else None
    sources = model.sources(run.params) if model is not None else []
    return "source:" + "\n".join(sources) if sources else run.run_id


def media_path(run_id: str, extension: str) -> str:
    return f"/media/{run_id}/{OUTPUT_ID}.{extension}"


def outputs(run: Run, origin: str) -> list[dict[str, Any]]:
    if run.output_type == "text":
        url = run.output_text
    else:
        url = origin + media_path(run.run_id, MEDIA_EXTENSIONS[run.output_type])
    return [{"output_id": OUTPUT_ID, "type": run.output_type, "url": url}]


def start_response(run: Run, origin: str) -> dict[str, Any]:
    """The answer of POST /runs/generation, /generate and /runs/technique."""
    body: dict[str, Any] = {
        "charged_cost": run.charged_cost,
        "estimated_seconds": run.estimated_seconds,
        "run_id": run.run_id,
        "type": run.kind,
        "poll_url": poll_url(run, origin),
        "project_id": run.project_id,
    }
    if run.model_id:
        body["model"] = {"model_id": run.model_id}
    if run.action_id:
        body["action"] = {"action_id": run.action_id}
    if run.technique_id:
        body["technique"] = {"name": run.technique_name, "technique_id": run.technique_id}
    return body


def run_state(run: Run, origin: str, now: float) -> dict[str, Any]:
    """A RunState: GET /runs/{id}, GET /techniques/{id}/runs/{id}, the nested start's answer."""
    phase = run.phase(now)
    body: dict[str, Any] = {
        "run_id": run.run_id,
        "status": phase.status,
        "progress": phase.progress,
        "created_at": _ms(run.created),
        "charged_cost": run.charged_cost,
        "poll_url": poll_url(run, origin),
    }
    if phase.started is not None:
        body["started_at"] = _ms(phase.started)
    if phase.completed is not None:
        body["completed_at"] = _ms(phase.completed)
    if phase.status == "failed":
        body["error_code"], body["error_message"] = run.failure or ("provider_error", PROVIDER_ERROR_MESSAGE)
    if phase.status == "completed":
        body["outputs"] = outputs(run, origin)
    return body


def technique_run_item(run: Run, origin: str, now: float) -> dict[str, Any]:
    """One item of GET /technique-runs."""
    body = run_state(run, origin, now)
    body.update(
        project_id=run.project_id,
        workspace_id=run.workspace_id,
        technique_run_id=run.run_id,
        technique={"name": run.technique_name, "technique_id": run.technique_id},
    )
    return body


def generation_item(run: Run, origin: str, now: float) -> dict[str, Any]:
    """One item of GET /generations: a run state plus what the generation was asked for.

    `type` here is the generation type (image, video, audio, text), as in the start's body.
    """
    body = run_state(run, origin, now)
    body.update(
        project_id=run.project_id,
        workspace_id=run.workspace_id,
        type=run.generation_type,
        prompt=run.prompt,
        model={"model_id": run.model_id},
    )
    return body

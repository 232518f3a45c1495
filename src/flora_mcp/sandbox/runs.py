"""The run routes: the three ways to start a run, and the two ways to read one.

Every start follows the same order: authenticate and rate-limit, parse the JSON body, apply the
idempotency rules (on the nested route a known body idempotency_key answers that run's state
first; then a header Idempotency-Key seen within two hours answers 409), validate, charge
(402 when the credits do not cover it, with no run created), create, remember the keys.
Keys are remembered only for starts that created a run, so a 409 always means "accepted".

estimated_seconds is the run's simulated length: the seed's duration times time_scale (so at
time_scale 1 it is the documented 6 s image, 45 s video, ...). A run's poll_url is the
documented read route for its kind: GET /runs/{id} for generations, GET
/techniques/{tech_id}/runs/{id} for technique runs; GET /runs/{id} also answers technique runs.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flora_mcp.sandbox import render, seed
from flora_mcp.sandbox.access import admit, origin
from flora_mcp.sandbox.errors import ApiError, not_found
from flora_mcp.sandbox.render import api_route
from flora_mcp.sandbox.state import Run
from flora_mcp.sandbox.validation import (
    check_generation,
    check_nested_technique,
    check_top_level_technique,
    parse_json_object,
)

if TYPE_CHECKING:
    from flora_mcp.sandbox.app import Sandbox

OUTPUT_TYPE_FOR_GENERATION = {"image": "imageUrl", "video": "videoUrl", "audio": "audioUrl", "text": "text"}


def new_run_id() -> str:
    return "run_" + secrets.token_hex(8)


def _last_segment(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]


class RunRoutes:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    def routes(self) -> list[Route]:
        return [
            api_route("POST", "/runs/generation", self.start_generation),
            api_route("POST", "/generate", self.start_generation),
            api_route("POST", "/runs/technique", self.start_technique),
            api_route("POST", "/techniques/{technique_id}/runs", self.start_nested),
            api_route("GET", "/runs/{run_id}", self.get_run),
            api_route("GET", "/techniques/{technique_id}/runs/{run_id}", self.get_technique_run),
        ]

    # --- shared steps ----------------------------------------------------------------------
    async def _begin(self, request: Request) -> tuple[float, dict[str, Any]]:
        now = admit(request, self.sb)
        return now, parse_json_object(await request.body())

    def _refuse_duplicate_header_key(self, request: Request, now: float) -> str | None:
        key = request.headers.get("idempotency-key") or None
        if key and self.sb.state.header_key_seen(key, now):
            raise ApiError(
                409,
                "idempotency_duplicate",
                "Duplicate idempotency key: a request with this Idempotency-Key was already accepted.",
            )
        return key

    def _charge(self, cost: float) -> None:
        if not self.sb.state.charge(cost):
            raise ApiError(
                402,
                "insufficient_credits",
                f"Insufficient credits: this run costs {cost} USD and {self.sb.state.credits_usd} USD remain.",
            )

    def _create(self, now: float, base_seconds: float, fail_text: str, **fields: Any) -> Run:
        seconds = base_seconds * self.sb.config.time_scale
        marker = self.sb.config.fail_marker
        state = self.sb.state
        run = Run(
            run_id=new_run_id(),
            seq=state.next_seq(),
            created=now,
            duration=seconds,
            estimated_seconds=seconds,
            fails=bool(marker) and marker in fail_text,
            **fields,
        )
        state.add_run(run)
        return run

    # --- starts ----------------------------------------------------------------------------
    async def start_generation(self, request: Request) -> JSONResponse:
        now, body = await self._begin(request)
        header_key = self._refuse_duplicate_header_key(request, now)
        start = check_generation(body, self.sb.state.find_project)
        model = start.model
        self._charge(model.cost)
        sources = model.sources(start.params)
        # What a text model saw of its sources (each URL's last path segment), so a test can
        # tell a run that read its source from one that ran blind.
        seen = f" (seen: {', '.join(_last_segment(url) for url in sources)})" if sources else ""
        run = self._create(
            now,
            model.seconds,
            start.prompt,
            kind="generation",
            charged_cost=model.cost,
            workspace_id=start.workspace_id,
            project_id=start.project_id,
            output_type=OUTPUT_TYPE_FOR_GENERATION[model.type],
            output_text=f"Sandbox {model.name} answer to: {start.prompt}{seen}",
            generation_type=model.type,
            model_id=model.model_id,
            prompt=start.prompt,
            params=start.params,
        )
        self.sb.state.remember_keys(run, now, header_key, None)
        return JSONResponse(render.start_response(run, origin(request)))

    def _create_technique_run(
        self, now: float, technique: seed.SeedTechnique, workspace_id: str, inputs: dict[str, Any]
    ) -> Run:
        self._charge(technique.run_cost)
        values = [v for v in inputs.values() if isinstance(v, str)]
        output = technique.outputs[0]
        return self._create(
            now,
            technique.seconds,
            "\n".join(values),
            kind="technique",
            charged_cost=technique.run_cost,
            workspace_id=workspace_id,
            project_id=seed.PROJECT_ID,
            output_type=output.type,
            output_text=f"Sandbox {technique.name.lower()} result for: {', '.join(values)}",
            technique_id=technique.technique_id,
            technique_name=technique.name,
            inputs=dict(inputs),
        )

    async def start_technique(self, request: Request) -> JSONResponse:
        now, body = await self._begin(request)
        header_key = self._refuse_duplicate_header_key(request, now)
        start = check_top_level_technique(body)
        run = self._create_technique_run(now, start.technique, start.workspace_id, start.inputs)
        self.sb.state.remember_keys(run, now, header_key, None)
        return JSONResponse(render.start_response(run, origin(request)))

    async def start_nested(self, request: Request) -> JSONResponse:
        now = admit(request, self.sb)
        technique = seed.find_technique(request.path_params["technique_id"])
        if technique is None:
            raise not_found(f"Technique {request.path_params['technique_id']} not found.")
        body = parse_json_object(await request.body())
        body_key = body.get("idempotency_key")
        if isinstance(body_key, str) and body_key:
            existing = self.sb.state.run_for_body_key(body_key, now)
            if existing is not None:
                # The documented rule of this route: a repeated body key answers the run it started.
                return JSONResponse(render.run_state(existing, origin(request), now))
        header_key = self._refuse_duplicate_header_key(request, now)
        start = check_nested_technique(technique, body)
        run = self._create_technique_run(now, technique, seed.WORKSPACE_ID, start.inputs)
        self.sb.state.remember_keys(run, now, header_key, start.idempotency_key)
        return JSONResponse(render.run_state(run, origin(request), now))

    # --- reads -----------------------------------------------------------------------------
    async def get_run(self, request: Request) -> JSONResponse:
        now = admit(request, self.sb)
        run = self.sb.state.by_id.get(request.path_params["run_id"])
        if run is None:
            raise not_found(f"Run {request.path_params['run_id']} not found.")
        return JSONResponse(render.run_state(run, origin(request), now))

    async def get_technique_run(self, request: Request) -> JSONResponse:
        now = admit(request, self.sb)
        technique = seed.find_technique(request.path_params["technique_id"])
        run = self.sb.state.by_id.get(request.path_params["run_id"])
        if technique is None or run is None or run.technique_id != technique.technique_id:
            raise not_found(f"Run {request.path_params['run_id']} not found for this technique.")
        return JSONResponse(render.run_state(run, origin(request), now))

"""The catalogue routes: run histories, workspaces, projects, models and techniques, all read-only
but one, POST /workspaces/{workspace_id}/projects, which makes a project (free, keyed like a start).

Run histories are newest first and page with an opaque cursor holding the creation sequence
number of the last item shown, so runs started while a client pages never shift or repeat
items. The fixed catalogues page by offset.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flora_mcp.sandbox import render, seed
from flora_mcp.sandbox.access import admit, origin
from flora_mcp.sandbox.errors import ApiError, not_found, validation_error
from flora_mcp.sandbox.render import api_route
from flora_mcp.sandbox.state import MAX_PROJECTS, Run
from flora_mcp.sandbox.validation import (
    GENERATION_TYPES,
    RUN_STATUSES,
    Fields,
    check_enum_filter,
    check_prefixed_filter,
    encode_cursor,
    parse_cursor,
    parse_json_object,
    parse_limit,
    require_workspace,
)

if TYPE_CHECKING:
    from flora_mcp.sandbox.app import Sandbox

T = TypeVar("T")


def _offset_page(items: Sequence[T], offset: int | None, limit: int) -> tuple[list[T], dict[str, Any]]:
    start = offset or 0
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, {"next_cursor": encode_cursor(start + limit) if more else None, "total_estimate": len(items)}


def _matches(query: str | None, *texts: str) -> bool:
    return query is None or any(query.lower() in t.lower() for t in texts)


class CatalogRoutes:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    def routes(self) -> list[Route]:
        return [
            api_route("GET", "/technique-runs", self.technique_runs),
            api_route("GET", "/generations", self.generations),
            api_route("GET", "/workspaces", self.workspaces),
            api_route("GET", "/projects", self.projects),
            api_route("POST", "/workspaces/{workspace_id}/projects", self.create_project),
            api_route("GET", "/models", self.models),
            api_route("GET", "/techniques", self.techniques),
            api_route("GET", "/techniques/{technique_id}", self.technique),
        ]

    def _admit(self, request: Request) -> tuple[float, dict[str, str]]:
        return admit(request, self.sb), dict(request.query_params)

    def _run_page(
        self,
        request: Request,
        kind: str,
        list_key: str,
        extra: Callable[[dict[str, str], Fields], Callable[[Run], bool]],
        item: Callable[[Run, str, float], dict[str, Any]],
    ) -> JSONResponse:
        now, query = self._admit(request)
        fields: Fields = []
        limit = parse_limit(query, fields)
        before = parse_cursor(query, fields)
        workspace_id = check_prefixed_filter(query, "workspace_id", "ws_", fields)
        project_id = check_prefixed_filter(query, "project_id", "prj_", fields)
        status = check_enum_filter(query, "status", RUN_STATUSES, fields)
        keep = extra(query, fields)
        if fields:
            raise validation_error(fields)
        matching = [
            run
            for run in reversed(self.sb.state.runs)
            if run.kind == kind
            and (workspace_id is None or run.workspace_id == workspace_id)
            and (project_id is None or run.project_id == project_id)
            and (status is None or run.phase(now).status == status)
            and keep(run)
        ]
        remaining = [run for run in matching if before is None or run.seq < before]
        page = remaining[:limit]
        more = len(remaining) > limit
        meta = {"next_cursor": encode_cursor(page[-1].seq) if more else None, "total_estimate": len(matching)}
        here = origin(request)
        return JSONResponse({list_key: [item(run, here, now) for run in page], "meta": meta})

    async def technique_runs(self, request: Request) -> JSONResponse:
        def by_technique(query: dict[str, str], fields: Fields) -> Callable[[Run], bool]:
            ref = query.get("technique_id")
            if ref is None:
                return lambda run: True
            technique = seed.find_technique(ref)
            # An id or slug that names no technique matches no run (an empty page, not an error).
            return lambda run: technique is not None and run.technique_id == technique.technique_id

        return self._run_page(request, "technique", "technique_runs", by_technique, render.technique_run_item)

    async def generations(self, request: Request) -> JSONResponse:
        def by_type(query: dict[str, str], fields: Fields) -> Callable[[Run], bool]:
            kind = check_enum_filter(query, "type", GENERATION_TYPES, fields)
            return lambda run: kind is None or run.generation_type == kind

        return self._run_page(request, "generation", "generations", by_type, render.generation_item)

    async def workspaces(self, request: Request) -> JSONResponse:
        self._admit(request)
        return JSONResponse({"workspaces": [dict(w) for w in seed.WORKSPACES]})

    async def projects(self, request: Request) -> JSONResponse:
        _, query = self._admit(request)
        fields: Fields = []
        limit = parse_limit(query, fields)
        offset = parse_cursor(query, fields)
        workspace_id = query.get("workspace_id")
        if not workspace_id:
            fields.append(("workspace_id", "Required"))
        else:
            check_prefixed_filter(query, "workspace_id", "ws_", fields)
        if fields or workspace_id is None:
            raise validation_error(fields)
        require_workspace(workspace_id)
        projects = self.sb.state.all_projects()
        found = [p for p in projects if p.workspace_id == workspace_id and _matches(query.get("query"), p.name)]
        page, meta = _offset_page(found, offset, limit)
        return JSONResponse({"projects": [p.to_json() for p in page], "meta": meta})

    async def create_project(self, request: Request) -> JSONResponse:
        """Make a project, in the order the run starts follow: admit, parse, the key, validate, create.

        A header Idempotency-Key seen within two hours answers 409 idempotency_duplicate with no
        project, as FLORA does: the key is held only once a project was made.
        """
        now = admit(request, self.sb)
        body = parse_json_object(await request.body())
        state = self.sb.state
        key = request.headers.get("idempotency-key") or None
        if key and state.header_key_seen(key, now):
            raise ApiError(
                409,
                "idempotency_duplicate",
                "Duplicate idempotency key: a request with this Idempotency-Key was already accepted.",
            )
        workspace_id = request.path_params["workspace_id"]
        name = body.get("name")
        if name is None or (isinstance(name, str) and not name.strip()):
            raise validation_error([("name", "Required")])
        if not isinstance(name, str):
            raise validation_error([("name", "Expected string")])
        if len(name) > 200:
            raise validation_error([("name", "At most 200 characters")])
        require_workspace(workspace_id)
        if len(state.projects) >= MAX_PROJECTS:
            raise ApiError(400, "input_validation_error", f"This sandbox holds at most {MAX_PROJECTS} new projects.")
        made = seed.SeedProject(
            "prj_" + secrets.token_hex(8), name, round(now * 1000), workspace_id=workspace_id, origin="api"
        )
        state.projects.append(made)
        state.remember_header_key(key, now, made.project_id)
        return JSONResponse(made.to_json(), status_code=201)

    async def models(self, request: Request) -> JSONResponse:
        _, query = self._admit(request)
        fields: Fields = []
        kind = check_enum_filter(query, "type", GENERATION_TYPES, fields)
        if fields:
            raise validation_error(fields)
        return JSONResponse({"models": [m.to_json() for m in seed.MODELS if kind is None or m.type == kind]})

    async def techniques(self, request: Request) -> JSONResponse:
        _, query = self._admit(request)
        fields: Fields = []
        limit = parse_limit(query, fields)
        offset = parse_cursor(query, fields)
        workspace_id = check_prefixed_filter(query, "workspace_id", "ws_", fields)
        if fields:
            raise validation_error(fields)
        if workspace_id is not None:
            require_workspace(workspace_id)
        words = query.get("query")
        found = [t for t in seed.TECHNIQUES if _matches(words, t.name, t.slug, t.description)]
        page, meta = _offset_page(found, offset, limit)
        return JSONResponse({"techniques": [t.to_json() for t in page], "meta": meta})

    async def technique(self, request: Request) -> JSONResponse:
        self._admit(request)
        technique = seed.find_technique(request.path_params["technique_id"])
        if technique is None:
            raise not_found(f"Technique {request.path_params['technique_id']} not found.")
        return JSONResponse(technique.to_json())

"""The FLORA API as async methods: one method per endpoint, typed by `models.py`.

The client knows routes, bodies and answer shapes; sending, retrying and error mapping are
`transport.py`'s job, and retry rules are `retry.py`'s. It knows nothing of MCP.

Starts are the calls that cost money, so they get one rule: every start carries an
Idempotency-Key (the caller's, or a fresh one), the same key on every retry of that start, and
the key comes back in the result. When FLORA answers `idempotency_duplicate` the start WAS
accepted earlier (its first answer was lost): that is `AcceptedEarlier`, never an error that
would invite starting again under a new key.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import random as _random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import anyio
import httpx2
from pydantic import BaseModel, TypeAdapter, ValidationError

from flora_mcp.api.errors import FloraAPIError, IdempotencyDuplicateError, UnexpectedResponseError, quote_body
from flora_mcp.api.models import (
    ActionList,
    ActionRunRequest,
    GenerationList,
    GenerationListQuery,
    GenerationRunRequest,
    IdempotencyKey,
    ListMeta,
    ModelList,
    ModelListQuery,
    NestedTechniqueInput,
    NestedTechniqueRunRequest,
    Project,
    ProjectCreateRequest,
    ProjectList,
    ProjectListQuery,
    RunId,
    RunState,
    StartResponse,
    StartTechniqueRun,
    Technique,
    TechniqueList,
    TechniqueListQuery,
    TechniqueRunList,
    TechniqueRunListQuery,
    TechniqueRunRequest,
    WorkspaceList,
)
from flora_mcp.api.retry import RetryPolicy
from flora_mcp.api.transport import Answer, Transport
from flora_mcp.api.urls import parse_base_url, path_segment, url_inside


class NonFiniteNumber(ValueError):
    """FLORA's JSON held NaN, Infinity or a number too large for a float (1e309)."""


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFiniteNumber(text[:40])
    return value


def _no_constant(text: str) -> float:
    raise NonFiniteNumber(text)


def _run_id_in(body: bytes) -> str | None:
    """The run id a start answer names, read leniently (NaN and all): the one thing a start must not lose."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    run_id = data.get("run_id") if isinstance(data, dict) else None
    try:
        return _RUN_ID_ADAPTER.validate_python(run_id) if isinstance(run_id, str) else None
    except ValidationError:
        return None


def strict_json(body: bytes | str) -> Any:
    """JSON as Python data, with NaN, Infinity and overflowing numbers (1e309 -> inf) refused.

    `json.loads` accepts all three, and a NaN or infinite cost or duration would then pass as
    a value: NaN compares false with every cap, infinity closes it for good. They are a parse
    error instead, like any other answer that is not FLORA's JSON.
    """
    return json.loads(body, parse_float=_finite, parse_constant=_no_constant)


logger = logging.getLogger("flora_mcp.api")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
ItemT = TypeVar("ItemT")

_KEY_ADAPTER: TypeAdapter[str] = TypeAdapter(IdempotencyKey)
# What a 2xx that cannot be read means, for what was created.
_START_LOST = (
    "The start was probably accepted (idempotency key {key}): look for the run in the run history, or retry "
    "with the same idempotency key, before starting again"
)
_PROJECT_LOST = (
    "The project was probably created (idempotency key {key}): look for it with list_projects, or retry with "
    "the same idempotency key, before creating it again"
)
_RUN_ID_ADAPTER: TypeAdapter[str] = TypeAdapter(RunId)


class _Page(Protocol):
    @property
    def meta(self) -> ListMeta: ...


PageT = TypeVar("PageT", bound=_Page)


@dataclass(frozen=True)
class Started(Generic[T]):
    """FLORA accepted a start and answered it.

    `response` is a StartResponse (generation, top-level technique) or a RunState (nested
    technique route). Keep `idempotency_key`: starting again with it can never start twice.
    """

    response: T
    idempotency_key: str
    request_id: str | None
    route: str


@dataclass(frozen=True)
class AcceptedEarlier:
    """FLORA answered idempotency_duplicate: a start with this key was accepted before.

    Its answer (and so its run id) was lost on the way, e.g. a dropped connection followed by a
    retry. The run exists and is charged; find it in the run history rather than starting again.
    """

    idempotency_key: str
    request_id: str | None
    route: str


@dataclass
class _GenerationRoute:
    """Where generations go; shared by every copy of a client (with_api_key), so learnt once."""

    path: str = "/runs/generation"


def route_is_gone(err: FloraAPIError) -> bool:
    """A 404 or 410 without FLORA's error envelope: the route itself is not served (a bare 404 from
    the router), not an unknown id or project (those come in the envelope, code not_found)."""
    return err.status in (404, 410) and not err.enveloped


def new_idempotency_key() -> str:
    return f"flora-mcp-{uuid.uuid4().hex}"


def _query(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def top_level_inputs(request: StartTechniqueRun) -> dict[str, Any]:
    """The inputs as POST /runs/technique's map of input id to JSON value.

    Values go as given (the route documents map[unknown]); an id given several times becomes a
    list of its values (an allow_multiple input; the server's catalog check refuses repeats of
    any other input before this is reached).
    """
    inputs: dict[str, Any] = {}
    repeated: set[str] = set()
    for item in request.inputs:
        if item.id not in inputs:
            inputs[item.id] = item.value
            continue
        if item.id not in repeated:
            first = inputs[item.id]
            inputs[item.id] = list(first) if isinstance(first, list) else [first]
            repeated.add(item.id)
        inputs[item.id].extend(item.value if isinstance(item.value, list) else [item.value])
    return inputs


def nested_inputs(request: StartTechniqueRun) -> list[NestedTechniqueInput]:
    """The inputs as the nested route's [{id, type, value}] list, whose values are strings.

    A list value (an allow_multiple input) becomes one item per value. Any other non-string
    value cannot travel on this route: ValueError saying how to send it on the top-level route.
    """
    items: list[NestedTechniqueInput] = []
    for item in request.inputs:
        values = item.value if isinstance(item.value, list) else [item.value]
        for value in values:
            if not isinstance(value, str):
                raise ValueError(
                    f"technique input {item.id!r} has a non-text value; the nested technique route carries "
                    "text values only. Give workspace_id with a tech_ id (and no callback_url) to use "
                    "POST /runs/technique, which takes JSON values"
                )
            items.append(NestedTechniqueInput(id=item.id, type=item.type, value=value))
    return items


class FloraClient:
    """Async client for FLORA's public API over an httpx2.AsyncClient its owner provides.

    It never builds or closes an HTTP client: the owner (the server's lifespan, a test) does.
    Every error raised by a call is a `flora_mcp.api.errors.FloraError`; arguments that can
    never be sent (an empty id, a malformed idempotency key) raise ValueError before sending.
    """

    def __init__(
        self,
        http_client: httpx2.AsyncClient,
        *,
        base_url: str,
        api_key: str | None,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe to share
        timeout: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        random: Callable[[], float] = _random.random,
        new_key: Callable[[], str] = new_idempotency_key,
        max_body_bytes: int = 8 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        base = parse_base_url(base_url)
        self._base = base
        self._base_url = str(base).rstrip("/")
        self._new_key = new_key
        self._generation_route = _GenerationRoute()
        self._transport = Transport(
            http_client,
            api_key=api_key,
            retry=retry,
            timeout=timeout,
            sleep=sleep,
            random=random,
            clock=clock,
            max_body_bytes=max_body_bytes,
        )

    def with_api_key(self, api_key: str) -> FloraClient:
        """The same client (HTTP client, policy, base URL) speaking with another key."""
        other = copy.copy(self)
        other._transport = self._transport.with_api_key(api_key)
        return other

    def __repr__(self) -> str:
        key = "set" if self._transport.has_api_key else "missing"
        return f"FloraClient(base_url={self._base_url!r}, api_key={key})"

    @property
    def base_url(self) -> str:
        return self._base_url

    async def aclose(self) -> None:
        """Nothing to release: the injected HTTP client belongs to, and is closed by, its owner."""

    # --- starts --------------------------------------------------------------------------------
    async def start_generation_run(
        self, request: GenerationRunRequest, *, idempotency_key: str | None = None
    ) -> Started[StartResponse] | AcceptedEarlier:
        """POST /runs/generation (documented, marked deprecated in one seed), or POST /generate once
        FLORA has answered that /runs/generation is gone.

        A gone route acted on nothing, so the same start (same key) goes to /generate at once,
        and every later generation of this client (and its copies) goes there directly.
        """
        key = self._key(idempotency_key)
        route = self._generation_route
        if route.path == "/generate":
            return await self.generate(request, idempotency_key=key)
        try:
            return await self._start("/runs/generation", _query(request), key, StartResponse)
        except FloraAPIError as err:
            if not route_is_gone(err):
                raise
            if route.path != "/generate":
                route.path = "/generate"
                logger.warning(
                    "FLORA answered POST /runs/generation with HTTP %s and no error envelope: the route is "
                    "gone; generations use POST /generate from now on",
                    err.status,
                )
        return await self.generate(request, idempotency_key=key)

    @property
    def generation_route(self) -> str:
        """The route generations currently go to: /runs/generation, or /generate once it is gone."""
        return self._generation_route.path

    async def generate(
        self, request: GenerationRunRequest, *, idempotency_key: str | None = None
    ) -> Started[StartResponse] | AcceptedEarlier:
        """POST /generate: the current route for a generation; same body and answer."""
        return await self._start("/generate", _query(request), idempotency_key, StartResponse)

    async def start_top_level_technique_run(
        self, request: TechniqueRunRequest, *, idempotency_key: str | None = None
    ) -> Started[StartResponse] | AcceptedEarlier:
        """POST /runs/technique."""
        return await self._start("/runs/technique", _query(request), idempotency_key, StartResponse)

    async def start_nested_technique_run(
        self, technique_id: str, request: NestedTechniqueRunRequest, *, idempotency_key: str | None = None
    ) -> Started[RunState] | AcceptedEarlier:
        """POST /techniques/{technique_id}/runs, with the key in the header AND the body.

        In the body FLORA makes a repeated key answer the existing run's state, so a retry after
        a lost answer usually comes back as Started with that run.
        """
        if idempotency_key and request.idempotency_key and idempotency_key != request.idempotency_key:
            raise ValueError("idempotency_key differs from request.idempotency_key")
        key = self._key(idempotency_key or request.idempotency_key)
        body = _query(request.model_copy(update={"idempotency_key": key}))
        path = f"/techniques/{path_segment(technique_id, 'technique id')}/runs"
        return await self._start(path, body, key, RunState, route="POST /techniques/{technique_id}/runs")

    async def start_technique_run(
        self, request: StartTechniqueRun
    ) -> Started[StartResponse] | Started[RunState] | AcceptedEarlier:
        """Start a technique on the route that can carry it (see StartTechniqueRun)."""
        key = self._key(request.idempotency_key)
        if request.uses_top_level_route():
            assert request.workspace_id is not None  # checked by uses_top_level_route
            top = TechniqueRunRequest(
                technique_id=request.technique_id, workspace_id=request.workspace_id, inputs=top_level_inputs(request)
            )
            return await self.start_top_level_technique_run(top, idempotency_key=key)
        nested = NestedTechniqueRunRequest(
            inputs=nested_inputs(request), mode="async", callback_url=request.callback_url, idempotency_key=key
        )
        return await self.start_nested_technique_run(request.technique_id, nested, idempotency_key=key)

    async def start_action_run(
        self, request: ActionRunRequest, *, idempotency_key: str | None = None
    ) -> Started[StartResponse] | AcceptedEarlier:
        """POST /runs/action; the run is then read with GET /runs/{run_id}."""
        return await self._start("/runs/action", _query(request), idempotency_key, StartResponse)

    def _key(self, given: str | None) -> str:
        if given is None:
            return self._new_key()
        return _KEY_ADAPTER.validate_python(given)

    async def _start(
        self,
        path: str,
        body: dict[str, Any],
        idempotency_key: str | None,
        model: type[M],
        *,
        route: str | None = None,
        lost: str = _START_LOST,
    ) -> Started[M] | AcceptedEarlier:
        """POST a keyed request that creates something (a run, a project): the same key on every retry.

        FLORA's idempotency_duplicate becomes `AcceptedEarlier` (it exists, its answer was lost); a
        2xx that cannot be read says, in `lost`'s words, that it was probably made.
        """
        route = route or f"POST {path}"
        key = self._key(idempotency_key)
        answer: Answer | None = None
        try:
            answer = await self._transport.request(
                "POST", route, self._base_url + path, json_body=body, idempotency_key=key
            )
            parsed = self._parse(answer, model, route)
        except IdempotencyDuplicateError as err:
            # Another 409 code would be a different conflict; a bare 409 to a keyed start can
            # only be about the key, and calling it a failure would invite a second charge.
            if err.code != "idempotency_duplicate":
                raise
            return AcceptedEarlier(idempotency_key=key, request_id=err.request_id, route=route)
        except UnexpectedResponseError as err:
            if not 200 <= err.status < 300:
                raise
            # A 2xx to a start means FLORA accepted it: say so, or the agent would start again.
            accepted = UnexpectedResponseError(
                f"{err.message}. {lost.format(key=key)}",
                status=err.status,
                request_id=err.request_id,
                attempts=err.attempts,
            )
            accepted.may_have_been_processed = True
            accepted.run_id = _run_id_in(answer.body) if answer is not None else None
            raise accepted from None
        return Started(response=parsed, idempotency_key=key, request_id=answer.request_id, route=route)

    # --- projects ------------------------------------------------------------------------------
    async def create_project(
        self, workspace_id: str, name: str, *, idempotency_key: str | None = None
    ) -> Started[Project] | AcceptedEarlier:
        """POST /workspaces/{workspace_id}/projects with {name}, keyed like a start.

        Free, but not harmless to repeat: a second call without the first's key makes a second
        project of the same name. So it carries an Idempotency-Key (the caller's, or a fresh one),
        the same on every retry, and FLORA's idempotency_duplicate becomes `AcceptedEarlier`: the
        project exists and its answer was lost; find it by name rather than creating it again.
        """
        request = ProjectCreateRequest(workspace_id=workspace_id, name=name)
        path = f"/workspaces/{path_segment(request.workspace_id, 'workspace id')}/projects"
        route = "POST /workspaces/{workspace_id}/projects"
        body = {"name": request.name}
        return await self._start(path, body, idempotency_key, Project, route=route, lost=_PROJECT_LOST)

    # --- reads ---------------------------------------------------------------------------------
    async def get_run(self, run_id: str) -> RunState:
        """GET /runs/{run_id}: a generation or action run's state."""
        return await self._get(f"/runs/{path_segment(run_id, 'run id')}", RunState, "GET /runs/{run_id}")

    async def get_technique_run(self, technique_id: str, run_id: str) -> RunState:
        """GET /techniques/{technique_id}/runs/{run_id}."""
        path = f"/techniques/{path_segment(technique_id, 'technique id')}/runs/{path_segment(run_id, 'run id')}"
        return await self._get(path, RunState, "GET /techniques/{technique_id}/runs/{run_id}")

    async def poll(self, *, run_id: str, technique_id: str | None = None, poll_url: str | None = None) -> RunState:
        """A run's current state, from its poll_url when that points into this API, else its route.

        A poll_url is an address FLORA (or whatever answered) chose; it is followed only when
        its scheme, host and port are the base URL's and its path lies under the base path, so
        the key is never sent anywhere else.
        """
        target = url_inside(poll_url, self._base) if poll_url else None
        if target is not None:
            return await self._fetch(target, RunState, "GET poll_url")
        if technique_id is not None:
            return await self.get_technique_run(technique_id, run_id)
        return await self.get_run(run_id)

    async def list_technique_runs(self, query: TechniqueRunListQuery) -> TechniqueRunList:
        """GET /technique-runs, newest first."""
        return await self._get("/technique-runs", TechniqueRunList, params=_query(query))

    async def list_generations(self, query: GenerationListQuery) -> GenerationList:
        """GET /generations."""
        return await self._get("/generations", GenerationList, params=_query(query))

    async def list_workspaces(self) -> WorkspaceList:
        """GET /workspaces (not paginated)."""
        return await self._get("/workspaces", WorkspaceList)

    async def list_projects(self, query: ProjectListQuery) -> ProjectList:
        """GET /projects."""
        return await self._get("/projects", ProjectList, params=_query(query))

    async def list_models(self, query: ModelListQuery) -> ModelList:
        """GET /models (not paginated)."""
        return await self._get("/models", ModelList, params=_query(query))

    async def list_techniques(self, query: TechniqueListQuery) -> TechniqueList:
        """GET /techniques."""
        return await self._get("/techniques", TechniqueList, params=_query(query))

    async def get_technique(self, technique_id: str) -> Technique:
        """GET /techniques/{technique_id}: a technique's inputs, outputs and run cost."""
        path = f"/techniques/{path_segment(technique_id, 'technique id')}"
        return await self._get(path, Technique, "GET /techniques/{technique_id}")

    async def list_actions(self) -> ActionList:
        """GET /actions (not paginated): the deterministic media transforms."""
        return await self._get("/actions", ActionList)

    async def paginate(
        self,
        fetch: Callable[[str | None], Awaitable[PageT]],
        items: Callable[[PageT], list[ItemT]],
        *,
        max_pages: int | None = None,
    ) -> AsyncIterator[ItemT]:
        """Every item of a listing, page after page, following meta.next_cursor.

        `fetch(cursor)` gets one page (None for the first). Stops when a page has no next
        cursor, after `max_pages`, or when FLORA hands back a cursor it already gave (which
        would otherwise loop forever).
        """
        cursor: str | None = None
        seen: set[str] = set()
        pages = 0
        while True:
            page = await fetch(cursor)
            pages += 1
            for item in items(page):
                yield item
            cursor = page.meta.next_cursor
            if not cursor or cursor in seen or (max_pages is not None and pages >= max_pages):
                return
            seen.add(cursor)

    # --- plumbing ------------------------------------------------------------------------------
    async def _get(
        self, path: str, model: type[M], route: str | None = None, *, params: Mapping[str, Any] | None = None
    ) -> M:
        return await self._fetch(self._base_url + path, model, route or f"GET {path}", params=params)

    async def _fetch(self, url: str, model: type[M], route: str, *, params: Mapping[str, Any] | None = None) -> M:
        answer = await self._transport.request("GET", route, url, params=params)
        return self._parse(answer, model, route)

    def _parse(self, answer: Answer, model: type[M], route: str) -> M:
        """The answer as `model`, or UnexpectedResponseError saying what came instead."""
        problem = "an empty body"
        if answer.body.strip():
            try:
                return model.model_validate(strict_json(answer.body))
            except NonFiniteNumber as exc:
                problem = f"JSON with a number that is not finite ({exc})"
            except ValidationError as exc:  # before ValueError, of which it is a subclass
                details = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                    for e in exc.errors(include_input=False, include_url=False)[:5]
                )
                problem = f"JSON that is not a {model.__name__} ({details})"
            except ValueError:
                problem = f"a body that is not JSON: {quote_body(answer.body, 120)}"
        message = f"FLORA answered {route} with HTTP {answer.status} and {problem}"
        raise UnexpectedResponseError(
            self._transport.redact(message),
            status=answer.status,
            request_id=answer.request_id,
            attempts=answer.attempts,
        )

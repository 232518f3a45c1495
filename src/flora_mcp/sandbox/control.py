"""The /_sandbox/ control routes, so a test driving a sandbox in another process can script it.

    POST /_sandbox/faults  {route, kind, status?, retry_after?, delay?, body?, content_type?,
                            headers?, times?}   queue a fault (see faults.py)
    GET  /_sandbox/state   {runs, credits_usd, requests, faults_pending}
    POST /_sandbox/reset   {credits_usd?}       forget runs, keys, counts and faults

They take the same Bearer key as the API, and are never rate-limited or faulted. They are also
served under the API prefix (/api/v1/_sandbox/...), so a client whose base URL ends in /api/v1
reaches them with a relative path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flora_mcp.sandbox.access import bearer_key
from flora_mcp.sandbox.errors import validation_error
from flora_mcp.sandbox.faults import FAULT_KINDS, Fault, FaultKind
from flora_mcp.sandbox.render import API_PREFIX
from flora_mcp.sandbox.validation import parse_json_object

if TYPE_CHECKING:
    from flora_mcp.sandbox.app import Sandbox


def fault_from_json(body: dict[str, Any]) -> tuple[str, Fault, int]:
    """(route, fault, times) from a control request body; 400 naming every bad field."""
    fields: list[tuple[str, str]] = []
    route = body.get("route")
    if not isinstance(route, str) or not route.strip():
        fields.append(("route", 'Required, e.g. "POST /runs/generation" or "*"'))
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        fields.append(("kind", "Expected one of " + ", ".join(FAULT_KINDS)))
    numbers: dict[str, Any] = {}
    for name in ("status", "retry_after", "delay", "times"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            fields.append((name, "Expected a number"))
        numbers[name] = value
    raw_body = body.get("body", "")
    if not isinstance(raw_body, str):
        fields.append(("body", "Expected a string"))
    headers = body.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        fields.append(("headers", "Expected an object of strings"))
    if fields:
        raise validation_error(fields)
    fault = Fault(
        kind=cast(FaultKind, kind),
        status=int(numbers["status"] if numbers["status"] is not None else (429 if kind == "rate_limit" else 503)),
        retry_after=numbers["retry_after"],
        delay=float(numbers["delay"] or 0),
        body=str(raw_body).encode("utf-8"),
        content_type=str(body.get("content_type") or "text/html"),
        headers=tuple((str(k), str(v)) for k, v in headers.items()),
    )
    times = int(numbers["times"] if numbers["times"] is not None else 1)
    if times < 1:
        raise validation_error([("times", "Must be at least 1")])
    return str(route), fault, times


class ControlRoutes:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    def routes(self) -> list[Route]:
        return [
            route
            for prefix in ("", API_PREFIX)
            for route in (
                Route(f"{prefix}/_sandbox/faults", self.push_fault, methods=["POST"], name="POST /_sandbox/faults"),
                Route(f"{prefix}/_sandbox/state", self.state, methods=["GET"], name="GET /_sandbox/state"),
                Route(f"{prefix}/_sandbox/reset", self.reset, methods=["POST"], name="POST /_sandbox/reset"),
            )
        ]

    async def push_fault(self, request: Request) -> JSONResponse:
        bearer_key(request, self.sb.config)
        route, fault, times = fault_from_json(parse_json_object(await request.body()))
        self.sb.faults.push(route, fault, times)
        return JSONResponse({"queued": times, "faults_pending": self.sb.faults.pending()})

    async def state(self, request: Request) -> JSONResponse:
        bearer_key(request, self.sb.config)
        return JSONResponse(self.sb.snapshot())

    async def reset(self, request: Request) -> JSONResponse:
        bearer_key(request, self.sb.config)
        raw = await request.body()
        body = parse_json_object(raw) if raw.strip() else {}
        credits = body.get("credits_usd")
        if credits is not None and (isinstance(credits, bool) or not isinstance(credits, int | float)):
            raise validation_error([("credits_usd", "Expected a number")])
        self.sb.reset(credits_usd=credits)
        return JSONResponse(self.sb.snapshot())

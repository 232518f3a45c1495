"""Who may call the sandbox, and how often: the Bearer key check and the per-key rate limit."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from starlette.requests import Request

from flora_mcp.sandbox.config import SandboxConfig
from flora_mcp.sandbox.errors import ApiError
from flora_mcp.sandbox.state import retry_after_headers

if TYPE_CHECKING:
    from flora_mcp.sandbox.app import Sandbox


def bearer_key(request: Request, config: SandboxConfig) -> str:
    """The caller's key if it is one the sandbox accepts; else 401 unauthorized."""
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(401, "unauthorized", "Missing API key. Send Authorization: Bearer <key>.")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    # Compare every accepted key in constant time, so timing says nothing about a near miss.
    matches = [hmac.compare_digest(token.encode(), key.encode()) for key in config.accepted_keys()]
    if scheme.lower() != "bearer" or not any(matches):
        raise ApiError(401, "unauthorized", "Invalid API key.")
    return token


def admit(request: Request, sandbox: Sandbox) -> float:
    """Authenticate and rate-limit one API request; returns the sandbox clock's time it came in."""
    now = sandbox.clock()
    key = bearer_key(request, sandbox.config)
    wait = sandbox.state.rate_limit_wait(key, sandbox.config.rate_limit_per_second, now)
    if wait is not None:
        raise ApiError(429, "rate_limited", "Rate limit exceeded.", headers=retry_after_headers(wait))
    return now


def origin(request: Request) -> str:
    """scheme://host[:port] the request came in on; URLs in answers are built on it."""
    return f"{request.url.scheme}://{request.url.netloc}"

"""Whose key an HTTP request uses, and the 401 for requests that may not borrow the server's."""

from __future__ import annotations

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from flora_mcp.server.wire.http_auth import BearerKeyGate, bearer_key, is_loopback

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_addresses_are_recognised(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "example.com", "localhost.example.com", ""])
def test_other_addresses_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("Bearer sk-abc", "sk-abc"),
        ("bearer   sk-abc  ", "sk-abc"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer a b", None),
        ("", None),
    ],
)
def test_only_a_well_formed_bearer_header_yields_a_key(value: str, key: str | None) -> None:
    assert bearer_key({"authorization": value}) == key


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _get(gate: BearerKeyGate, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gate), base_url="http://127.0.0.1") as http:
        return await http.get("/mcp", headers=headers)


async def test_a_request_without_a_key_is_refused_when_the_server_may_not_lend_its_own() -> None:
    answer = await _get(BearerKeyGate(_ok, server_key_allowed=False), {})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in answer.json()["message"]


async def test_a_request_with_its_own_key_passes_even_when_the_server_lends_none() -> None:
    answer = await _get(BearerKeyGate(_ok, server_key_allowed=False), {"Authorization": "Bearer sk-mine"})
    assert answer.status_code == 200


async def test_a_request_without_a_key_passes_when_the_server_may_lend_its_own() -> None:
    answer = await _get(BearerKeyGate(_ok, server_key_allowed=True), {})
    assert answer.status_code == 200

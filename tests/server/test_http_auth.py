"""Whose key an HTTP request uses, and the 401 for requests without one unless the operator lends the server's."""

from __future__ import annotations

import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from flora_mcp.server.wire.http_auth import BearerKeyGate, KeyLending, bearer_key, is_loopback

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
        ("Bearer sk-abc\x00", None),
        ("Bearer sk-\u00e9t\u00e9", None),
        ("", None),
    ],
)
def test_only_a_well_formed_bearer_header_yields_a_key(value: str, key: str | None) -> None:
    assert bearer_key({"authorization": value}) == key


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


NO_LENDING = KeyLending(has_server_key=True)
LENDING = KeyLending(has_server_key=True, lend=True)


async def _get(
    gate: BearerKeyGate, headers: dict[str, str], client: tuple[str, int] = ("127.0.0.1", 5000)
) -> httpx2.Response:
    transport = httpx2.ASGITransport(app=gate, client=client)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        return await http.get("/mcp", headers=headers)


@pytest.mark.parametrize(
    "header",
    [{}, {"X-Forwarded-For": "203.0.113.7"}, {"Via": "1.1 proxy"}],
    ids=["bare proxy_pass or local", "forwarded", "via"],
)
async def test_a_request_without_a_key_is_refused_unless_the_operator_lends_the_servers(
    header: dict[str, str],
) -> None:
    # From 127.0.0.1 with a loopback Host: what a same-host nginx with a bare proxy_pass delivers.
    answer = await _get(BearerKeyGate(_ok, lending=NO_LENDING), header)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    message = answer.json()["message"]
    assert "Authorization: Bearer <FLORA key>" in message and "--lend-server-key" in message
    assert "203.0.113.7" not in answer.text


async def test_a_request_with_its_own_key_passes_even_when_the_server_lends_none() -> None:
    answer = await _get(BearerKeyGate(_ok, lending=NO_LENDING), {"Authorization": "Bearer sk-mine"})
    assert answer.status_code == 200


@pytest.mark.parametrize("peer", ["127.0.0.1", "203.0.113.7"])
async def test_the_operator_can_lend_the_key_to_requests_without_one(peer: str) -> None:
    answer = await _get(BearerKeyGate(_ok, lending=LENDING), {"X-Forwarded-For": "203.0.113.7"}, (peer, 1))
    assert answer.status_code == 200


async def test_without_a_server_key_there_is_nothing_to_lend_even_when_asked() -> None:
    lending = KeyLending(has_server_key=False, lend=True)
    answer = await _get(BearerKeyGate(_ok, lending=lending), {})
    assert answer.status_code == 401 and "no key of its own" in answer.json()["message"]


@pytest.mark.parametrize("value", ["Bearer", "Bearer a b", "Bearer sk-\u00e9t\u00e9"])
async def test_a_malformed_bearer_key_is_refused_and_never_replaced_by_the_servers(value: str) -> None:
    headers = [("authorization", value.encode("latin-1"))]
    transport = httpx2.ASGITransport(app=BearerKeyGate(_ok, lending=LENDING), client=("127.0.0.1", 1))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        answer = await http.get("/mcp", headers=headers)
    assert answer.status_code == 401 and "malformed" in answer.json()["message"]
    token = value.partition(" ")[2]
    assert not token or token.encode("latin-1") not in answer.content

"""Whose key an HTTP request uses, and the 401 for requests that may not borrow the server's."""

from __future__ import annotations

import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from flora_mcp.server.wire.http_auth import BearerKeyGate, KeyLending, bearer_key, host_name, is_loopback

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


NO_LENDING = KeyLending(has_server_key=True, local_door=False)
LOCAL = KeyLending(has_server_key=True, local_door=True)


async def _get(
    gate: BearerKeyGate, headers: dict[str, str], client: tuple[str, int] = ("127.0.0.1", 5000)
) -> httpx2.Response:
    transport = httpx2.ASGITransport(app=gate, client=client)
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        return await http.get("/mcp", headers=headers)


async def test_a_request_without_a_key_is_refused_when_the_server_may_not_lend_its_own() -> None:
    answer = await _get(BearerKeyGate(_ok, lending=NO_LENDING), {})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in answer.json()["message"]


async def test_a_request_with_its_own_key_passes_even_when_the_server_lends_none() -> None:
    answer = await _get(BearerKeyGate(_ok, lending=NO_LENDING), {"Authorization": "Bearer sk-mine"})
    assert answer.status_code == 200


async def test_a_request_without_a_key_passes_when_it_comes_from_this_machine() -> None:
    answer = await _get(BearerKeyGate(_ok, lending=LOCAL), {})
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        {"Forwarded": "for=203.0.113.7;proto=https"},
        {"X-Forwarded-For": "203.0.113.7"},
        {"X-Real-IP": "203.0.113.7"},
        {"X-Forwarded-Host": "mcp.example.com"},
        {"Via": "1.1 proxy"},
    ],
    ids=lambda h: next(iter(h)),
)
async def test_a_proxied_request_never_borrows_the_servers_key_even_on_loopback(header: dict[str, str]) -> None:
    answer = await _get(BearerKeyGate(_ok, lending=LOCAL), header)
    assert answer.status_code == 401
    assert "proxy" in answer.json()["message"]
    assert "203.0.113.7" not in answer.text


async def test_a_request_from_another_machine_never_borrows_the_servers_key() -> None:
    answer = await _get(BearerKeyGate(_ok, lending=LOCAL), {}, client=("203.0.113.7", 4000))
    assert answer.status_code == 401


async def test_the_operator_can_lend_the_key_to_every_request_explicitly() -> None:
    lending = KeyLending(has_server_key=True, local_door=False, lend_always=True)
    answer = await _get(BearerKeyGate(_ok, lending=lending), {"X-Forwarded-For": "203.0.113.7"}, ("203.0.113.7", 1))
    assert answer.status_code == 200


async def test_without_a_server_key_there_is_nothing_to_lend_even_when_asked() -> None:
    lending = KeyLending(has_server_key=False, local_door=True, lend_always=True)
    assert (await _get(BearerKeyGate(_ok, lending=lending), {})).status_code == 401


@pytest.mark.parametrize("value", ["Bearer", "Bearer a b", "Bearer sk-\u00e9t\u00e9"])
async def test_a_malformed_bearer_key_is_refused_and_never_replaced_by_the_servers(value: str) -> None:
    headers = [("authorization", value.encode("latin-1"))]
    transport = httpx2.ASGITransport(app=BearerKeyGate(_ok, lending=LOCAL), client=("127.0.0.1", 1))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        answer = await http.get("/mcp", headers=headers)
    assert answer.status_code == 401 and "malformed" in answer.json()["message"]
    token = value.partition(" ")[2]
    assert not token or token.encode("latin-1") not in answer.content


@pytest.mark.parametrize(
    ("host", "allowed", "local"),
    [
        ("127.0.0.1", None, True),
        ("127.0.0.1", ["localhost:8000", "[::1]"], True),
        ("127.0.0.1", ["mcp.example.com"], False),
        ("127.0.0.1", ["mcp.example.com:443"], False),
        ("0.0.0.0", None, False),
        ("::1", None, True),
    ],
)
def test_the_door_is_local_only_on_a_loopback_bind_with_loopback_allowed_hosts(
    host: str, allowed: list[str] | None, local: bool
) -> None:
    assert KeyLending.for_door(has_server_key=True, host=host, allowed_hosts=allowed).local_door is local


@pytest.mark.parametrize(
    ("value", "name"), [("a.example:80", "a.example"), ("[::1]:8000", "::1"), ("[::1]", "::1"), ("::1", "::1")]
)
def test_host_names_are_read_with_or_without_a_port(value: str, name: str) -> None:
    assert host_name(value) == name

"""FloraClient.create_project: the route, the body, and the key that makes a repeat harmless."""

from __future__ import annotations

import json

import httpx2
import pytest
from pydantic import ValidationError

from flora_mcp.api import AcceptedEarlier, NotFoundError, Started, UnexpectedResponseError
from flora_mcp.api.models import Project

from .support import BASE_URL, MakeHarness, envelope

pytestmark = pytest.mark.anyio

PROJECT = {
    "project_id": "prj_new1",
    "workspace_id": "ws_abc123",
    "name": "Launch",
    "created_at": 1700000000000,
    "last_modified": 1700000000000,
    "origin": "api",
}


def refused(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)


async def test_it_posts_the_name_to_the_workspace_route_with_the_key(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(201, json=PROJECT))
    result = await h.client.create_project("ws_abc123", "Launch", idempotency_key="my-key-0001")
    assert isinstance(result, Started)
    assert isinstance(result.response, Project)
    assert result.response.project_id == "prj_new1"
    assert result.idempotency_key == "my-key-0001"
    [request] = h.flora.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE_URL}/workspaces/ws_abc123/projects"
    assert json.loads(request.content) == {"name": "Launch"}
    assert request.headers["Idempotency-Key"] == "my-key-0001"


async def test_a_lost_answer_is_retried_with_the_same_key(harness: MakeHarness) -> None:
    h = harness(refused, httpx2.Response(201, json=PROJECT), new_key=lambda: "flora-mcp-generated-1")
    result = await h.client.create_project("ws_abc123", "Launch")
    assert isinstance(result, Started)
    assert [r.headers["Idempotency-Key"] for r in h.flora.requests] == ["flora-mcp-generated-1"] * 2


async def test_a_duplicate_key_is_accepted_earlier_not_an_error(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(409, json=envelope("idempotency_duplicate")))
    result = await h.client.create_project("ws_abc123", "Launch", idempotency_key="my-key-0001")
    assert isinstance(result, AcceptedEarlier)
    assert result.idempotency_key == "my-key-0001"
    assert len(h.flora.requests) == 1  # a 409 on a keyed request is never retried


async def test_an_unknown_workspace_is_not_found(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(404, json=envelope("not_found", "Workspace ws_abc123 not found.")))
    with pytest.raises(NotFoundError):
        await h.client.create_project("ws_abc123", "Launch")


async def test_an_unreadable_2xx_says_the_project_was_probably_made(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(201, content=b"<html>ok</html>"))
    with pytest.raises(UnexpectedResponseError) as caught:
        await h.client.create_project("ws_abc123", "Launch", idempotency_key="my-key-0001")
    assert caught.value.may_have_been_processed
    assert "probably created" in str(caught.value) and "my-key-0001" in str(caught.value)


@pytest.mark.parametrize(
    ("workspace_id", "name"),
    [("ws_abc123", ""), ("ws_abc123", "   "), ("ws_abc123", "x" * 201), ("abc123", "Launch"), ("ws_a/../b", "Launch")],
)
async def test_what_can_never_be_sent_is_refused_before_sending(
    harness: MakeHarness, workspace_id: str, name: str
) -> None:
    h = harness(httpx2.Response(201, json=PROJECT))
    with pytest.raises(ValidationError):
        await h.client.create_project(workspace_id, name)
    assert h.flora.requests == []

"""poll(): a poll_url is followed only when it points inside the configured API."""

from __future__ import annotations

import httpx2
import pytest

from .support import BASE_URL, CANARY_KEY, MakeHarness, run_state

pytestmark = pytest.mark.anyio


def ok_state(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json=run_state(status="completed"))


@pytest.mark.parametrize(
    "poll_url",
    [
        f"{BASE_URL}/runs/run_abc123",
        f"{BASE_URL}/runs/run_abc123?view=full#frag",
        "HTTPS://FLORA.test:443/api/v1/runs/run_abc123",
    ],
)
async def test_a_poll_url_inside_the_api_is_followed(harness: MakeHarness, poll_url: str) -> None:
    h = harness(ok_state)
    state = await h.client.poll(run_id="run_abc123", poll_url=poll_url)
    assert state.status == "completed"
    sent = h.flora.requests[0]
    assert (sent.url.host, sent.url.path) == ("flora.test", "/api/v1/runs/run_abc123")
    assert sent.url.params.get("view") == ("full" if "view" in poll_url else None)


@pytest.mark.parametrize(
    "poll_url",
    [
        "https://evil.test/api/v1/runs/run_abc123",  # another host
        "http://flora.test/api/v1/runs/run_abc123",  # another scheme
        "https://flora.test:8443/api/v1/runs/run_abc123",  # another port
        "https://flora.test.evil.test/api/v1/runs/run_abc123",  # a look-alike host
        "https://user:pw@flora.test/api/v1/runs/run_abc123",  # user info
        "https://flora.test/other/runs/run_abc123",  # outside the base path
        "https://flora.test/api/v10/runs/run_abc123",  # a prefix of the base path is not inside it
        "https://flora.test/api/v1",  # the base itself
        "https://flora.test/api/v1/runs/../../admin",  # dot segments
        "https://flora.test/api/v1/runs/%2e%2e/%2e%2e/admin",  # encoded dot segments
        "https://flora.test/api/v1/runs%2F..%2F..%2Fadmin",  # encoded slashes
        "/api/v1/runs/run_abc123",  # relative
        "not a url at all",
        "javascript:alert(1)",
    ],
)
async def test_a_poll_url_outside_the_api_is_ignored_for_the_documented_route(
    harness: MakeHarness, poll_url: str
) -> None:
    h = harness(ok_state)
    await h.client.poll(run_id="run_abc123", poll_url=poll_url)
    assert len(h.flora.requests) == 1
    sent = h.flora.requests[0]
    assert (str(sent.url.copy_with(query=None))) == f"{BASE_URL}/runs/run_abc123"


async def test_without_a_poll_url_a_technique_run_is_polled_on_its_technique_route(harness: MakeHarness) -> None:
    h = harness(ok_state)
    await h.client.poll(run_id="run_abc123", technique_id="poster-maker")
    assert h.flora.requests[0].url.path == "/api/v1/techniques/poster-maker/runs/run_abc123"


async def test_a_rejected_poll_url_of_a_technique_run_falls_back_to_its_technique_route(
    harness: MakeHarness,
) -> None:
    h = harness(ok_state)
    await h.client.poll(run_id="run_abc123", technique_id="tech_abcd1234", poll_url="https://evil.test/x")
    assert [r.url.host for r in h.flora.requests] == ["flora.test"]
    assert h.flora.requests[0].url.path == "/api/v1/techniques/tech_abcd1234/runs/run_abc123"


async def test_the_key_is_never_sent_to_a_host_a_poll_url_names(harness: MakeHarness) -> None:
    h = harness(ok_state)
    await h.client.poll(run_id="run_abc123", poll_url="https://collector.evil.test/api/v1/runs/run_abc123")
    assert all(r.url.host == "flora.test" for r in h.flora.requests)
    assert h.flora.requests[0].headers["Authorization"] == f"Bearer {CANARY_KEY}"


async def test_a_base_url_with_a_port_accepts_poll_urls_on_that_port_only(harness: MakeHarness) -> None:
    h = harness(ok_state, base_url="http://127.0.0.1:8123/api/v1")
    await h.client.poll(run_id="run_abc123", poll_url="http://127.0.0.1:8123/api/v1/runs/run_abc123?t=1")
    await h.client.poll(run_id="run_abc123", poll_url="http://127.0.0.1:8124/api/v1/runs/run_abc123?t=1")
    assert [r.url.params.get("t") for r in h.flora.requests] == ["1", None]
    assert all(r.url.port == 8123 for r in h.flora.requests)

"""The API key appears in the Authorization header and nowhere else: not in errors, reprs or logs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx2
import pytest

from flora_mcp.api import FloraError, RetryPolicy

from .support import CANARY_KEY, GENERATION, MakeHarness, envelope, run_state

pytestmark = pytest.mark.anyio


def echo_headers(status: int, content_type: str) -> Callable[[httpx2.Request], httpx2.Response]:
    # A misbehaving proxy that prints the request headers into its error page.
    def answer(request: httpx2.Request) -> httpx2.Response:
        page = f"<pre>Authorization: {request.headers['Authorization']}</pre>".encode()
        return httpx2.Response(status, content=page, headers={"content-type": content_type})

    return answer


def leaky_connect_error(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError(f"proxy refused {request.headers['Authorization']}", request=request)


def leaky_timeout(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ReadTimeout(f"timed out for {request.headers['Authorization']}", request=request)


SCENARIOS = {
    "html error page echoing the header": echo_headers(502, "text/html"),
    "json error envelope quoting the key": lambda request: httpx2.Response(
        401, json=envelope("invalid_api_key", f"Key {CANARY_KEY} is not valid.")
    ),
    "validation fields quoting the key": lambda request: httpx2.Response(
        400, json=envelope("input_validation_error", "bad", fields=[{"field": "key", "message": CANARY_KEY}])
    ),
    "2xx body that is not json and echoes the key": echo_headers(200, "text/plain"),
    "2xx json of the wrong shape holding the key": lambda request: httpx2.Response(
        200, json={"run_id": {"key": CANARY_KEY}, "status": CANARY_KEY}
    ),
    "connection error naming the key": leaky_connect_error,
    "timeout naming the key": leaky_timeout,
    "rate limited": lambda request: httpx2.Response(429, json=envelope("rate_limited")),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("call", ["get_run", "start_generation_run"])
async def test_the_key_is_in_no_error_text_repr_or_log_line(
    harness: MakeHarness, caplog: pytest.LogCaptureFixture, scenario: str, call: str
) -> None:
    caplog.set_level(logging.DEBUG)
    h = harness(SCENARIOS[scenario], retry=RetryPolicy(max_retries=1))
    with pytest.raises(FloraError) as caught:
        if call == "get_run":
            await h.client.get_run("run_abc123")
        else:
            await h.client.start_generation_run(GENERATION)
    err = caught.value
    texts = [str(err), repr(err), *(str(v) for v in vars(err).values())]
    if err.__cause__ is not None:
        texts += [str(err.__cause__), repr(err.__cause__)]
    assert all(CANARY_KEY not in text for text in texts)
    assert caplog.records, "the call should have logged"
    assert CANARY_KEY not in caplog.text
    assert all(CANARY_KEY not in str(vars(record)) for record in caplog.records)
    # The header itself did carry the key: the canary is live, not absent everywhere.
    assert h.flora.requests[0].headers["Authorization"] == f"Bearer {CANARY_KEY}"


async def test_a_successful_call_logs_one_line_without_the_key(
    harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flora_mcp.api")
    h = harness(httpx2.Response(200, json=run_state(), headers={"request-id": "req_77"}))
    await h.client.get_run("run_abc123")
    lines = [r for r in caplog.records if r.name == "flora_mcp.api"]
    assert len(lines) == 1
    line = lines[0]
    assert (line.route, line.status, line.request_id, line.attempts) == (  # type: ignore[attr-defined]
        "GET /runs/{run_id}",
        200,
        "req_77",
        1,
    )
    assert "req_77" in line.getMessage()
    assert CANARY_KEY not in caplog.text


async def test_the_client_repr_shows_no_key(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(200, json=run_state()))
    assert CANARY_KEY not in repr(h.client)
    assert CANARY_KEY not in str(h.client)
    assert CANARY_KEY not in repr(h.client.with_api_key(CANARY_KEY + "2"))
    assert "api_key=set" in repr(h.client)


async def test_a_successful_answer_that_echoes_the_key_reaches_the_caller_without_it(harness: MakeHarness) -> None:
    # A proxy or a bug could put the key into a field of a valid answer (say, a signed poll_url);
    # whatever a body holds can end up in front of the agent.
    leaky = run_state(poll_url=f"https://flora.test/api/v1/runs/run_abc123?token={CANARY_KEY}")
    h = harness(httpx2.Response(200, json=leaky))
    state = await h.client.get_run("run_abc123")
    assert state.run_id == "run_abc123"
    assert CANARY_KEY not in state.model_dump_json()
    assert state.poll_url is not None and "[redacted]" in state.poll_url

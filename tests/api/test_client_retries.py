"""The request loop's retries, seen from the client: what is retried, the waits, the same key."""

from __future__ import annotations

from email.utils import formatdate

import httpx2
import pytest

from flora_mcp.api import (
    AcceptedEarlier,
    FloraAPIError,
    FloraConnectionError,
    FloraTimeoutError,
    InputValidationError,
    NotFoundError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    Started,
    TechniqueRunRequest,
)

from .support import GENERATION, MakeHarness, envelope, run_state, start_answer

pytestmark = pytest.mark.anyio

NOW = 1_700_000_000.0


def unavailable(**headers: str) -> httpx2.Response:
    return httpx2.Response(503, json=envelope("unknown_error"), headers=headers)


def refused(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)


async def test_a_server_error_is_retried_twice_with_growing_waits(harness: MakeHarness) -> None:
    h = harness(unavailable(), unavailable(), httpx2.Response(200, json=run_state()))
    state = await h.client.get_run("run_abc123")
    assert state.run_id == "run_abc123"
    assert len(h.flora.requests) == 3
    assert h.clock.sleeps == [0.5, 1.0]


async def test_after_the_retries_are_spent_the_last_error_is_raised_with_its_attempts(
    harness: MakeHarness,
) -> None:
    h = harness(unavailable(**{"request-id": "req_9"}))
    with pytest.raises(ServerError) as caught:
        await h.client.get_run("run_abc123")
    assert len(h.flora.requests) == 3
    assert caught.value.attempts == 3
    assert caught.value.request_id == "req_9"


async def test_the_number_of_retries_follows_the_policy(harness: MakeHarness) -> None:
    h = harness(unavailable(), retry=RetryPolicy(max_retries=0))
    with pytest.raises(ServerError):
        await h.client.get_run("run_abc123")
    assert len(h.flora.requests) == 1
    assert h.clock.sleeps == []


async def test_retry_after_ms_sets_the_wait(harness: MakeHarness) -> None:
    h = harness(unavailable(**{"retry-after-ms": "250"}), httpx2.Response(200, json=run_state()))
    await h.client.get_run("run_abc123")
    assert h.clock.sleeps == [0.25]


async def test_retry_after_seconds_on_a_rate_limit_sets_the_wait(harness: MakeHarness) -> None:
    limited = httpx2.Response(429, json=envelope("rate_limited"), headers={"Retry-After": "3"})
    h = harness(limited, httpx2.Response(200, json=run_state()))
    await h.client.get_run("run_abc123")
    assert h.clock.sleeps == [3]


async def test_retry_after_as_an_http_date_sets_the_wait(harness: MakeHarness) -> None:
    limited = httpx2.Response(429, headers={"Retry-After": formatdate(NOW + 20, usegmt=True)})
    h = harness(limited, httpx2.Response(200, json=run_state()), clock=lambda: NOW)
    await h.client.get_run("run_abc123")
    assert h.clock.sleeps == [pytest.approx(20)]


async def test_a_retry_after_beyond_the_cap_waits_only_the_cap(harness: MakeHarness) -> None:
    limited = httpx2.Response(429, headers={"Retry-After": "86400"})
    h = harness(limited, httpx2.Response(200, json=run_state()), retry=RetryPolicy(max_retry_after=10))
    await h.client.get_run("run_abc123")
    assert h.clock.sleeps == [10]


async def test_a_rate_limit_that_persists_reports_how_long_flora_asked_to_wait(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(429, json=envelope("rate_limited"), headers={"Retry-After": "2"}))
    with pytest.raises(RateLimitedError) as caught:
        await h.client.list_workspaces()
    assert caught.value.retry_after == 2


async def test_x_should_retry_false_is_respected(harness: MakeHarness) -> None:
    h = harness(unavailable(**{"x-should-retry": "false"}))
    with pytest.raises(ServerError):
        await h.client.get_run("run_abc123")
    assert len(h.flora.requests) == 1


async def test_x_should_retry_true_is_respected(harness: MakeHarness) -> None:
    bad = httpx2.Response(400, json=envelope("input_validation_error"), headers={"x-should-retry": "true"})
    h = harness(bad, httpx2.Response(200, json=run_state()))
    await h.client.get_run("run_abc123")
    assert len(h.flora.requests) == 2


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "input_validation_error"), (401, "invalid_api_key"), (402, "insufficient_credits"), (404, "not_found")],
)
async def test_client_errors_are_never_retried(harness: MakeHarness, status: int, code: str) -> None:
    h = harness(httpx2.Response(status, json=envelope(code)))
    with pytest.raises(FloraAPIError):
        await h.client.start_generation_run(GENERATION)
    assert len(h.flora.requests) == 1
    assert h.clock.sleeps == []


async def test_a_request_timeout_408_is_retried(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(408), httpx2.Response(200, json=run_state()))
    await h.client.get_run("run_abc123")
    assert len(h.flora.requests) == 2


async def test_a_refused_connection_is_retried_then_reported(harness: MakeHarness) -> None:
    h = harness(refused)
    with pytest.raises(FloraConnectionError) as caught:
        await h.client.list_workspaces()
    assert not isinstance(caught.value, FloraTimeoutError)
    assert len(h.flora.requests) == 3
    assert caught.value.attempts == 3
    assert "tried 3 times" in str(caught.value)


async def test_a_timeout_is_retried_then_reported_as_a_timeout(harness: MakeHarness) -> None:
    def slow(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    h = harness(slow, timeout=5)
    with pytest.raises(FloraTimeoutError) as caught:
        await h.client.get_run("run_abc123")
    assert len(h.flora.requests) == 3
    assert "within 5 s" in str(caught.value)


async def test_a_connection_closed_without_an_answer_is_retried(harness: MakeHarness) -> None:
    def hung_up(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    h = harness(hung_up, httpx2.Response(200, json=run_state()))
    assert (await h.client.get_run("run_abc123")).status == "running"


async def test_a_lost_start_answer_is_retried_with_the_same_idempotency_key(harness: MakeHarness) -> None:
    h = harness(refused, unavailable(), httpx2.Response(200, json=start_answer()))
    result = await h.client.start_generation_run(GENERATION, idempotency_key="my-key-0001")
    assert isinstance(result, Started)
    assert result.idempotency_key == "my-key-0001"
    keys = [r.headers["Idempotency-Key"] for r in h.flora.requests]
    assert keys == ["my-key-0001"] * 3
    assert h.flora.json_bodies()[0] == h.flora.json_bodies()[2]


async def test_a_start_without_a_key_gets_a_generated_one_kept_across_retries(harness: MakeHarness) -> None:
    h = harness(refused, httpx2.Response(200, json=start_answer()), new_key=lambda: "flora-mcp-generated-1")
    result = await h.client.generate(GENERATION)
    assert isinstance(result, Started)
    assert result.idempotency_key == "flora-mcp-generated-1"
    assert [r.headers["Idempotency-Key"] for r in h.flora.requests] == ["flora-mcp-generated-1"] * 2


async def test_generated_keys_differ_between_starts(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(200, json=start_answer()))
    first = await h.client.generate(GENERATION)
    second = await h.client.generate(GENERATION)
    assert isinstance(first, Started)
    assert isinstance(second, Started)
    assert first.idempotency_key != second.idempotency_key
    assert first.idempotency_key.startswith("flora-mcp-")


async def test_a_duplicate_answer_after_a_lost_start_means_accepted_earlier(harness: MakeHarness) -> None:
    duplicate = httpx2.Response(409, json=envelope("idempotency_duplicate"), headers={"request-id": "req_2"})
    h = harness(refused, duplicate)
    result = await h.client.start_generation_run(GENERATION, idempotency_key="my-key-0002")
    assert result == AcceptedEarlier(idempotency_key="my-key-0002", request_id="req_2", route="POST /runs/generation")
    assert len(h.flora.requests) == 2


async def test_a_duplicate_answer_is_final_even_when_flora_asks_for_a_retry(harness: MakeHarness) -> None:
    duplicate = httpx2.Response(409, json=envelope("idempotency_duplicate"), headers={"x-should-retry": "true"})
    h = harness(duplicate, unavailable())
    result = await h.client.start_top_level_technique_run(
        TechniqueRunRequest(technique_id="tech_abcd1234", workspace_id="ws_abc123", inputs={"subject": "a mug"}),
        idempotency_key="my-key-0003",
    )
    assert isinstance(result, AcceptedEarlier)
    assert len(h.flora.requests) == 1


async def test_a_409_with_another_code_stays_an_error(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(409, json=envelope("conflict", "Project is locked.")))
    with pytest.raises(FloraAPIError) as caught:
        await h.client.generate(GENERATION)
    assert caught.value.code == "conflict"


async def test_reads_carry_no_idempotency_key(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(200, json=run_state()))
    await h.client.get_run("run_abc123")
    assert "Idempotency-Key" not in h.flora.requests[0].headers


async def test_a_validation_error_is_raised_at_once_not_retried(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(400, json=envelope("input_validation_error")))
    with pytest.raises(InputValidationError):
        await h.client.generate(GENERATION)
    assert len(h.flora.requests) == 1


async def test_a_not_found_is_not_retried(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(404, json=envelope("not_found")))
    with pytest.raises(NotFoundError):
        await h.client.get_run("run_missing1")
    assert h.clock.sleeps == []

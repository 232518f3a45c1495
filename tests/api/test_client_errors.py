"""How each kind of failed answer reaches the caller: the error class, code, fields, request id."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from flora_mcp.api import (
    AuthenticationError,
    FieldError,
    FloraAPIError,
    FloraConnectionError,
    FloraError,
    IdempotencyDuplicateError,
    InputValidationError,
    InsufficientCreditsError,
    InvalidJSONError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    UnexpectedResponseError,
)

from .support import GENERATION, MakeHarness, chunks, envelope, run_state

pytestmark = pytest.mark.anyio

NO_RETRY = RetryPolicy(max_retries=0)


@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [
        (400, "input_validation_error", InputValidationError),
        (400, "invalid_json", InvalidJSONError),
        (401, "unauthorized", AuthenticationError),
        (401, "invalid_api_key", AuthenticationError),
        (402, "insufficient_credits", InsufficientCreditsError),
        (403, "forbidden", PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (429, "rate_limited", RateLimitedError),
        (500, "unknown_error", ServerError),
    ],
)
async def test_every_documented_error_code_becomes_its_own_error(
    harness: MakeHarness, status: int, code: str, error_class: type[FloraAPIError]
) -> None:
    answer = httpx2.Response(status, json=envelope(code, "FLORA says no."), headers={"request-id": "req_42"})
    h = harness(answer, retry=NO_RETRY)
    with pytest.raises(error_class) as caught:
        await h.client.list_workspaces()
    err = caught.value
    assert (err.status, err.code, err.message, err.request_id) == (status, code, "FLORA says no.", "req_42")
    assert "req_42" in str(err)
    assert code in str(err)


async def test_idempotency_duplicate_on_a_read_is_an_error_not_a_result(harness: MakeHarness) -> None:
    # Only a start can have been "accepted earlier"; anywhere else the code is just an error.
    h = harness(httpx2.Response(409, json=envelope("idempotency_duplicate")))
    with pytest.raises(IdempotencyDuplicateError):
        await h.client.get_run("run_abc123")


async def test_validation_errors_carry_the_fields_to_fix(harness: MakeHarness) -> None:
    body = envelope(
        "input_validation_error",
        "prompt: Required",
        fields=[{"field": "prompt", "message": "Required"}, {"field": "type", "message": "Invalid enum"}],
    )
    h = harness(httpx2.Response(400, json=body))
    with pytest.raises(InputValidationError) as caught:
        await h.client.start_generation_run(GENERATION)
    assert caught.value.fields == (FieldError("prompt", "Required"), FieldError("type", "Invalid enum"))
    assert "prompt: Required" in str(caught.value)


async def test_an_unknown_error_code_still_becomes_a_clear_error(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(418, json=envelope("teapot_overheated", "Too hot.")))
    with pytest.raises(FloraAPIError) as caught:
        await h.client.list_workspaces()
    assert (caught.value.status, caught.value.code, caught.value.message) == (418, "teapot_overheated", "Too hot.")


async def test_an_unknown_code_on_a_server_error_is_a_server_error(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(500, json=envelope("db_on_fire")), retry=NO_RETRY)
    with pytest.raises(ServerError) as caught:
        await h.client.list_workspaces()
    assert caught.value.code == "db_on_fire"


async def test_an_html_502_from_a_proxy_is_a_server_error_quoting_the_page(harness: MakeHarness) -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    h = harness(httpx2.Response(502, content=page, headers={"content-type": "text/html"}), retry=NO_RETRY)
    with pytest.raises(ServerError) as caught:
        await h.client.list_workspaces()
    assert caught.value.status == 502
    assert "502 Bad Gateway" in str(caught.value)


async def test_an_empty_error_body_keeps_the_status_meaning(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(403, content=b""))
    with pytest.raises(PermissionDeniedError) as caught:
        await h.client.list_workspaces()
    assert "empty body" in str(caught.value)


async def test_an_empty_success_body_is_an_unexpected_response(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(200, content=b""))
    with pytest.raises(UnexpectedResponseError) as caught:
        await h.client.get_run("run_abc123")
    assert caught.value.status == 200
    assert "empty body" in str(caught.value)


async def test_truncated_json_is_an_unexpected_response(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(200, content=b'{"run_id": "run_abc123", "stat'))
    with pytest.raises(UnexpectedResponseError) as caught:
        await h.client.get_run("run_abc123")
    assert caught.value.status == 200
    assert "not JSON" in str(caught.value)


async def test_json_of_the_wrong_shape_is_an_unexpected_response_naming_the_problem(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(200, json={"runs": []}))
    with pytest.raises(UnexpectedResponseError) as caught:
        await h.client.get_run("run_abc123")
    assert "RunState" in str(caught.value)
    assert "run_id" in str(caught.value)


async def test_an_unreadable_start_answer_says_the_start_was_probably_accepted(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(200, content=b"<html>ok</html>"))
    with pytest.raises(UnexpectedResponseError) as caught:
        await h.client.start_generation_run(GENERATION, idempotency_key="my-key-0009")
    assert "probably accepted" in str(caught.value)
    assert "my-key-0009" in str(caught.value)
    assert len(h.flora.requests) == 1


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e309", b"-1e400"])
async def test_a_number_that_is_not_finite_is_a_parse_error_not_a_value(harness: MakeHarness, number: bytes) -> None:
    # json.loads takes all of these (1e309 as inf): a NaN charge would compare false with any cap.
    h = harness(
        httpx2.Response(200, content=b'{"run_id": "run_abc123", "status": "running", "charged_cost": ' + number + b"}")
    )
    with pytest.raises(UnexpectedResponseError) as caught:
        await h.client.get_run("run_abc123")
    assert "not finite" in str(caught.value)


async def test_a_start_answer_with_a_number_that_is_not_finite_still_names_its_run(harness: MakeHarness) -> None:
    body = b'{"run_id": "run_abc123", "type": "generation", "charged_cost": 0.04, "estimated_seconds": 1e309}'
    h = harness(httpx2.Response(200, content=body))
    with pytest.raises(UnexpectedResponseError) as caught:
        await h.client.start_generation_run(GENERATION, idempotency_key="my-key-0010")
    assert caught.value.run_id == "run_abc123"
    assert caught.value.may_have_been_processed


async def test_an_answer_larger_than_the_cap_is_refused(harness: MakeHarness) -> None:
    h = harness(httpx2.Response(200, content=b"x" * 5000), max_body_bytes=1000)
    with pytest.raises(UnexpectedResponseError) as caught:
        await h.client.list_workspaces()
    assert "larger than 1000 bytes" in str(caught.value)


async def test_an_oversized_answer_without_a_length_is_not_read_past_the_cap(harness: MakeHarness) -> None:
    served: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for i in range(10_000):
            served.append(i)
            yield b"x" * 100

    h = harness(lambda request: httpx2.Response(200, content=endless()), max_body_bytes=1000)
    with pytest.raises(UnexpectedResponseError, match="larger than 1000 bytes"):
        await h.client.list_workspaces()
    assert len(served) < 20


async def test_an_answer_cut_off_mid_body_is_a_connection_error_and_is_retried(harness: MakeHarness) -> None:
    def cut(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=chunks(b'{"run_id": "run_', then=httpx2.ReadError("reset by peer")))

    h = harness(cut, httpx2.Response(200, json=run_state()))
    state = await h.client.get_run("run_abc123")
    assert state.run_id == "run_abc123"
    assert len(h.flora.requests) == 2


async def test_a_body_cut_off_on_every_attempt_ends_as_a_connection_error(harness: MakeHarness) -> None:
    def cut(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=chunks(b"{", then=httpx2.ReadError("reset by peer")))

    h = harness(cut)
    with pytest.raises(FloraConnectionError) as caught:
        await h.client.get_run("run_abc123")
    assert caught.value.attempts == 3


async def test_a_redirect_is_not_followed(harness: MakeHarness) -> None:
    moved = httpx2.Response(302, headers={"location": "https://elsewhere.test/steal"})
    h = harness(moved, httpx2.Response(200, json=run_state()))
    with pytest.raises(UnexpectedResponseError) as caught:
        await h.client.get_run("run_abc123")
    assert caught.value.status == 302
    assert [r.url.host for r in h.flora.requests] == ["flora.test"]


async def test_no_httpx_exception_escapes_a_call(harness: MakeHarness) -> None:
    def unsupported(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.UnsupportedProtocol("no such scheme", request=request)

    h = harness(unsupported)
    with pytest.raises(FloraError) as caught:
        await h.client.list_workspaces()
    assert not isinstance(caught.value, httpx2.HTTPError)
    assert len(h.flora.requests) == 1  # retrying cannot fix this one

"""RetryPolicy and parse_retry_after on their own: what is retried, and how long to wait."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from flora_mcp.api import RetryPolicy, parse_retry_after

NOW = 1_700_000_000.0
policy = RetryPolicy()


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_timeouts_rate_limits_and_server_errors_are_retried(status: int) -> None:
    assert policy.should_retry(status, {})


def test_a_failed_connection_is_retried() -> None:
    assert policy.should_retry(None, None)


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422])
def test_other_client_errors_are_never_retried(status: int) -> None:
    assert not policy.should_retry(status, {})


def test_x_should_retry_false_stops_a_retry_the_status_would_allow() -> None:
    assert not policy.should_retry(503, {"X-Should-Retry": "false"})


def test_x_should_retry_true_asks_for_a_retry_the_status_would_not_allow() -> None:
    assert policy.should_retry(400, {"x-should-retry": "true"})


def test_backoff_doubles_from_half_a_second_up_to_eight_seconds() -> None:
    delays = [policy.delay(n, None, lambda: 0.0) for n in range(6)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_jitter_shortens_a_backoff_by_at_most_a_quarter() -> None:
    assert policy.delay(1, None, lambda: 1.0) == pytest.approx(0.75)
    assert policy.delay(1, None, lambda: 0.5) == pytest.approx(0.875)


def test_retry_after_ms_wins_over_retry_after() -> None:
    headers = {"retry-after-ms": "1500", "retry-after": "30"}
    assert policy.delay(0, headers, lambda: 0.0, now=NOW) == pytest.approx(1.5)


def test_retry_after_in_seconds_is_honoured() -> None:
    assert policy.delay(0, {"Retry-After": "7"}, lambda: 0.0, now=NOW) == 7


def test_retry_after_as_an_http_date_is_honoured() -> None:
    headers = {"Retry-After": formatdate(NOW + 12, usegmt=True)}
    assert policy.delay(0, headers, lambda: 0.0, now=NOW) == pytest.approx(12)


def test_a_retry_after_date_in_the_past_means_retry_now() -> None:
    assert parse_retry_after({"Retry-After": formatdate(NOW - 100, usegmt=True)}, NOW) == 0


def test_a_long_retry_after_is_capped() -> None:
    assert policy.delay(0, {"Retry-After": "3600"}, lambda: 0.0, now=NOW) == 60
    assert RetryPolicy(max_retry_after=5).delay(0, {"retry-after-ms": "90000"}, lambda: 0.0, now=NOW) == 5


@pytest.mark.parametrize("value", ["soon", "-3", "nan", "inf", ""])
def test_an_unusable_retry_after_falls_back_to_backoff(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}, NOW) is None
    assert policy.delay(2, {"Retry-After": value}, lambda: 0.0, now=NOW) == 2.0

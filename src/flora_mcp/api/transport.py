"""One HTTP exchange with FLORA, with its retries: the client's only door to the network.

`Transport.request` sends one logical call: it adds auth and identification headers, sends,
reads the body with a size cap, retries what `RetryPolicy` says to retry (re-sending the very
same request, so a POST keeps its Idempotency-Key), and turns every failure into a FloraError.
httpx2 exceptions never leave this module.

The API key lives in one attribute and goes into one header. Every message built here is
passed through `redact`, and every answer body through the same scrubber (flora_mcp.keys: every
spelling of the key, whole keys only), because an answer body (a proxy echoing headers, a
validation error quoting input) is text we do not control. No header value is ever quoted in a
message: the HTTP library's own errors about a request it could not build quote the header.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from flora_mcp import __version__
from flora_mcp.api.errors import (
    FloraAPIError,
    FloraConnectionError,
    FloraError,
    FloraTimeoutError,
    MissingAPIKeyError,
    UnexpectedResponseError,
    error_from_response,
)
from flora_mcp.api.retry import RetryPolicy, parse_retry_after
from flora_mcp.keys import REDACTED, KeyScrubber

logger = logging.getLogger("flora_mcp.api")

USER_AGENT = f"flora-mcp/{__version__}"
MISSING_KEY_MESSAGE = "No FLORA API key: set FLORA_API_KEY (or pass --sandbox to try the local sandbox)"
__all__ = ["REDACTED", "Answer", "Transport"]  # REDACTED: re-exported for callers

# Failures where the request may never have reached FLORA, or its answer was lost on the way:
# worth another attempt. Other httpx2 errors (unsupported scheme, an invalid request) would only
# fail the same way again.
_RETRYABLE_TRANSPORT_ERRORS = (
    httpx2.TimeoutException,
    httpx2.NetworkError,
    httpx2.RemoteProtocolError,
    httpx2.ProxyError,
)


@dataclass(frozen=True)
class Answer:
    """A 2xx answer, fully read."""

    status: int
    headers: httpx2.Headers
    body: bytes
    request_id: str | None
    attempts: int


@dataclass(frozen=True)
class _Failure:
    """How one attempt failed: the error to raise if it is the last, and what retrying needs."""

    error: FloraError
    headers: httpx2.Headers | None = None
    transport_retryable: bool = True
    # Whether FLORA may have received and acted on this attempt (see FloraError).
    may_have_landed: bool = True


class _BodyTooLarge(Exception):
    """Raised inside `_read_capped` when an answer passes max_body_bytes."""


class Transport:
    """Sends requests to one FLORA base URL with one API key, retrying per one policy."""

    def __init__(
        self,
        http_client: httpx2.AsyncClient,
        *,
        api_key: str | None,
        retry: RetryPolicy,
        timeout: float,
        sleep: Callable[[float], Awaitable[None]],
        random: Callable[[], float],
        clock: Callable[[], float],
        max_body_bytes: int,
    ) -> None:
        self._http = http_client
        self._api_key = api_key or None
        self._scrubber = KeyScrubber(self._api_key) if self._api_key else None
        self.retry = retry
        self.timeout = timeout
        self.sleep = sleep
        self.random = random
        self.clock = clock
        self.max_body_bytes = max_body_bytes

    def __repr__(self) -> str:
        return f"Transport(api_key={'set' if self._api_key else 'missing'}, retry={self.retry!r})"

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    def with_api_key(self, api_key: str) -> Transport:
        other = copy.copy(self)
        other._api_key = api_key or None
        other._scrubber = KeyScrubber(other._api_key) if other._api_key else None
        return other

    def redact(self, text: str) -> str:
        """`text` with every spelling of the API key replaced (flora_mcp.keys)."""
        return self._scrubber.text(text) if self._scrubber else text

    async def request(
        self,
        method: str,
        route: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotency_key: str | None = None,
        body: Callable[[], AsyncIterable[bytes]] | None = None,
        body_headers: Mapping[str, str] | None = None,
        send_key: bool = True,
    ) -> Answer:
        """Send one call (with retries) and return its 2xx answer, or raise a FloraError.

        `route` is the route template ("GET /runs/{run_id}"): it names the call in logs and
        errors, where the URL itself might carry ids or tokens.

        `body` streams a body instead of `json_body`: a factory, called once per attempt, because
        a stream is spent by the attempt that sends it and a retry must send the bytes again.
        `body_headers` describe it (Content-Type, Content-Length). `send_key=False` leaves the
        Authorization header out: for a signed upload URL, which may be another host's.
        """
        if self._api_key is None:
            raise MissingAPIKeyError(MISSING_KEY_MESSAGE)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **(body_headers or {})}
        if send_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}

        def build() -> httpx2.Request:
            return self._http.build_request(
                method,
                _parsed_url(url),
                params=clean_params or None,
                json=json_body,
                content=body() if body is not None else None,
                headers=headers,
                timeout=httpx2.Timeout(self.timeout),
            )

        # Built once and sent as is on every attempt: the same body and the same key each time
        # (a streamed body is rebuilt from its factory, with the same headers and key).
        request = build()
        started = time.perf_counter()
        attempts = 0
        landed = False  # whether any failed attempt may have been acted on by FLORA
        status: int | None = None
        request_id: str | None = None
        try:
            while True:
                attempts += 1
                if body is not None and attempts > 1:
                    request = build()
                outcome = await self._attempt(request, route, attempts)
                if isinstance(outcome, Answer):
                    status, request_id = outcome.status, outcome.request_id
                    return outcome
                error = outcome.error
                # What the log line reports is the last attempt's outcome, not an earlier one's.
                if isinstance(error, FloraAPIError):
                    status, request_id = error.status, error.request_id
                else:
                    status, request_id = None, None
                landed = landed or outcome.may_have_landed
                if not self._retryable(outcome, idempotency_key, attempts):
                    final = _final(error, attempts)
                    final.may_have_been_processed = landed
                    raise final
                wait = self.retry.delay(attempts - 1, outcome.headers, self.random, now=self.clock())
                logger.debug(
                    "retrying %s after %s; waiting %.2f s",
                    route,
                    status or type(error).__name__,
                    wait,
                    extra={"route": route, "attempt": attempts, "wait_s": round(wait, 3)},
                )
                await self.sleep(wait)
        finally:
            self._log(route, status, request_id, attempts, started)

    def _retryable(self, failure: _Failure, idempotency_key: str | None, attempts: int) -> bool:
        if attempts > self.retry.max_retries:
            return False
        error = failure.error
        if not isinstance(error, FloraAPIError):
            return failure.transport_retryable and self.retry.should_retry(None, None)
        # A 409 on a keyed request is FLORA saying the key was already accepted; asking again
        # cannot change that, whatever x-should-retry says.
        if error.status == 409 and idempotency_key is not None:
            return False
        return self.retry.should_retry(error.status, failure.headers)

    async def _attempt(self, request: httpx2.Request, route: str, attempt: int) -> Answer | _Failure:
        """One send. Returns the 2xx answer, or the error it ended with (to raise or retry)."""
        try:
            # Redirects are never followed: nothing but FLORA's own routes is ever fetched.
            response = await self._http.send(request, stream=True, follow_redirects=False)
        except httpx2.HTTPError as exc:
            return self._transport_error(exc, route, attempt)
        try:
            status = response.status_code
            headers = response.headers
            request_id = headers.get("request-id")
            try:
                body = await self._read_capped(response)
            except _BodyTooLarge:
                error: FloraAPIError = UnexpectedResponseError(
                    f"FLORA's answer to {route} (HTTP {status}) was larger than {self.max_body_bytes} bytes",
                    status=status,
                    request_id=request_id,
                    attempts=attempt,
                )
                return _Failure(error, headers)
            except httpx2.DecodingError as exc:
                error = UnexpectedResponseError(
                    self.redact(f"FLORA's answer to {route} (HTTP {status}) could not be decoded: {exc}"),
                    status=status,
                    request_id=request_id,
                    attempts=attempt,
                )
                return _Failure(error, headers)
            except httpx2.HTTPError as exc:
                return self._transport_error(exc, route, attempt)
        finally:
            await response.aclose()

        # Scrubbed before anything reads it: a success can echo the key too (a proxy or a bug
        # putting it into a URL field), and whatever is in a body can reach the agent.
        body = self._scrub(body)
        if 200 <= status < 300:
            return Answer(status, headers, body, request_id, attempt)
        error = error_from_response(
            status,
            body,
            content_type=headers.get("content-type", ""),
            request_id=request_id,
            retry_after=parse_retry_after(headers, self.clock()),
        )
        error.attempts = attempt
        # A 4xx is FLORA refusing the request; a 5xx (or a proxy's) may come after it acted.
        return _Failure(error, headers, may_have_landed=status >= 500)

    def _scrub(self, body: bytes) -> bytes:
        """`body` with every spelling of the API key replaced."""
        return self._scrubber.bytes(body) if self._scrubber else body

    async def _read_capped(self, response: httpx2.Response) -> bytes:
        # Stop reading as soon as the cap is passed: an answer we will refuse anyway must not
        # be buffered whole.
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyTooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    def _transport_error(self, exc: httpx2.HTTPError, route: str, attempt: int) -> _Failure:
        host = exc.request.url.host if _has_request(exc) else "FLORA"
        if isinstance(exc, httpx2.TimeoutException):
            message = f"FLORA ({host}) did not answer {route} within {_seconds(self.timeout)}"
            error: FloraConnectionError = FloraTimeoutError(self.redact(message), attempts=attempt)
        elif isinstance(exc, httpx2.LocalProtocolError | httpx2.UnsupportedProtocol):
            # The request could not even be built. httpx2's text here quotes the offending header
            # ("Illegal header value b'Bearer ...'"), so it is never passed on; nothing was sent.
            message = (
                f"flora-mcp could not send {route} to FLORA ({host}): the request was refused before sending "
                f"({type(exc).__name__}); check the FLORA API key and FLORA_BASE_URL for stray characters"
            )
            error = FloraConnectionError(message, attempts=attempt)
        else:
            detail = str(exc) or "connection failed"
            message = f"Could not reach FLORA ({host}) for {route}: {type(exc).__name__}: {detail}"
            error = FloraConnectionError(self.redact(message), attempts=attempt)
        # The httpx2 exception is not chained: its text is outside our control, and what it says
        # is already in the (redacted) message.
        # Only a connection that was never made proves the request was not received.
        never_sent = isinstance(
            exc, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout | httpx2.LocalProtocolError
        )
        return _Failure(error, None, isinstance(exc, _RETRYABLE_TRANSPORT_ERRORS), may_have_landed=not never_sent)

    def _log(self, route: str, status: int | None, request_id: str | None, attempts: int, started: float) -> None:
        ms = round((time.perf_counter() - started) * 1000)
        ok = status is not None and (200 <= status < 300 or status == 409)
        logger.log(
            logging.INFO if ok else logging.WARNING,
            "%s -> %s (request-id %s, %d attempt%s, %d ms)",
            route,
            status if status is not None else "no answer",
            request_id or "-",
            attempts,
            "" if attempts == 1 else "s",
            ms,
            extra={"route": route, "status": status, "request_id": request_id, "attempts": attempts, "ms": ms},
        )


def _final(error: FloraError, attempts: int) -> FloraError:
    """The error to raise after `attempts` tries; a connection error says how many there were."""
    if isinstance(error, FloraConnectionError) and attempts > 1:
        return type(error)(f"{error.message} (tried {attempts} times)", attempts=attempts)
    return error


@functools.lru_cache(maxsize=1024)
def _parsed_url(url: str) -> httpx2.URL:
    """`url` parsed once: a run is read at the same URL again and again, and parsing is half of building a request."""
    return httpx2.URL(url)


def _has_request(exc: httpx2.HTTPError) -> bool:
    try:
        exc.request  # noqa: B018 - httpx2 raises RuntimeError when no request is attached
    except RuntimeError:
        return False
    return True


def _seconds(value: float) -> str:
    return f"{value:g} s" if math.isfinite(value) else "the timeout"

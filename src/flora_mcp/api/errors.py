"""Every way a FLORA call can fail, as one exception tree.

    FloraError                      anything this client raises
    ├── MissingAPIKeyError          no API key configured: nothing was sent
    ├── FloraConnectionError        no usable answer: refused, reset, dropped mid-body
    │   └── FloraTimeoutError       the answer did not come in time
    └── FloraAPIError               FLORA (or something in front of it) answered with an error
        ├── InputValidationError    400 input_validation_error: `fields` names what to fix
        ├── InvalidJSONError        400 invalid_json
        ├── AuthenticationError     401 unauthorized, invalid_api_key
        ├── InsufficientCreditsError 402 insufficient_credits
        ├── PermissionDeniedError   403 forbidden
        ├── NotFoundError           404 not_found (also projects the key cannot see)
        ├── IdempotencyDuplicateError 409 idempotency_duplicate (or a bare 409): accepted earlier
        ├── ConflictError           409 with any other code: refused, not started
        ├── RateLimitedError        429 rate_limited
        ├── ServerError             5xx, unknown_error
        └── UnexpectedResponseError a body that is not FLORA's envelope (proxy HTML, empty, cut)

`error_from_response` is the one place a status and body become one of these. Messages carry
FLORA's code, message, fields and request id; they never carry the API key, because the
client never puts it anywhere but the Authorization header.

The attributes keep FLORA's text as sent (it is data); `str()` of an error is always one line,
FLORA's parts escaped (flora_mcp.untrusted), because it is quoted into text an agent reads
(a batch's item errors, a resource error) where a line break from FLORA could forge a line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from flora_mcp.untrusted import one_line, quoted

MAX_QUOTED_BODY = 200


@dataclass(frozen=True)
class FieldError:
    """One offending request field, as FLORA names it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{one_line(self.field, 100)}: {one_line(self.message)}"


class FloraError(Exception):
    """Base of every error this client raises.

    `may_have_been_processed` is True when some attempt of the failed call may have reached
    FLORA and been acted on (its answer was lost, timed out, or was a 5xx): for a start that
    means the run may exist and be charged. False means no attempt can have been acted on
    (refused connections, 4xx refusals, nothing sent).
    """

    may_have_been_processed: bool = False


class MissingAPIKeyError(FloraError):
    """No API key was configured, so nothing was sent."""


class FloraConnectionError(FloraError):
    """FLORA could not be reached, or the connection broke before a full answer arrived."""

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts


class FloraTimeoutError(FloraConnectionError):
    """FLORA did not answer within the configured timeout."""


class FloraAPIError(FloraError):
    """FLORA answered with an error status.

    Attributes mirror FLORA's error envelope plus what the HTTP answer adds: `status`, `code`,
    `message`, `fields`, `request_id`, and `retry_after` (seconds) when the answer gave one.
    """

    default_code: ClassVar[str] = "unknown_error"

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str | None = None,
        fields: tuple[FieldError, ...] = (),
        request_id: str | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
        enveloped: bool = True,
    ) -> None:
        self.status = status
        # False when the body was not FLORA's error envelope (a proxy page, nothing): a 404 or
        # 410 like that says the route itself is gone, not that an id is unknown.
        self.enveloped = enveloped
        self.code = code or self.default_code
        self.message = message
        self.fields = fields
        self.request_id = request_id
        self.retry_after = retry_after
        self.attempts = attempts
        super().__init__(self._describe())

    def _describe(self) -> str:
        # An envelope's message is FLORA's words, quoted; any other message is ours (with a
        # one-line quote of the body in it) and only needs to stay on one line.
        message = quoted(self.message) if self.enveloped else one_line(self.message, None)
        text = f"{one_line(self.code, 100)} (HTTP {self.status}): {message}"
        if self.fields:
            text += " [" + "; ".join(str(f) for f in self.fields) + "]"
        if self.request_id:
            text += f" (request-id {one_line(self.request_id, 100)})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, request_id={self.request_id!r})"


class InputValidationError(FloraAPIError):
    default_code = "input_validation_error"


class InvalidJSONError(FloraAPIError):
    default_code = "invalid_json"


class AuthenticationError(FloraAPIError):
    default_code = "unauthorized"


class InsufficientCreditsError(FloraAPIError):
    default_code = "insufficient_credits"


class PermissionDeniedError(FloraAPIError):
    default_code = "forbidden"


class NotFoundError(FloraAPIError):
    default_code = "not_found"


class IdempotencyDuplicateError(FloraAPIError):
    default_code = "idempotency_duplicate"


class ConflictError(FloraAPIError):
    """409 with a code other than idempotency_duplicate: FLORA refused the request as it stands."""

    default_code = "conflict"


class RateLimitedError(FloraAPIError):
    default_code = "rate_limited"


class ServerError(FloraAPIError):
    default_code = "unknown_error"


class UnexpectedResponseError(FloraAPIError):
    """The body was not FLORA's JSON (an HTML page from a proxy, nothing, cut-off JSON).

    `run_id`: for a 2xx answer to a start, the run id the body named even though the rest of it
    could not be read (a NaN, an overflowing number, a field of the wrong shape), else None.
    """

    default_code = "unexpected_response"
    run_id: str | None = None


_BY_CODE: dict[str, type[FloraAPIError]] = {
    "input_validation_error": InputValidationError,
    "invalid_json": InvalidJSONError,
    "unauthorized": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "insufficient_credits": InsufficientCreditsError,
    "forbidden": PermissionDeniedError,
    "not_found": NotFoundError,
    "idempotency_duplicate": IdempotencyDuplicateError,
    "rate_limited": RateLimitedError,
    "unknown_error": ServerError,
}

_BY_STATUS: dict[int, type[FloraAPIError]] = {
    400: InputValidationError,
    401: AuthenticationError,
    402: InsufficientCreditsError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}


def _class_for_status(status: int) -> type[FloraAPIError]:
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, FloraAPIError)


def quote_body(body: bytes, limit: int = MAX_QUOTED_BODY) -> str:
    """The start of `body` as one line of text, for an error message; "…" when cut."""
    # split() takes every line break and space; one_line escapes what is left (ESC, bidi marks).
    text = one_line(" ".join(body[:limit].decode("utf-8", "replace").split()), None)
    return text + ("…" if len(body) > limit else "")


@dataclass(frozen=True)
class Envelope:
    """What could be read of FLORA's error envelope; any part may be missing or malformed."""

    code: str | None
    message: str | None
    fields: tuple[FieldError, ...]


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def parse_envelope(body: bytes) -> Envelope | None:
    """The envelope's readable parts, or None when the body is not {"error": {...}} at all.

    Lenient on purpose: a null code, a field item without a message or a message that is not a
    string loses only that part, never the rest (the field names tell the agent what to fix).
    """
    try:
        data = json.loads(body)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return None
    fields: list[FieldError] = []
    raw_fields = error.get("fields")
    for item in raw_fields if isinstance(raw_fields, list) else ():
        if isinstance(item, dict):
            name = _text(item.get("field")) or _text(item.get("name"))
            note = _text(item.get("message")) or "invalid (FLORA gave no message)"
            if name:
                fields.append(FieldError(name, note))
        elif isinstance(item, str) and item.strip():
            fields.append(FieldError(item.strip(), "invalid (FLORA gave no message)"))
    code, message = _text(error.get("code")), _text(error.get("message"))
    if code is None and message is None and not fields:
        return None
    return Envelope(code=code, message=message, fields=tuple(fields))


def error_from_response(
    status: int,
    body: bytes,
    *,
    content_type: str = "",
    request_id: str | None = None,
    retry_after: float | None = None,
) -> FloraAPIError:
    """Turn an error answer into the matching FloraAPIError, whatever its body looks like."""
    envelope = parse_envelope(body)
    if envelope is not None:
        cls = _BY_CODE.get(envelope.code or "") or _class_for_status(status)
        if status == 409 and envelope.code is None:
            # A keyed start's 409 without a code can only be about the key.
            cls = IdempotencyDuplicateError
        return cls(
            envelope.message or f"FLORA answered HTTP {status}",
            status=status,
            code=envelope.code,
            fields=envelope.fields,
            request_id=request_id,
            retry_after=retry_after,
        )

    # Not the envelope. Keep the status's meaning (a 502 is still a server failure an agent can
    # wait out) and say what came back instead, briefly.
    what = "an empty body" if not body.strip() else f"a non-JSON body ({content_type or 'no content type'})"
    if body.strip() and "json" in content_type.lower():
        what = "a JSON body that is not FLORA's error envelope"
    message = f"FLORA answered HTTP {status} with {what}"
    if body.strip():
        message += f": {quote_body(body)}"
    cls = IdempotencyDuplicateError if status == 409 else _class_for_status(status)
    if cls is FloraAPIError:
        cls = UnexpectedResponseError
    return cls(message, status=status, code=None, request_id=request_id, retry_after=retry_after, enveloped=False)

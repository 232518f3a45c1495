"""FLORA's error envelope, as the sandbox answers it.

Handlers raise `ApiError`; the app turns it into
`{"error": {"code", "message", "fields": [{"field", "message"}]}}` with its status and headers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

CODE_FOR_STATUS = {
    400: "input_validation_error",
    401: "unauthorized",
    402: "insufficient_credits",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "idempotency_duplicate",
    429: "rate_limited",
}

MESSAGE_FOR_CODE = {
    "unauthorized": "Invalid API key.",
    "insufficient_credits": "Insufficient credits.",
    "forbidden": "Forbidden.",
    "not_found": "Not found.",
    "idempotency_duplicate": "Duplicate idempotency key.",
    "rate_limited": "Rate limit exceeded.",
    "unknown_error": "An unknown error occurred.",
    "invalid_json": "The request body is not valid JSON.",
}


def code_for_status(status: int) -> str:
    return CODE_FOR_STATUS.get(status, "unknown_error")


class ApiError(Exception):
    """An error answer: status, FLORA code, message, field errors and extra headers."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        *,
        fields: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code or code_for_status(status)
        self.fields = list(fields)
        if message is None:
            message = "; ".join(f"{f}: {m}" for f, m in self.fields) or MESSAGE_FOR_CODE.get(self.code, "Error.")
        self.message = message
        self.headers = dict(headers or {})
        super().__init__(f"{self.status} {self.code}: {self.message}")

    def body(self) -> dict[str, Any]:
        return envelope(self.code, self.message, self.fields)


def envelope(code: str, message: str, fields: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = [{"field": f, "message": m} for f, m in fields]
    return {"error": error}


def validation_error(fields: Sequence[tuple[str, str]]) -> ApiError:
    return ApiError(400, "input_validation_error", fields=fields)


def not_found(message: str = "Not found.") -> ApiError:
    return ApiError(404, "not_found", message)

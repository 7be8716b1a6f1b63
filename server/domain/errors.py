"""The protocol's error value, raised by the domain and shaped by the transports."""

from __future__ import annotations

import math
from typing import Any


class ApiError(Exception):
    """A failure with an HTTP status and a snake_case protocol code."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        # Extra HTTP headers (e.g. `Retry-After` on 429 and 503).
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        """The protocol's error object (HTTP body `error`, Socket.IO ack `error`)."""
        return {"code": self.code, "message": self.message}

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"


def bad_request(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def invalid_field(field: str, message: str) -> ApiError:
    """400 `invalid_field`; the message starts with the field's name."""
    return ApiError(400, "invalid_field", f"{field}: {message}")


def unauthorized(message: str = "sign in first", code: str = "unauthorized") -> ApiError:
    return ApiError(401, code, message)


def forbidden(message: str, code: str = "forbidden") -> ApiError:
    return ApiError(403, code, message)


def not_found(message: str, code: str = "not_found") -> ApiError:
    return ApiError(404, code, message)


def conflict(code: str, message: str) -> ApiError:
    return ApiError(409, code, message)


def retry_later(status: int, code: str, message: str, retry_after: float) -> ApiError:
    """429 or 503 with `Retry-After` in whole seconds (at least 1)."""
    seconds = max(1, math.ceil(retry_after))
    return ApiError(status, code, f"{message}; retry in {seconds} s", {"Retry-After": str(seconds)})

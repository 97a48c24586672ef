"""Errors as ``application/problem+json`` (RFC 9457).

Every answer that is not a success carries the typed error's ``code`` and its user-safe
message (``str(error)``), never a stack trace, a credential or a platform's own text: those
live in ``error.debug`` and stay in the server's log.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from mailadmin.contract import errors

__all__ = ["PROBLEM_TYPE", "Problem", "problem_response", "status_of"]

PROBLEM_TYPE = "application/problem+json"
_log = logging.getLogger("mailadmin.api")

#: HTTP status of each typed error (by ``code``); anything else is a 500.
_STATUS = {
    "validation": 422,
    "policy_denied": 403,
    "unsupported": 422,
    "not_found": 404,
    "conflict": 409,
    "quota_exceeded": 409,
    "rate_limited": 503,
    "unavailable": 503,
    "store_unavailable": 503,
    "run_held": 409,
    "authentication": 502,
    "protocol": 502,
    "provider": 502,
    "configuration": 503,
    "bulk_failed": 502,
    # A write the platform only partly applied, or whose outcome is unknown: the journal
    # holds what was read back; an earlier unsettled change of the subject: retry later.
    "partial": 502,
    "unknown": 502,
    "unsettled": 409,
}
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal error",
    502: "Platform error",
    503: "Unavailable",
}


class FieldProblem(BaseModel):
    """One invalid field of a request."""

    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, with mailadmin's ``code`` (and ``reason`` for a policy)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the kind of problem")
    title: str
    status: int
    detail: str = Field(description="What went wrong, safe to show an end user")
    code: str = Field(description="mailadmin's stable error code (validation, policy_denied...)")
    reason: str | None = Field(default=None, description="Which rule refused (policy_denied)")
    instance: str | None = Field(default=None, description="The request path")
    request_id: str | None = None
    errors: list[FieldProblem] | None = None


def status_of(error: errors.MailadminError) -> int:
    """The HTTP status of a typed error."""
    return _STATUS.get(error.code, 500)


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    request_id: str | None = None,
    reason: str | None = None,
    field_errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem answer."""
    problem = Problem(
        type=f"urn:mailadmin:problem:{code}",
        title=_TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code,
        reason=reason,
        instance=instance,
        request_id=request_id,
        errors=field_errors,
    )
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_TYPE,
        headers=headers,
    )


def from_error(
    error: errors.MailadminError, *, instance: str | None, request_id: str | None
) -> JSONResponse:
    """The problem answer of a typed error; its debug detail goes to the log only."""
    status = status_of(error)
    if error.debug:
        _log.debug("request %s: %s debug %s", request_id, error.code, error.debug)
    headers: dict[str, str] = {}
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int | float) and retry_after > 0:
        headers["Retry-After"] = str(int(retry_after + 0.999))
    reason = error.reason if isinstance(error, errors.PolicyDenied) else None
    return problem_response(
        status,
        error.code,
        error.message,
        instance=instance,
        request_id=request_id,
        reason=reason,
        headers=headers or None,
    )


def field_problems(details: Any) -> list[FieldProblem]:
    """pydantic's validation errors as field problems (without echoing the input)."""
    found = []
    for item in details:
        location = [str(p) for p in item.get("loc", ()) if p not in ("body",)]
        found.append(
            FieldProblem(field=".".join(location) or "body", message=str(item.get("msg", "")))
        )
    return found


_DESCRIBED = {
    400: "A malformed header (Idempotency-Key)",
    401: "No API key, or an unknown or revoked one",
    403: "Refused by policy: outside the key's identity (nothing was sent)",
    404: "Not found",
    409: "Conflict, or an Idempotency-Key reused with another request",
    422: "Invalid input (nothing was sent)",
    503: "A platform or the store is unavailable; try again later",
    "default": "An error",
}


def problem_responses(*statuses: int | str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem answers of these statuses."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIBED.get(status, "An error"),
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }

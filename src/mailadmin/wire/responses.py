"""Reading a platform's HTTP answer: status to typed error, ``Retry-After``, debug detail.

The transport decides how to talk; this module decides what an answer means. Debug detail
(request line, status, body excerpt, request id) is redacted before it is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from mailadmin import errors
from mailadmin.wire.redaction import Redactor, Redacts

if TYPE_CHECKING:
    import httpx

__all__ = [
    "REDACTOR_EXTENSION",
    "REQUEST_ID_HEADER",
    "excerpt",
    "parse_retry_after",
    "raise_for_status",
    "redactor_of",
    "response_debug",
]

#: Header carrying the id of one call; the same on every retry of that call.
REQUEST_ID_HEADER = "X-Request-Id"
#: Key in ``response.extensions`` under which the transport leaves its redactor.
REDACTOR_EXTENSION = "mailadmin.redactor"
_BODY_EXCERPT = 2000  # characters of a body kept in logs and error debug


def raise_for_status(
    response: httpx.Response,
    *,
    provider: str,
    redactor: Redacts | None = None,
) -> None:
    """Raise the mailadmin error for an HTTP error status; 1xx-3xx pass.

    401/403 :class:`~mailadmin.errors.AuthenticationError`, 404 ``NotFoundError``, 409
    ``ConflictError``, 429 ``RateLimited`` (with ``retry_after``), 5xx ``Unavailable``, any
    other 4xx ``ProviderError``. Messages are user-safe; ``error.debug`` holds the redacted
    request line, status, a body excerpt and the request id. A response from
    :meth:`Transport.request` is redacted with that transport's secrets without
    ``redactor``.
    """
    status = response.status_code
    if status < 400:
        return
    debug = response_debug(response, redactor)
    if status == 401:
        raise errors.AuthenticationError(f"{provider} rejected the credentials", debug=debug)
    if status == 403:
        raise errors.AuthenticationError(
            f"{provider} refused access with these credentials", debug=debug
        )
    if status == 404:
        raise errors.NotFoundError(f"{provider} could not find the requested object", debug=debug)
    if status == 409:
        raise errors.ConflictError(
            f"{provider} refused the change because it conflicts with the current state",
            debug=debug,
        )
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        wait = f" in {retry_after:.0f} seconds" if retry_after is not None else " later"
        raise errors.RateLimited(
            f"{provider} is limiting the request rate; try again{wait}",
            retry_after=retry_after,
            debug=debug,
        )
    if status >= 500:
        raise errors.Unavailable(
            f"{provider} failed with a server error (HTTP {status})", debug=debug
        )
    raise errors.ProviderError(f"{provider} refused the request (HTTP {status})", debug=debug)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP-date); None if absent.

    A date in the past gives 0; an unreadable value gives None.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds else None  # NaN is not a wait
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def redactor_of(response: httpx.Response, redactor: Redacts | None = None) -> Redacts:
    """``redactor`` when given, else the one the transport attached to ``response``, else
    one that masks secret-named fields only."""
    if redactor is not None:
        return redactor
    attached = response.extensions.get(REDACTOR_EXTENSION)
    if isinstance(attached, Redactor):
        return attached
    return Redactor()


def response_debug(response: httpx.Response, redactor: Redacts | None = None) -> dict[str, Any]:
    """The debug detail of an answer: status, request line, request id and a body excerpt,
    every part redacted (the body before it is cut, so a cut secret cannot leak)."""
    redact = redactor_of(response, redactor).redact
    debug: dict[str, Any] = {"status": response.status_code}
    try:
        request = response.request
    except RuntimeError:  # a response built by hand has no request
        request = None
    if request is not None:
        debug["request"] = f"{request.method} {redact(str(request.url))}"
        debug["request_id"] = request.headers.get(REQUEST_ID_HEADER)
    try:
        body = response.text
    except Exception:  # a streamed body not read, or undecodable: keep what is safe
        body = ""
    # Redact before cutting, so a field cut in half is still recognised.
    debug["body"] = excerpt(redact(body))
    return debug


def excerpt(text: str) -> str:
    """``text`` cut to the length kept in logs and error debug."""
    return text if len(text) <= _BODY_EXCERPT else text[:_BODY_EXCERPT] + "..."

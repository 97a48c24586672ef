"""The Exchange wire: ``InvokeCommand`` bodies and headers, answers, and error mapping.

Request (reference 1.3, 1.4)::

    POST /adminapi/beta/{tenant}/InvokeCommand
    {"CmdletInput": {"CmdletName": "Set-Mailbox", "Parameters": {...}}}

Answer (1.5): ``value`` rows, ``@adminapi.warnings`` (an array), ``@odata.nextLink``.
Errors (1.7, 3): the OData envelope, whose useful text is ``error.details[].message``
(``Id|Type|Text``), else ``innererror.internalexception.message``, else
``error.message``; a 403 with a NUL body; 429 with ``Retry-After``; Graph's
``Request_BadRequest`` texts.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from mailadmin.contract import errors
from mailadmin.wire.responses import parse_retry_after

__all__ = [
    "ANCHOR_SYSTEM_MAILBOX",
    "NO_CHANGE",
    "AdminAnswer",
    "CmdletFault",
    "admin_error",
    "cmdlet_body",
    "graph_error",
    "invoke_headers",
    "read_admin",
    "read_cmdlet_fault",
]

#: The system mailbox app-only calls anchor on (reference 1.2).
ANCHOR_SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
#: The start of the warning a ``Set-*`` cmdlet answers when nothing changed (reference 1.5).
NO_CHANGE = "The command completed successfully but no settings of"


def cmdlet_body(cmdlet: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``CmdletInput`` body; ``Parameters`` is always an object (``{}``, never null)."""
    return {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(parameters or {})}}


def invoke_headers(cmdlet: str, anchor: str) -> dict[str, str]:
    """The module's headers that matter (reference 1.3), with a fresh client request id;
    ``Prefer: odata.maxpagesize`` is added by the paging of listings."""
    return {
        "Accept": "application/json",
        "X-AnchorMailbox": anchor,
        "X-CmdletName": cmdlet,
        "X-ResponseFormat": "json",
        "X-SerializationLevel": "Partial",
        "X-ClientApplication": "mailadmin",
        "client-request-id": str(uuid.uuid4()),
    }


@dataclass(frozen=True)
class AdminAnswer:
    """A read ``InvokeCommand`` answer: rows without annotations, warnings, next link."""

    value: list[dict[str, Any]] = field(default_factory=list)
    warnings: tuple[str, ...] = ()
    next_link: str | None = None
    #: Response headers, lower-case names (``x-exchangeversion``, ``rate-limit-remaining``).
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def unchanged(self) -> bool:
        """True when the cmdlet said no setting was modified."""
        return any(w.startswith(NO_CHANGE) for w in self.warnings)


def read_admin(data: Any, *, source: str, headers: dict[str, str] | None = None) -> AdminAnswer:
    """Read a 200 ``InvokeCommand`` body; :class:`ProtocolError` when it has no such shape."""
    if not isinstance(data, dict):
        raise errors.ProtocolError(f"{source} sent an answer that could not be read")
    rows = data.get("value")
    if rows is None:
        rows = []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise errors.ProtocolError(f"{source} sent an answer that could not be read")
    warnings = data.get("@adminapi.warnings") or []
    if not isinstance(warnings, list):
        warnings = [str(warnings)]
    link = data.get("@odata.nextLink") or data.get("odata.nextLink")  # M365P's legacy key
    return AdminAnswer(
        value=[{k: v for k, v in row.items() if "@" not in k} for row in rows],
        warnings=tuple(str(w) for w in warnings),
        next_link=str(link) if link else None,
        headers={k.lower(): v for k, v in (headers or {}).items()},
    )


@dataclass(frozen=True)
class CmdletFault:
    """The useful part of an admin API error: ``Id|Type|Text`` split, and where it came from."""

    error_id: str
    exception: str
    text: str
    code: str = ""

    @property
    def short_type(self) -> str:
        """The exception's class name without its namespace."""
        return self.exception.rsplit(".", 1)[-1]


def read_cmdlet_fault(data: Any) -> CmdletFault | None:
    """The useful text of an OData error, in the clients' order of precedence (1.7)."""
    if not isinstance(data, dict) or not isinstance(data.get("error"), dict):
        return None
    error = data["error"]
    code = str(error.get("code") or "")
    for detail in error.get("details") or []:
        message = detail.get("message") if isinstance(detail, dict) else None
        if isinstance(message, str) and message.strip():
            return _split(message, code)
    inner = error.get("innererror") or error.get("innerError") or {}
    internal = inner.get("internalexception") if isinstance(inner, dict) else None
    if isinstance(internal, dict) and isinstance(internal.get("message"), str):
        return CmdletFault("", str(internal.get("type") or ""), internal["message"], code)
    return CmdletFault("", "", str(error.get("message") or ""), code)


def _split(message: str, code: str) -> CmdletFault:
    text = message.strip()
    if text.startswith("{"):
        # GOX also parses a JSON {Message, TypeName} form (unverified, reference 7).
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and "Message" in parsed:
            return CmdletFault("", str(parsed.get("TypeName") or ""), str(parsed["Message"]), code)
    parts = text.split("|", 2)
    if len(parts) == 3:
        return CmdletFault(parts[0], parts[1], parts[2], code)
    return CmdletFault("", "", text, code)


#: Exchange exception classes and the mailadmin error each one means.
_BY_EXCEPTION: dict[str, type[errors.MailadminError]] = {
    "ManagementObjectNotFoundException": errors.NotFoundError,
    "ADObjectAlreadyExistsException": errors.ConflictError,
    "ProxyAddressExistsException": errors.ConflictError,
    "WLCDManagedMemberExistsException": errors.ConflictError,
    "DataValidationException": errors.ValidationError,
    "ParameterBindingException": errors.ValidationError,
    "AmbiguousParameterSetException": errors.ValidationError,
}


def admin_error(response: httpx.Response, *, instance: str, what: str) -> errors.MailadminError:
    """The mailadmin error for a failed admin API answer (never shows a token)."""
    status = response.status_code
    debug: dict[str, Any] = {"status": status, "operation": what}
    if status == 401:
        return errors.AuthenticationError(
            f"{instance} refused the app's token for the Exchange admin API (does the app hold "
            "Exchange.ManageAsApp?)",
            debug=debug,
        )
    if status == 403:
        # A NUL-bodied 403: the cmdlet is outside the app's Exchange role (reference 1.7).
        return errors.AuthenticationError(
            f"{instance}: the app's Exchange role does not allow {what}", debug=debug
        )
    if status == 429:
        return _rate_limited(response, instance, debug)
    if status >= 500:
        return errors.Unavailable(f"{instance} is unavailable (HTTP {status})", debug=debug)
    fault = read_cmdlet_fault(_json(response))
    if fault is None:
        return errors.ProtocolError(
            f"{instance} answered {what} with HTTP {status} and an unreadable body", debug=debug
        )
    debug.update({"error_id": fault.error_id, "exception": fault.exception, "text": fault.text})
    kind = _BY_EXCEPTION.get(fault.short_type)
    if kind is None:
        kind = errors.NotFoundError if status == 404 else errors.ProviderError
    if "pagination request" in fault.text:
        kind = errors.Unavailable
    return kind(f"{instance}: {what} failed: {_first_sentence(fault.text)}", debug=debug)


def graph_error(response: httpx.Response, *, instance: str, what: str) -> errors.MailadminError:
    """The mailadmin error for a failed Graph answer (reference 3, 3.2, 3.4)."""
    status = response.status_code
    body = _json(response)
    error = body.get("error") if isinstance(body, dict) else None
    code = str(error.get("code") or "") if isinstance(error, dict) else ""
    message = str(error.get("message") or "") if isinstance(error, dict) else ""
    debug: dict[str, Any] = {"status": status, "code": code, "text": message, "operation": what}
    if status == 401:
        return errors.AuthenticationError(
            f"{instance} refused the app's token for Microsoft Graph", debug=debug
        )
    if status == 403:
        return errors.AuthenticationError(
            f"{instance}: the app lacks the Graph permission for {what}", debug=debug
        )
    if status == 429:
        return _rate_limited(response, instance, debug)
    if status >= 500:
        return errors.Unavailable(f"{instance} is unavailable (HTTP {status})", debug=debug)
    lowered = message.lower()
    if "does not have any available licenses" in lowered:
        return errors.QuotaExceeded(
            f"{instance}: no free licence of the plan's SKU is left; buy more or free one",
            debug=debug,
        )
    if "usage location" in lowered:
        return errors.ValidationError(
            f"{instance}: the user has no usage location, which a licence needs; set one first",
            debug=debug,
        )
    if status == 404 or code == "Request_ResourceNotFound":
        return errors.NotFoundError(f"{instance}: {what}: no such user", debug=debug)
    return errors.ProviderError(
        f"{instance}: {what} failed: {_first_sentence(message) or f'HTTP {status}'}", debug=debug
    )


def _rate_limited(
    response: httpx.Response, instance: str, debug: dict[str, Any]
) -> errors.MailadminError:
    wait = parse_retry_after(response.headers.get("Retry-After"))
    return errors.RateLimited(
        f"{instance} is throttling requests; try again later", retry_after=wait, debug=debug
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _first_sentence(text: str) -> str:
    """The platform's text up to its first sentence end, capped: user-safe and short."""
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."

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

from mailadmin.sdk import AnswerCheck, ErrorRule, ErrorTable, Refusal, errors

__all__ = [
    "ADMIN_ANSWERS",
    "ADMIN_ERRORS",
    "ANCHOR_SYSTEM_MAILBOX",
    "GRAPH_ANSWERS",
    "GRAPH_ERRORS",
    "NO_CHANGE",
    "AdminAnswer",
    "CmdletFault",
    "admin_code",
    "cmdlet_body",
    "graph_code",
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


def admin_code(body: Any) -> str | None:
    """The error code the admin API's table matches on: the exception's class name from
    ``details`` (or ``innererror``), ``"ExpiredPagination"`` for a refused next link."""
    fault = read_cmdlet_fault(body)
    if fault is None:
        return None
    if "pagination request" in fault.text:
        return "ExpiredPagination"
    return fault.short_type or fault.code or None


def graph_code(body: Any) -> str | None:
    """Graph's ``error.code``, except for the two ``Request_BadRequest`` texts a licence
    assignment answers, which get a code of their own (reference 3.2)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    code = str(error.get("code") or "") or None
    message = str(error.get("message") or "").lower()
    if "does not have any available licenses" in message:
        return "NoFreeLicence"
    if "usage location" in message:
        return "NoUsageLocation"
    return code


#: How admin API errors map to mailadmin errors (reference 1.7); the platform's own text
#: stays in ``error.debug``. Anything else: the status decides (429 RateLimited, 5xx
#: Unavailable).
ADMIN_ERRORS = ErrorTable(
    [
        ErrorRule(
            status=401,
            error=errors.AuthenticationError,
            message="{provider} refused the app's token for the Exchange admin API (does the "
            "app hold Exchange.ManageAsApp and an Exchange role?)",
        ),
        # A NUL-bodied 403: the cmdlet is outside the app's Exchange role.
        ErrorRule(
            status=403,
            error=errors.AuthenticationError,
            message="{provider}: the app's Exchange role does not allow {subject}",
        ),
        ErrorRule(
            code="ManagementObjectNotFoundException",
            error=errors.NotFoundError,
            message="{provider} could not find the object of {subject}",
        ),
        ErrorRule(
            code="ADObjectAlreadyExistsException",
            error=errors.ConflictError,
            message="{provider}: the object of {subject} already exists",
        ),
        ErrorRule(
            code="ProxyAddressExistsException",
            error=errors.ConflictError,
            message="{provider}: the address in {subject} is already in use",
        ),
        ErrorRule(
            code="DataValidationException",
            error=errors.ValidationError,
            message="{provider} refused a value of {subject} (quotas must be ordered and "
            "within the licence's maximum)",
        ),
        ErrorRule(
            code="ParameterBindingException",
            error=errors.ValidationError,
            message="{provider} refused a parameter of {subject}",
        ),
        ErrorRule(
            code="AmbiguousParameterSetException",
            error=errors.ValidationError,
            message="{provider} could not tell which form of {subject} is meant",
        ),
        ErrorRule(
            code="ExpiredPagination",
            error=errors.Unavailable,
            message="{provider} refused to continue a paged listing; try again",
        ),
        ErrorRule(
            status=404,
            error=errors.NotFoundError,
            message="{provider} could not find the object of {subject}",
        ),
    ],
    code=admin_code,
)


def _admin_refusal(body: Any) -> Refusal | None:
    # The OData error envelope is a refusal whatever the status it came with (a proxy or
    # gateway may answer it with 200).
    fault = read_cmdlet_fault(body)
    if fault is None:
        return None
    return Refusal(code=admin_code(body), message=fault.text)


def _answers_cmdlet(body: Any, cmdlet: str) -> bool:
    """A cmdlet's answer is ``{"value": [rows]}``; a ``Set-``/``Remove-`` cmdlet returns no
    rows (another cmdlet's rows in its answer mean it was not what ran)."""
    if not isinstance(body, dict):
        return False
    rows = body.get("value")
    if rows is None:
        rows = []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return False
    if cmdlet.startswith(("Set-", "Remove-")):
        return not rows
    return not cmdlet.startswith("New-") or len(rows) == 1


#: How an ``InvokeCommand`` answer says it ran the cmdlet, or refused it.
ADMIN_ANSWERS = AnswerCheck(refusal=_admin_refusal, errors=ADMIN_ERRORS, expected=_answers_cmdlet)

#: How Graph errors map to mailadmin errors (reference 3, 3.2).
GRAPH_ERRORS = ErrorTable(
    [
        ErrorRule(
            status=401,
            error=errors.AuthenticationError,
            message="{provider} refused the app's token for Microsoft Graph",
        ),
        ErrorRule(
            status=403,
            error=errors.AuthenticationError,
            message="{provider}: the app lacks the Graph permission for {subject}",
        ),
        ErrorRule(
            code="NoFreeLicence",
            error=errors.QuotaExceeded,
            message="{provider}: no free licence of the plan's SKU is left for {subject}; buy "
            "more or free one",
        ),
        ErrorRule(
            code="NoUsageLocation",
            error=errors.ValidationError,
            message="{provider}: {subject} has no usage location, which a licence needs; set "
            "one first",
        ),
        ErrorRule(
            code="Request_ResourceNotFound",
            error=errors.NotFoundError,
            message="{provider} has no user {subject}",
        ),
        ErrorRule(status=404, error=errors.NotFoundError, message="{provider} has no {subject}"),
    ],
    code=graph_code,
)


def _graph_refusal(body: Any) -> Refusal | None:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    return Refusal(code=graph_code(body), message=message if isinstance(message, str) else None)


def _answers_graph(body: Any, operation: str) -> bool:
    """Every Graph answer is an object; ``assignLicense`` answers with the user it changed;
    a user's ``PATCH`` answers 204 with no body."""
    if operation == "update user":
        return body is None
    if not isinstance(body, dict):
        return False
    if operation.endswith("/assignLicense"):
        return isinstance(body.get("id"), str) and "value" not in body
    return True


#: How a Graph answer says it is the call's own, or a refusal.
GRAPH_ANSWERS = AnswerCheck(refusal=_graph_refusal, errors=GRAPH_ERRORS, expected=_answers_graph)

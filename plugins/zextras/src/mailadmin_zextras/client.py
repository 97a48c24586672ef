"""The Zimbra admin SOAP API in its JSON form, over the core's JSON client and session auth.

A request is ``{"Header": {"context": {"_jsns": "urn:zimbra", "authToken": ...}},
"Body": {"XxxRequest": {"_jsns": "urn:zimbraAdmin", ...}}}``; the answer's
``Body.XxxResponse`` is returned. A fault comes back with HTTP 500 and
``Body.Fault.Detail.Error.Code``, which :data:`FAULTS` maps onto mailadmin's errors.
:class:`ZimbraSession` signs in with ``AuthRequest``, puts the token into every request's
header context and signs in again once when the server says ``service.AUTH_EXPIRED`` or
``service.AUTH_REQUIRED``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mailadmin.sdk import (
    AnswerCheck,
    ErrorRule,
    ErrorTable,
    JsonClient,
    Refusal,
    SessionAuth,
    Token,
    bounded_int,
    errors,
    parse_json,
    with_body,
)

if TYPE_CHECKING:
    import httpx

    from mailadmin.sdk import Transport
    from mailadmin_zextras.settings import ZextrasSettings

__all__ = [
    "ADMIN_NS",
    "ANSWERS",
    "FAULTS",
    "AdminClient",
    "TooManyResults",
    "ZimbraSession",
    "attributes",
    "fault_code",
]

ADMIN_NS = "urn:zimbraAdmin"
ZIMBRA_NS = "urn:zimbra"
#: Fault codes meaning "sign in again" (the session is over or was never valid).
SESSION_OVER = frozenset({"service.AUTH_EXPIRED", "service.AUTH_REQUIRED"})


def fault_code(body: Any) -> str | None:
    """``Body.Fault.Detail.Error.Code`` of a JSON answer, or ``None``."""
    try:
        code = body["Body"]["Fault"]["Detail"]["Error"]["Code"]
    except (KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


class TooManyResults(errors.ProviderError):
    """``account.TOO_MANY_SEARCH_RESULTS``: a directory search matched more entries than the
    server's size limit; the provider splits such a search into smaller ones."""


def _rule(code: str, error: type[errors.MailadminError], message: str) -> ErrorRule:
    return ErrorRule(status=500, code=code, error=error, message=message)


#: The fault codes of the reference's fault table, as mailadmin errors.
FAULTS = ErrorTable(
    [
        _rule(
            "account.NO_SUCH_ACCOUNT", errors.NotFoundError, "{provider}: no such mailbox {subject}"
        ),
        _rule(
            "account.NO_SUCH_CALENDAR_RESOURCE",
            errors.NotFoundError,
            "{provider}: no such room or equipment mailbox {subject}",
        ),
        _rule(
            "account.NO_SUCH_COS",
            errors.NotFoundError,
            "{provider}: no such class of service {subject}",
        ),
        _rule(
            "account.NO_SUCH_DOMAIN", errors.NotFoundError, "{provider}: no such domain {subject}"
        ),
        _rule("account.NO_SUCH_ALIAS", errors.NotFoundError, "{provider}: no such alias {subject}"),
        _rule(
            "account.DOMAIN_EXISTS",
            errors.ConflictError,
            "{provider}: the domain {subject} already exists",
        ),
        _rule(
            "account.DOMAIN_NOT_EMPTY",
            errors.ConflictError,
            "{provider} keeps the domain {subject} while it has mailboxes: delete them first",
        ),
        _rule(
            "account.ACCOUNT_EXISTS",
            errors.ConflictError,
            "{provider}: the address {subject} already exists",
        ),
        _rule(
            "account.TOO_MANY_ACCOUNTS",
            errors.QuotaExceeded,
            "{provider}: the account limit of the domain is reached ({subject})",
        ),
        _rule(
            "account.TOO_MANY_SEARCH_RESULTS",
            TooManyResults,
            "{provider}: the directory search returned too many results",
        ),
        _rule(
            "account.AUTH_FAILED",
            errors.AuthenticationError,
            "{provider} rejected the admin credentials",
        ),
        _rule(
            "service.PERM_DENIED",
            errors.AuthenticationError,
            "{provider} refused access with these credentials",
        ),
        _rule(
            "service.AUTH_REQUIRED",
            errors.AuthenticationError,
            "{provider} asked to sign in again and refused the new session",
        ),
        _rule(
            "service.AUTH_EXPIRED",
            errors.AuthenticationError,
            "{provider} asked to sign in again and refused the new session",
        ),
        _rule(
            "account.INVALID_ATTR_VALUE",
            errors.ValidationError,
            "{provider} refused a value for {subject}",
        ),
        _rule(
            "account.INVALID_PASSWORD",
            errors.ValidationError,
            "{provider} refused the password of {subject}: it breaks the password rules of "
            "its class of service (length, say)",
        ),
        _rule(
            "account.INVALID_ATTR_NAME",
            errors.ValidationError,
            "{provider} does not know an attribute sent for {subject}",
        ),
        _rule(
            "ldap.OBJECT_CLASS_VIOLATION",
            errors.ValidationError,
            "{provider} refused {subject}: a required attribute is missing",
        ),
        _rule(
            "service.INVALID_REQUEST",
            errors.ValidationError,
            "{provider} refused the request for {subject} as invalid",
        ),
        _rule(
            "service.UNKNOWN_DOCUMENT",
            errors.ProviderError,
            "{provider} does not offer this request (another server version?)",
        ),
        _rule("service.PARSE_ERROR", errors.ProtocolError, "{provider} could not read the request"),
        _rule("service.FAILURE", errors.Unavailable, "{provider} failed with a server error"),
        ErrorRule(
            status=500,
            error=errors.ProviderError,
            message="{provider} refused the request for {subject}",
        ),
    ],
    code=fault_code,
)


def _fault_in_body(answer: Any) -> Refusal | None:
    # A proxy or an older server may answer a fault with HTTP 200: the Fault is what counts.
    body = answer.get("Body") if isinstance(answer, Mapping) else None
    if not isinstance(body, Mapping) or "Fault" not in body:
        return None
    fault = body["Fault"]
    reason = fault.get("Reason") if isinstance(fault, Mapping) else None
    text = reason.get("Text") if isinstance(reason, Mapping) else None
    return Refusal(code=fault_code(answer), message=text if isinstance(text, str) else None)


def _response_name(request: str) -> str:
    # ``XxxRequest`` is answered by ``XxxResponse``; the ``zextras`` admin extension by
    # ``response``.
    return request[: -len("Request")] + "Response" if request.endswith("Request") else "response"


def _answers_request(answer: Any, request: str) -> bool:
    body = answer.get("Body") if isinstance(answer, Mapping) else None
    if not isinstance(body, Mapping):
        return False
    response = body.get(_response_name(request))
    if not isinstance(response, Mapping):
        return False
    # The objects a response carries (an account, a COS, a domain) are JSON objects, or
    # lists of them; anything else is not this operation's answer.
    for name in _OBJECTS:
        found = response.get(name)
        if found is None:
            continue
        rows = found if isinstance(found, list) else [found]
        if not all(isinstance(row, Mapping) for row in rows):
            return False
    return True


#: The object fields of the Zimbra admin responses mailadmin reads.
_OBJECTS = ("account", "cos", "domain", "calresource")


#: How an answer says it is the response to the request sent, or a fault.
ANSWERS = AnswerCheck(refusal=_fault_in_body, errors=FAULTS, expected=_answers_request)


def envelope(name: str, body: Mapping[str, Any], ns: str = ADMIN_NS) -> dict[str, Any]:
    """The JSON form of one request (the header context is added by the session)."""
    return {
        "Header": {"context": {"_jsns": ZIMBRA_NS, "format": {"type": "js"}}},
        "Body": {name: {**body, "_jsns": ns}},
    }


def attributes(entry: Mapping[str, Any]) -> dict[str, list[str]]:
    """An entry's ``a`` list as attribute name -> values (multi-valued names repeat)."""
    found: dict[str, list[str]] = {}
    for item in entry.get("a", ()) or ():
        if isinstance(item, Mapping) and "n" in item:
            value = item.get("_content", "")
            found.setdefault(str(item["n"]), []).append(
                value if isinstance(value, str) else json.dumps(value)
            )
    return found


def entries(answer: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    """The ``account``/``cos``/... entries of an answer (a list even for one entry)."""
    value = answer.get(kind, [])
    if isinstance(value, Mapping):
        return [dict(value)]
    return [dict(v) for v in value if isinstance(v, Mapping)]


class ZimbraSession(SessionAuth):
    """An admin session: ``AuthRequest`` once, the token in each request's header context."""

    def __init__(self, settings: ZextrasSettings, name: str) -> None:
        password = settings.credentials.secret.get_secret_value()
        super().__init__(secrets=[password])
        self._settings = settings
        self._name = name

    async def login(self) -> Token:
        """Sign in with the configured admin account and password."""
        creds = self._settings.credentials
        body = envelope(
            "AuthRequest",
            {
                "account": {"by": "name", "_content": creds.username},
                "password": creds.secret.get_secret_value(),
            },
        )
        # auth=False: the sign-in itself carries no session.
        response = await self.transport.request(
            "POST",
            f"{self._settings.admin_path}/AuthRequest",
            json=body,
            write=False,
            operation="AuthRequest",
            auth=False,
        )
        FAULTS.raise_for(
            response, provider=self._name, subject=creds.username, redactor=self.transport
        )
        # parse_json, not response.json(): the sign-in answer gets the same limits (depth,
        # NaN, huge numbers) as every other answer.
        answer = parse_json(response.content, source=self._name)
        ANSWERS.settle(answer, provider=self._name, operation="AuthRequest", subject=creds.username)
        auth = dict(answer["Body"]["AuthResponse"])
        token = auth.get("authToken")
        if isinstance(token, list):
            token = token[0] if token else None
        if isinstance(token, Mapping):
            token = token.get("_content")
        if not isinstance(token, str) or not token:
            raise errors.ProtocolError(f"{self._name} sent no admin token")
        lifetime = auth.get("lifetime")
        if isinstance(lifetime, Mapping):
            lifetime = lifetime.get("_content")
        seconds = None
        if lifetime is not None:
            # Milliseconds; a lifetime of 10**4000 would otherwise break int() itself.
            ms = bounded_int(
                lifetime if isinstance(lifetime, int) else str(lifetime),
                what="session lifetime",
                source=self._name,
            )
            seconds = ms / 1000
        return self.token_for(token, seconds)

    def apply(self, request: httpx.Request, token: Token) -> httpx.Request:
        """The request with ``Header.context.authToken`` set to the session's token."""
        document = json.loads(request.content)
        context = document.setdefault("Header", {}).setdefault("context", {"_jsns": ZIMBRA_NS})
        context["authToken"] = {"_content": token.value}
        return with_body(request, json.dumps(document).encode())

    def is_expired(self, response: httpx.Response) -> bool:
        """The server answers an ended session with ``AUTH_EXPIRED`` / ``AUTH_REQUIRED``."""
        if response.status_code != 500:
            return False
        try:
            return fault_code(parse_json(response.content, source=self._name)) in SESSION_OVER
        except errors.ProtocolError:
            return False  # an unreadable fault is not a session ending; the caller reports it


class AdminClient:
    """Sends admin requests in the JSON form and returns the response elements.

    ``transport``: the provider's transport; ``settings``: the instance's settings;
    ``name``: the instance, in messages.
    """

    def __init__(self, transport: Transport, settings: ZextrasSettings, name: str) -> None:
        self.settings = settings
        self.name = name
        self.session = ZimbraSession(settings, name)
        transport.set_auth(self.session)
        self._api = JsonClient(transport, name=name, errors=FAULTS, answers=ANSWERS)

    async def call(
        self,
        request: str,
        body: Mapping[str, Any] | None = None,
        *,
        write: bool = False,
        subject: str = "",
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Send ``request`` (``"GetAccountRequest"``) with ``body``; the response element.

        A fault (whatever its status) raises its typed error; an answer that is not this
        request's response is ``OutcomeUnknown`` after a write, ``ProtocolError`` after a
        read (see :data:`ANSWERS`).
        """
        answer = await self._api.post(
            f"{self.settings.admin_path}/{request}",
            json=envelope(request, body or {}),
            write=write,
            idempotent=idempotent,
            operation=request,
            subject=subject,
        )
        return dict(answer["Body"][_response_name(request)])

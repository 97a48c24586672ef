"""A JSON API client over the shared transport, and a declarative table of its errors.

::

    ERRORS = ErrorTable([
        ErrorRule(status=401, error=errors.AuthenticationError,
                  message="{provider} rejected the credentials"),
        ErrorRule(code="mailbox_not_found", error=errors.NotFoundError,
                  message="The mailbox {subject} does not exist"),
    ])
    api = JsonClient(self.http, name=self.instance, errors=ERRORS, auth=...)
    tenant = await api.get("/api/tenants/example.com", operation="get_tenant")
    await api.put(url, json={"quantity": 5}, write=True, idempotent=True)

Every answer of 400 or more raises a typed mailadmin error: the first matching rule of the
table (a rule naming a platform code beats one naming only a status), otherwise the generic
mapping of :func:`~mailadmin.wire.responses.raise_for_status`. Messages are user-safe; the
platform's own words, the status, the request and a body excerpt go to ``error.debug``,
redacted before they are cut.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mailadmin import errors as _errors
from mailadmin.wire.limits import MAX_JSON_DEPTH, json_too_deep
from mailadmin.wire.responses import excerpt, raise_for_status, redactor_of, response_debug

if TYPE_CHECKING:
    import httpx

    from mailadmin.wire.answers import AnswerCheck
    from mailadmin.wire.redaction import Redactor
    from mailadmin.wire.transport import Transport

__all__ = ["CodeReader", "ErrorRule", "ErrorTable", "JsonClient", "error_code", "parse_json"]

#: Reads the platform's error code from a parsed error body (``None`` when it has none).
CodeReader = Callable[[Any], "str | None"]


def error_code(body: Any) -> str | None:
    """The platform error code of the common JSON shapes, or ``None``.

    ``{"error": {"code": "x"}}`` (also OData and Microsoft Graph), ``{"error": "x"}`` and
    ``{"code": "x"}``.
    """
    if not isinstance(body, Mapping):
        return None
    inner = body.get("error")
    if isinstance(inner, Mapping):
        inner = inner.get("code")
    if isinstance(inner, str):
        return inner
    code = body.get("code")
    return code if isinstance(code, str) else None


def _platform_message(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    inner = body.get("error")
    message = inner.get("message") if isinstance(inner, Mapping) else body.get("message")
    return message if isinstance(message, str) else None


@dataclass(frozen=True, kw_only=True)
class ErrorRule:
    """One line of an :class:`ErrorTable`.

    ``status``: the HTTP status it matches (``None``: any error status); ``code``: the
    platform error code it matches (``None``: any); ``error``: the mailadmin error raised
    (``errors.NotFoundError``); ``message``: user-safe text, where ``{provider}`` is the
    instance name and ``{subject}`` what the call is about (``"anna@example.com"``).
    """

    error: type[_errors.MailadminError]
    message: str
    status: int | None = None
    code: str | None = None

    def matches(self, status: int, code: str | None) -> bool:
        """True when this rule applies to an answer with ``status`` and ``code``."""
        if self.status is not None and self.status != status:
            return False
        return self.code is None or self.code == code


class ErrorTable:
    """Maps error answers to typed mailadmin errors, declared as data.

    ``rules``: :class:`ErrorRule` lines; among the ones that match, a rule naming a code
    wins over one naming a status only, and otherwise the first one wins. ``code``: reads
    the platform's error code from the parsed body (default :func:`error_code`).
    """

    def __init__(self, rules: Iterable[ErrorRule] = (), *, code: CodeReader = error_code) -> None:
        self.rules: tuple[ErrorRule, ...] = tuple(rules)
        self.read_code = code

    def rule_for(self, status: int, code: str | None) -> ErrorRule | None:
        """The rule an answer with ``status`` and platform ``code`` falls under, if any."""
        matching = [rule for rule in self.rules if rule.matches(status, code)]
        with_code = [rule for rule in matching if rule.code is not None]
        best = with_code or matching
        return best[0] if best else None

    def error_for(
        self,
        response: httpx.Response,
        *,
        provider: str,
        subject: str = "",
        redactor: Transport | Redactor | None = None,
    ) -> _errors.MailadminError | None:
        """The error an answer stands for (``None`` below 400)."""
        if response.status_code < 400:
            return None
        body = _parse(response)
        code = self.read_code(body)
        debug = response_debug(response, redactor)
        debug["code"] = code
        said = _platform_message(body)
        if said is not None:
            debug["platform_message"] = excerpt(redactor_of(response, redactor).redact(said))
        rule = self.rule_for(response.status_code, code)
        if rule is None:
            try:
                raise_for_status(response, provider=provider, redactor=redactor)
            except _errors.MailadminError as generic:
                generic.debug.update({k: v for k, v in debug.items() if k not in generic.debug})
                return generic
            return _errors.ProviderError(f"{provider} refused the request", debug=debug)
        message = rule.message.format(provider=provider, subject=subject or "the request")
        return rule.error(message, debug=debug)

    def error_for_code(
        self,
        code: str | None,
        *,
        provider: str,
        subject: str = "",
        status: int | None = None,
        debug: Mapping[str, Any] | None = None,
    ) -> _errors.MailadminError:
        """The error a refusal with this platform ``code`` stands for, whatever its status.

        For refusals read from a body (:class:`~mailadmin.wire.answers.AnswerCheck`): a
        rule naming the code wins, whatever status it names; otherwise a rule naming no
        code whose status is ``status`` (or none); otherwise a generic ``ProviderError``.
        """
        named = [rule for rule in self.rules if rule.code is not None and rule.code == code]
        loose = [rule for rule in self.rules if rule.code is None and rule.status in (None, status)]
        best = named or loose
        detail = dict(debug or {})
        detail.setdefault("code", code)
        if not best:
            return _errors.ProviderError(
                f"{provider} refused the request for {subject or 'the request'}", debug=detail
            )
        rule = best[0]
        message = rule.message.format(provider=provider, subject=subject or "the request")
        return rule.error(message, debug=detail)

    def raise_for(
        self,
        response: httpx.Response,
        *,
        provider: str,
        subject: str = "",
        redactor: Transport | Redactor | None = None,
    ) -> None:
        """Raise the error an answer stands for; 1xx-3xx pass."""
        error = self.error_for(response, provider=provider, subject=subject, redactor=redactor)
        if error is not None:
            raise error

    def is_code(self, response: httpx.Response, code: str | int) -> bool:
        """True when the answer carries this platform code (a string) or status (an int)."""
        if isinstance(code, int):
            return response.status_code == code
        return self.read_code(_parse(response)) == code


class JsonClient:
    """Calls a JSON API through a :class:`~mailadmin.wire.transport.Transport`.

    ``transport``: the provider's ``self.http``; ``name``: the instance, in messages;
    ``errors``: how error answers map to mailadmin errors; ``auth``: an ``httpx.Auth``
    sent with every call (``httpx.BasicAuth``, a session or token auth); ``headers``:
    sent with every call; ``answers``: reads success or refusal from the body of every
    answer below 400 (for platforms that refuse inside a 200; see
    :class:`~mailadmin.wire.answers.AnswerCheck`). It is cheap: build one where needed.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        name: str,
        errors: ErrorTable,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        answers: AnswerCheck | None = None,
    ) -> None:
        self.transport = transport
        self.name = name
        self.errors = errors
        self.auth = auth
        self.headers = dict(headers or {})
        self.answers = answers

    async def request(
        self,
        method: str,
        url: str,
        *,
        write: bool,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotent: bool | None = None,
        endpoint: str | None = None,
        operation: str = "",
        subject: str = "",
        missing: str | int | None = None,
    ) -> Any:
        """Send one call and return its parsed JSON body (``None`` for an empty body).

        ``write``/``idempotent``: as :meth:`Transport.request` (a write is refused during
        a dry run, retried only when idempotent); ``endpoint``: a named endpoint of the
        instance (``"graph"``), ``None`` for the default one; ``operation``: labels logs;
        ``subject``: fills ``{subject}`` in error messages; ``missing``: a platform code
        (or status) meaning "not there", answered with ``None`` instead of an error.
        """
        response = await self.transport.request(
            method,
            url,
            write=write,
            idempotent=idempotent,
            operation=operation,
            headers=self.headers or None,
            params=params,
            json=json,
            auth=self.auth,
            endpoint=endpoint,
        )
        if response.status_code >= 400:
            if missing is not None and self.errors.is_code(response, missing):
                return None
            self.errors.raise_for(
                response, provider=self.name, subject=subject, redactor=self.transport
            )
        if not response.content:
            body = None
        else:
            try:
                body = parse_json(response.content, source=self.name)
            except _errors.ProtocolError as exc:
                exc.debug.update(response_debug(response, self.transport))
                raise
        if self.answers is None:
            return body
        reading = self.answers.read(
            body, provider=self.name, operation=operation, subject=subject, write=write
        )
        if reading.error is not None:
            # Only a refused or unknown answer pays for the redacted excerpt.
            extra = response_debug(response, self.transport)
            reading.error.debug.update(
                {k: v for k, v in extra.items() if k not in reading.error.debug}
            )
        return reading.value()

    async def get(
        self,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
        operation: str = "",
        subject: str = "",
        missing: str | int | None = None,
    ) -> Any:
        """``GET`` (a read: retried, allowed during a dry run)."""
        return await self.request(
            "GET",
            url,
            json=json,
            write=False,
            params=params,
            endpoint=endpoint,
            operation=operation,
            subject=subject,
            missing=missing,
        )

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        write: bool = True,
        idempotent: bool | None = None,
        endpoint: str | None = None,
        operation: str = "",
        subject: str = "",
    ) -> Any:
        """``POST``; a write unless ``write=False`` (a query sent as a POST body)."""
        return await self.request(
            "POST",
            url,
            json=json,
            write=write,
            idempotent=idempotent,
            endpoint=endpoint,
            operation=operation,
            subject=subject,
        )

    async def put(
        self,
        url: str,
        *,
        json: Any = None,
        write: bool = True,
        idempotent: bool | None = None,
        endpoint: str | None = None,
        operation: str = "",
        subject: str = "",
    ) -> Any:
        """``PUT``; say ``idempotent=True`` when it sets an absolute value."""
        return await self.request(
            "PUT",
            url,
            json=json,
            write=write,
            idempotent=idempotent,
            endpoint=endpoint,
            operation=operation,
            subject=subject,
        )

    async def patch(
        self,
        url: str,
        *,
        json: Any = None,
        write: bool = True,
        idempotent: bool | None = None,
        endpoint: str | None = None,
        operation: str = "",
        subject: str = "",
    ) -> Any:
        """``PATCH``."""
        return await self.request(
            "PATCH",
            url,
            json=json,
            write=write,
            idempotent=idempotent,
            endpoint=endpoint,
            operation=operation,
            subject=subject,
        )

    async def delete(
        self,
        url: str,
        *,
        json: Any = None,
        write: bool = True,
        idempotent: bool | None = True,
        endpoint: str | None = None,
        operation: str = "",
        subject: str = "",
        missing: str | int | None = None,
    ) -> Any:
        """``DELETE`` (idempotent by default: deleting twice leaves the same state)."""
        return await self.request(
            "DELETE",
            url,
            json=json,
            write=write,
            idempotent=idempotent,
            endpoint=endpoint,
            operation=operation,
            subject=subject,
            missing=missing,
        )


def parse_json(
    content: bytes | str, *, source: str = "the platform", max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse a JSON answer, refusing what a platform should never send.

    Refused with :class:`~mailadmin.errors.ProtocolError`: text that is not JSON
    or not UTF-8, nesting deeper than ``max_depth`` (measured before parsing, so a
    million-deep text costs no recursion), ``NaN``/``Infinity``, numbers that overflow to
    infinity and integers of more than 4300 digits. ``source`` names the sender.
    """
    import json

    if json_too_deep(content, max_depth):
        raise _errors.ProtocolError(
            f"{source} sent JSON nested deeper than {max_depth} levels, which is refused",
            debug={"max_depth": max_depth},
        )
    try:
        return json.loads(content, parse_constant=_refuse_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad JSON, bad UTF-8 and Python's limit on huge integers.
        raise _errors.ProtocolError(
            f"{source} sent an answer that could not be read",
            debug={"reason": str(exc)[:200]},
        ) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("a number out of range")
    return value


def _parse(response: httpx.Response) -> Any:
    try:
        return parse_json(response.content)
    except _errors.ProtocolError:
        return None

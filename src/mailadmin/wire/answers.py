"""Reading success or refusal from an answer's body, for platforms that refuse inside a 200.

Some platforms answer every call with HTTP 200 and say in the body whether it worked:
mailcow's ``[{"type": "danger", "msg": ["object_exists", ...]}]``, a SOAP ``Fault`` inside
a 200, ``{"ok": false, "error": ...}``. An :class:`AnswerCheck` declares, once per platform,
how to see a refusal (``refusal``), which refusal is which typed error (an
:class:`~mailadmin.wire.jsonapi.ErrorTable` keyed by the platform's code) and what the
answer of each operation looks like (``expected``)::

    def refusal(body):
        if isinstance(body, list) and any(e.get("type") == "danger" for e in body):
            entry = next(e for e in body if e.get("type") == "danger")
            return Refusal(code=first_word(entry["msg"]), message=str(entry["msg"]))
        return None

    ANSWERS = AnswerCheck(refusal=refusal, errors=ERRORS,
                          expected=lambda body, operation: isinstance(body, list))
    api = JsonClient(self.http, name=self.instance, errors=ERRORS, answers=ANSWERS)

Every answer reads as one of three :class:`Verdict` values:

- ``ok``: the answer is the one the operation expects, with no refusal in it;
- ``refused``: the platform said no; :attr:`Reading.error` is the typed error;
- ``unknown``: the answer is neither (an answer of another operation, an unexpected
  shape). After a write this means nobody can say whether the platform holds the change:
  :meth:`Reading.value` raises :class:`~mailadmin.contract.errors.OutcomeUnknown`, so the
  write is never reported ``changed``, and a :class:`~mailadmin.sdk.Change` with
  ``verify`` reads the platform back. After a read it raises ``ProtocolError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mailadmin import errors as _errors

if TYPE_CHECKING:
    from mailadmin.wire.jsonapi import ErrorTable

__all__ = ["AnswerCheck", "Reading", "Refusal", "Verdict"]


class Verdict(StrEnum):
    """What an answer says about the call it answers."""

    OK = "ok"
    REFUSED = "refused"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Refusal:
    """A refusal found in an answer's body.

    ``code``: the platform's code for it (``"object_exists"``, ``"account.NO_SUCH_ACCOUNT"``;
    ``None`` when it gives none), matched against the :class:`ErrorTable`'s rules;
    ``message``: the platform's own words, kept in ``error.debug`` only (never shown).
    """

    code: str | None = None
    message: str | None = None


#: Reads a refusal out of a parsed body; ``None`` when the body refuses nothing.
RefusalReader = Callable[[Any], "Refusal | None"]
#: ``expected(body, operation)``: True when ``body`` is an answer ``operation`` can get.
ShapeCheck = Callable[[Any, str], bool]


@dataclass(frozen=True)
class Reading:
    """What one answer says: its :class:`Verdict`, the body, and the error when not ok."""

    verdict: Verdict
    body: Any = None
    refusal: Refusal | None = None
    error: _errors.MailadminError | None = None

    @property
    def ok(self) -> bool:
        """True when the platform did what was asked."""
        return self.verdict is Verdict.OK

    def value(self) -> Any:
        """The body when ok, otherwise raise the error the answer stands for."""
        if self.error is not None:
            raise self.error
        return self.body


@dataclass(frozen=True, kw_only=True)
class AnswerCheck:
    """How one platform says success and refusal inside its answers' bodies.

    ``refusal``: finds a refusal in a parsed body (see :class:`Refusal`); ``errors``: maps
    refusal codes to typed errors (its rules with a ``code``, and those without a status,
    apply; status 200 is what they are matched with); ``expected``: says whether a body is
    an answer the named operation can get (``None``: any body that refuses nothing is ok).
    """

    refusal: RefusalReader
    errors: ErrorTable
    expected: ShapeCheck | None = None
    status: int = field(default=200)

    def read(
        self,
        body: Any,
        *,
        provider: str,
        operation: str = "",
        subject: str = "",
        write: bool = False,
        debug: Mapping[str, Any] | None = None,
    ) -> Reading:
        """Read one parsed body; ``write``: the call asked for a change (an unexpected
        answer is then ``OutcomeUnknown``, not ``ProtocolError``)."""
        detail = dict(debug or {})
        found = self.refusal(body)
        if found is not None:
            detail |= {"code": found.code}
            if found.message:
                detail["platform_message"] = found.message[:500]
            error = self.errors.error_for_code(
                found.code,
                status=self.status,
                provider=provider,
                subject=subject,
                debug=detail,
            )
            return Reading(Verdict.REFUSED, body, found, error)
        if self.expected is None or self.expected(body, operation):
            return Reading(Verdict.OK, body)
        what = f" to {operation}" if operation else ""
        detail["operation"] = operation
        if write:
            about = subject or "the object"
            unknown: _errors.MailadminError = _errors.OutcomeUnknown(
                f"{provider} sent an unexpected answer{what}; whether {about} was changed "
                "is not known",
                debug=detail,
            )
        else:
            unknown = _errors.ProtocolError(
                f"{provider} sent an unexpected answer{what}", debug=detail
            )
        return Reading(Verdict.UNKNOWN, body, None, unknown)

    def settle(
        self,
        body: Any,
        *,
        provider: str,
        operation: str = "",
        subject: str = "",
        write: bool = False,
        debug: Mapping[str, Any] | None = None,
    ) -> Any:
        """The body when the answer is ok; otherwise raise (see :meth:`read`)."""
        return self.read(
            body,
            provider=provider,
            operation=operation,
            subject=subject,
            write=write,
            debug=debug,
        ).value()

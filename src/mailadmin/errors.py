"""One error hierarchy for the whole framework.

``str(error)`` is always safe to show an end user: no credentials, class names, stack
traces or platform internals. What a developer needs (the raw request and response, with
secrets redacted) travels apart in ``error.debug`` and in the log.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyExists",
    "AuthenticationError",
    "ChangeUnsettled",
    "ConfigurationError",
    "ConflictError",
    "MailadminError",
    "NotFoundError",
    "OutcomeUnknown",
    "PartialChange",
    "PolicyDenied",
    "ProtocolError",
    "ProviderError",
    "QuotaExceeded",
    "RateLimited",
    "StoreUnavailable",
    "Unavailable",
    "UnsupportedOperation",
    "ValidationError",
    "store_unreachable",
]


class MailadminError(Exception):
    """Base of every error mailadmin raises.

    ``message`` is user-safe; ``debug`` holds redacted developer detail (request, response,
    platform fault text) and is never part of ``str()``.
    """

    #: Short stable code for machines (``--json`` output, exit-code mapping).
    code = "error"

    def __init__(self, message: str, *, debug: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.debug: dict[str, Any] = dict(debug or {})

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The user-safe view: code and message."""
        return {"code": self.code, "message": self.message}


class ConfigurationError(MailadminError):
    """The configuration file or a plugin's set-up is wrong."""

    code = "configuration"


class ValidationError(MailadminError):
    """An input is malformed or names something that does not exist in the catalogue."""

    code = "validation"


class AlreadyExists(ValidationError):
    """A record mailadmin keeps itself (a customer, a reseller) already exists.

    Nothing was sent: the CLI exits 2 like any refused input; the HTTP API answers 409
    (code ``conflict``), as for an object that exists on a platform.
    """

    code = "conflict"


class PolicyDenied(MailadminError):
    """A business rule or a policy hook refused the change.

    ``reason`` says which rule, for machines (``"cross_boundary"``,
    ``"upgrade_not_allowed"``, ``"allocation_exceeded"``...); the message is for people.
    """

    code = "policy_denied"

    def __init__(
        self, message: str, *, reason: str = "policy", debug: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, debug=debug)
        self.reason = reason

    def to_dict(self) -> dict[str, Any]:
        """The user-safe view: code, reason and message."""
        return {**super().to_dict(), "reason": self.reason}


class UnsupportedOperation(MailadminError):
    """The provider does not declare the capability the call needs."""

    code = "unsupported"

    def __init__(self, capability: str, provider: str, reason: str = "") -> None:
        message = f"'{provider}' does not support {capability}"
        super().__init__(message + (f": {reason}" if reason else ""))
        self.capability = capability
        self.provider = provider


class ProviderError(MailadminError):
    """The platform refused or failed a call. Subclasses say why."""

    code = "provider"
    #: True when the same call may succeed if sent again later.
    retryable = False


class AuthenticationError(ProviderError):
    """The platform rejected the credentials."""

    code = "authentication"


class NotFoundError(ProviderError):
    """The mailbox, tenant or object does not exist on the platform."""

    code = "not_found"


class ConflictError(ProviderError):
    """The object already exists or is in a state that forbids the change."""

    code = "conflict"


class QuotaExceeded(ProviderError):
    """A platform limit (seats, storage, mailboxes of a kind) would be exceeded."""

    code = "quota_exceeded"


class RateLimited(ProviderError):
    """The platform asks to slow down; ``retry_after`` is in seconds when it says."""

    code = "rate_limited"
    retryable = True

    def __init__(
        self,
        message: str = "The platform is busy; try again later",
        *,
        retry_after: float | None = None,
        debug: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, debug=debug)
        self.retry_after = retry_after


class Unavailable(ProviderError):
    """The platform cannot be reached or answered with a server error."""

    code = "unavailable"
    retryable = True


class ProtocolError(ProviderError):
    """The platform's answer could not be understood (malformed, hostile, unexpected)."""

    code = "protocol"


class PartialChange(ProviderError):
    """A write of several steps stopped half-way: the platform holds part of the target.

    ``applied`` and ``missing`` name the parts (``("access_combination",)``,
    ``("quota",)``); ``state`` is what was read back. Writes are absolute, so sending the
    same write again (``mailadmin journal resume``) completes it.
    """

    code = "partial"

    def __init__(
        self,
        message: str,
        *,
        applied: tuple[str, ...],
        missing: tuple[str, ...],
        state: Any = None,
        debug: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, debug=debug)
        self.applied = applied
        self.missing = missing
        self.state = state


class ChangeUnsettled(ProviderError):
    """A write was refused before sending: an earlier change of the same subject has an
    unknown outcome and may still land, so sending now could be overwritten by it.
    ``mailadmin journal resume`` settles the earlier change."""

    code = "unsettled"
    retryable = True


class OutcomeUnknown(ProviderError):
    """The platform may or may not have applied a write (its answer was lost and reading
    it back failed or did not settle); ``mailadmin journal resume`` settles it."""

    code = "unknown"
    retryable = True


class StoreUnavailable(MailadminError):
    """The store (the journal's database) cannot be reached: nothing more is sent, since
    no write may go out unjournalled; what was done is journalled, and ``mailadmin
    journal resume`` settles the rest once the store is back."""

    code = "store_unavailable"
    retryable = True


_OUTAGES = frozenset({"OperationalError", "InterfaceError", "PoolTimeout"})


def store_unreachable(exc: BaseException) -> bool:
    """Whether ``exc``, or what caused it, is the database out of reach (a lost or refused
    connection of SQLAlchemy or psycopg, not a bad statement). By class name, so this
    module imports neither."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        for kind in type(seen).__mro__:
            if kind.__name__ in _OUTAGES and kind.__module__.startswith(("sqlalchemy", "psycopg")):
                return True
        if getattr(seen, "connection_invalidated", False):
            return True
        seen = seen.__cause__ or seen.__context__
    return False

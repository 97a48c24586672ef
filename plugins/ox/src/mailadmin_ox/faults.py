"""OX SOAP faults mapped to mailadmin's typed errors.

OX puts the RMI exception message in ``faultstring`` (since 7.10.4 followed by
``; exceptionId <n>-<m>``) and the exception's name only in the ``detail`` element, which
may be missing. A rule therefore matches the detail name when there is one and the fault
text (suffix removed) always; the first matching rule wins. The user-safe message never
repeats OX's text (it can carry internals); the text travels in ``error.debug``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mailadmin.sdk import SoapFault, errors

__all__ = ["fault_text", "to_error"]

#: ``build(groups, provider, debug)``: ``groups`` are the pattern's captured groups.
_Factory = Callable[[tuple[str, ...], str, dict[str, Any]], errors.MailadminError]


@dataclass(frozen=True)
class _Rule:
    exceptions: frozenset[str]  # the detail element names this rule stands for
    pattern: re.Pattern[str]
    build: _Factory

    def matches(self, detail: str | None, text: str) -> re.Match[str] | None:
        if detail is not None and detail not in self.exceptions:
            return None
        if detail is None and not self.pattern.pattern:
            return None  # a catch-all for one exception needs its name in the detail
        return self.pattern.search(text)


def _rule(exceptions: str, pattern: str, build: _Factory) -> _Rule:
    names = frozenset(exceptions.split()) if exceptions else frozenset()
    return _Rule(names, re.compile(pattern), build)


def _say(kind: type[errors.MailadminError], template: str) -> _Factory:
    """A factory for a fixed user-safe message; ``{who}`` is the instance, ``{0}`` a group."""

    def build(m: tuple[str, ...], who: str, debug: dict[str, Any]) -> errors.MailadminError:
        return kind(template.format(*m, who=who), debug=debug)

    return build


_auth = _say(errors.AuthenticationError, "{who} rejected the configured credentials")
_auth_missing = _say(errors.AuthenticationError, "{who} received no credentials")
_auth_reseller = _say(
    errors.AuthenticationError, "{who}: the reseller account may not manage that sub-admin"
)
_no_user = _say(errors.NotFoundError, "The mailbox does not exist on {who}")
_no_context = _say(errors.NotFoundError, "The context does not exist on {who}")
_not_found = _say(errors.NotFoundError, "The object does not exist on {who}")
_no_combination = _say(
    errors.ConfigurationError,
    "The access combination '{0}' configured for {who} does not exist there",
)
_null_access = _say(errors.ValidationError, "{who} was sent an empty access combination or mailbox")
_exists = _say(errors.ConflictError, "The mailbox already exists on {who}")
_conflict = _say(errors.ConflictError, "{who} refused the change: the object already exists")
_still_owns = _say(
    errors.ConflictError, "{who} refused to delete the sub-admin: it still owns contexts"
)
_admin_delete = _say(errors.ValidationError, "{who}: the context's admin user cannot be deleted")
_invalid = _say(errors.ValidationError, "{who} refused the data as invalid")
_updating = _say(errors.Unavailable, "{who} is updating its database; try again later")
_remote = _say(errors.Unavailable, "{who} could not complete the call; try again later")
_storage = _say(errors.ProviderError, "{who} could not store or read the data")
_client = _say(errors.ProtocolError, "{who} could not read the request")

_LIMITS = {
    "number of users per context": "the context's user limit",
    "number of users by moduleaccess per context": "the context's limit for this plan",
    "overall number of users": "the reseller's overall user limit",
    "overall number of users by moduleaccess": "the reseller's overall limit for this plan",
    "number of contexts": "the reseller's context limit",
}


def _limit(m: tuple[str, ...], who: str, debug: dict[str, Any]) -> errors.MailadminError:
    what = _LIMITS.get(m[0], "a reseller limit")
    return errors.QuotaExceeded(f"{who}: {what} of {m[1]} is reached", debug=debug)


_CREDS = "InvalidCredentialsException"
_RULES: tuple[_Rule, ...] = (
    # Case matters: the lower-case text is the reseller-hierarchy refusal.
    _rule(_CREDS, r"^authentication failed$", _auth_reseller),
    _rule(_CREDS, r"^credential object is null", _auth_missing),
    _rule(_CREDS, r"^Authentication failed", _auth),
    _rule(_CREDS, r"", _auth),
    _rule("NoSuchUserException", r"^(No such user|User does not exist)", _no_user),
    _rule("NoSuchUserException", r"", _no_user),
    _rule("NoSuchContextException", r"", _no_context),
    _rule("NoSuchResourceException NoSuchGroupException", r"", _not_found),
    _rule("InvalidDataException", r'^No such access combination name "(.*)"', _no_combination),
    _rule("InvalidDataException", r"^User or UserModuleAccess is null", _null_access),
    _rule("InvalidDataException", r"^User .* already exists in this context", _exists),
    # OX refuses OXUserService.delete of the context admin (reference section 3.1).
    _rule("InvalidDataException", r"^Admin delete not supported", _admin_delete),
    _rule(
        "OXResellerException",
        r"^Maximum (number of users per context|number of users by moduleaccess per context|"
        r"overall number of users by moduleaccess|overall number of users|number of contexts)"
        r" reached: (-?\d+)",
        _limit,
    ),
    _rule("OXResellerException", r"^Unable to delete .*, still owns Context", _still_owns),
    _rule("ContextExistsException DuplicateExtensionException", r"", _conflict),
    _rule("InvalidDataException", r"already exists", _conflict),
    _rule("InvalidDataException", r"", _invalid),
    _rule("DatabaseUpdateException", r"", _updating),
    _rule("RemoteException", r"", _remote),
    _rule("StorageException", r"", _storage),
)

_KNOWN = frozenset(name for rule in _RULES for name in rule.exceptions)


def fault_text(fault: SoapFault) -> str:
    """The fault string without OX's ``; exceptionId ...`` suffix."""
    head, sep, _ = fault.message.partition("; exceptionId ")
    return head.rstrip() if sep else fault.message.strip()


def to_error(
    fault: SoapFault, *, provider: str = "OX", operation: str = ""
) -> errors.MailadminError:
    """The mailadmin error for an OX fault.

    ``provider`` names the instance in the message; ``operation`` (``"getData"``) goes to
    the debug detail with the fault's code, text and exception name.
    """
    debug: dict[str, Any] = {
        "operation": operation,
        "faultcode": fault.code,
        "faultstring": fault.message,
        "exception": fault.detail_name,
    }
    # An exception name no rule knows (the generic "Exception") says nothing: go by text.
    detail = fault.detail_name if fault.detail_name in _KNOWN else None
    for rule in _RULES:
        match = rule.matches(detail, fault_text(fault))
        if match is not None:
            return rule.build(match.groups(), provider, debug)
    if fault.code == "Client":
        return _client((), provider, debug)
    return errors.ProviderError(f"{provider} refused the call", debug=debug)

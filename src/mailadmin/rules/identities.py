"""Who is acting: site admin, reseller, customer admin or mailbox user, and what each reaches.

Every orchestrator call runs as one :class:`Identity`. A reseller reaches only its own
customers and their mailboxes, a customer admin only its own tenant, a mailbox user only
its own mailbox; anything else is refused with ``PolicyDenied`` (reason
``"cross_boundary"``) before a request is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from mailadmin.contract import errors

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "SITE_ADMIN",
    "Identity",
    "IdentityKind",
    "Scope",
    "acting_scope",
    "check_access",
    "current_identity",
]


class IdentityKind(StrEnum):
    """The four kinds of acting identity, widest first."""

    SITE_ADMIN = "site_admin"
    RESELLER = "reseller"
    CUSTOMER_ADMIN = "customer_admin"
    MAILBOX_USER = "mailbox_user"


_PREFIXES = {
    "reseller": IdentityKind.RESELLER,
    "customer": IdentityKind.CUSTOMER_ADMIN,
    "customer_admin": IdentityKind.CUSTOMER_ADMIN,
    "mailbox": IdentityKind.MAILBOX_USER,
    "mailbox_user": IdentityKind.MAILBOX_USER,
}


class Identity(BaseModel):
    """An acting identity: ``Identity.parse("reseller:acme")``.

    ``name`` is the reseller name, the customer (tenant) name or the mailbox address; the
    site admin has none.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: IdentityKind
    name: str | None = None

    @model_validator(mode="after")
    def _named(self) -> Identity:
        if self.kind is IdentityKind.SITE_ADMIN:
            if self.name is not None:
                raise ValueError("the site admin has no name")
        elif not self.name:
            raise ValueError(f"a {self.kind.value} identity needs a name")
        return self

    @field_validator("name")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        # Tenants and addresses compare case-insensitively everywhere else too.
        return value.strip().lower() if value is not None else None

    @classmethod
    def parse(cls, text: str) -> Identity:
        """Read ``site-admin``, ``reseller:NAME``, ``customer:TENANT`` or ``mailbox:ADDRESS``."""
        raw = text.strip()
        if raw.lower().replace("-", "_") in ("site_admin", "admin"):
            return SITE_ADMIN
        prefix, sep, name = raw.partition(":")
        kind = _PREFIXES.get(prefix.lower().replace("-", "_"))
        if not sep or kind is None or not name.strip():
            raise errors.ValidationError(
                f"'{text}' is not an identity; use site-admin, reseller:NAME, "
                "customer:TENANT or mailbox:ADDRESS"
            )
        return cls(kind=kind, name=name)

    def __str__(self) -> str:
        if self.kind is IdentityKind.SITE_ADMIN:
            return "site-admin"
        prefix = {
            IdentityKind.RESELLER: "reseller",
            IdentityKind.CUSTOMER_ADMIN: "customer",
            IdentityKind.MAILBOX_USER: "mailbox",
        }[self.kind]
        return f"{prefix}:{self.name}"

    @property
    def is_admin(self) -> bool:
        """True for identities that administer others (every kind but the mailbox user)."""
        return self.kind is not IdentityKind.MAILBOX_USER


#: The local operator: reaches everything.
SITE_ADMIN = Identity(kind=IdentityKind.SITE_ADMIN)

_ACTING: ContextVar[Identity | None] = ContextVar("mailadmin_acting_identity", default=None)


def current_identity(default: Identity = SITE_ADMIN) -> Identity:
    """The identity the running call acts as."""
    return _ACTING.get() or default


@contextmanager
def acting_scope(identity: Identity) -> Iterator[Identity]:
    """Run the enclosed calls (and the tasks they start) as ``identity``."""
    token = _ACTING.set(identity)
    try:
        yield identity
    finally:
        _ACTING.reset(token)


class Scope(BaseModel):
    """What a call touches: an instance, maybe a tenant, maybe one mailbox."""

    model_config = ConfigDict(frozen=True)

    operation: str
    instance: str
    tenant: str | None = None
    mailbox: str | None = None


#: Calls about a whole instance that anyone may make (the plan catalogue is no secret).
_OPEN_INSTANCE_CALLS = frozenset({"list_plans"})
#: Calls that sell: only the site admin or the tenant's reseller.
_SELLING = frozenset({"apply_addon"})
#: Suspensions are the host's and the reseller's, never the customer's own.
_SUSPENDING = frozenset(
    {
        "suspend_mailbox",
        "resume_mailbox",
        "suspend_tenant",
        "resume_tenant",
    }
)
#: Creating or removing the tenant itself is the host's and the reseller's too.
_TENANT_LIFECYCLE = frozenset({"create_tenant", "delete_tenant"})


def check_access(identity: Identity, scope: Scope, owner_of: Callable[[str], str | None]) -> None:
    """Refuse a call outside the identity's reach with ``PolicyDenied``.

    ``owner_of(tenant)`` names the reseller that owns a tenant (``None``: the host's own).
    """
    if identity.kind is IdentityKind.SITE_ADMIN:
        return
    if scope.tenant is None:
        if scope.operation in _OPEN_INSTANCE_CALLS:
            return
        raise _outside(identity, f"instance '{scope.instance}'", scope)
    tenant = scope.tenant.lower()
    if identity.kind is IdentityKind.RESELLER:
        if owner_of(tenant) != identity.name:
            raise _outside(identity, f"customer '{scope.tenant}'", scope)
        return
    if identity.kind is IdentityKind.CUSTOMER_ADMIN:
        if tenant != identity.name:
            raise _outside(identity, f"customer '{scope.tenant}'", scope)
        if scope.operation in _SELLING:
            raise errors.PolicyDenied(
                "Only the site admin or the customer's reseller may change add-ons",
                reason="not_permitted",
            )
        if scope.operation in _SUSPENDING:
            # A customer suspended for non-payment must not lift its own suspension.
            raise errors.PolicyDenied(
                "Only the site admin or the customer's reseller may suspend or resume",
                reason="not_permitted",
            )
        if scope.operation in _TENANT_LIFECYCLE:
            raise errors.PolicyDenied(
                "Only the site admin or the customer's reseller may create or remove a tenant",
                reason="not_permitted",
            )
        return
    # A mailbox user: its own mailbox, and only its plan.
    if scope.mailbox is None or scope.mailbox.lower() != identity.name:
        what = f"mailbox '{scope.mailbox}'" if scope.mailbox else f"customer '{scope.tenant}'"
        raise _outside(identity, what, scope)
    if scope.operation != "set_plan":
        raise errors.PolicyDenied(
            "A mailbox user may only change the plan of its own mailbox", reason="not_permitted"
        )


def _outside(identity: Identity, what: str, scope: Scope) -> errors.PolicyDenied:
    return errors.PolicyDenied(
        f"{identity} may not reach {what}",
        reason="cross_boundary",
        debug={"identity": str(identity), "operation": scope.operation},
    )


def unknown_tenant(
    identity: Identity, name: str, error: errors.MailadminError, *, mailbox: str | None = None
) -> Exception:
    """What ``identity`` is told when it names a tenant that does not exist (``mailbox``:
    the address it named there): the site admin hears so (``error``); anyone else gets the
    refusal of a tenant no one it knows owns, word for word, so the answer never tells a
    name that exists from one that does not."""
    if identity.kind is IdentityKind.SITE_ADMIN:
        return error
    scope = Scope(operation="route", instance="", tenant=name.strip().lower(), mailbox=mailbox)
    try:
        check_access(identity, scope, lambda _tenant: None)
    except errors.PolicyDenied as refused:
        return refused
    return error

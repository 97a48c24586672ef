"""Typed values that cross the provider contract: references, counts, licences, results.

Everything the orchestrator branches on is a typed field or an enum, never a key in a
free-form dict. Provider-specific detail that nobody branches on goes in ``native``.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    computed_field,
    model_validator,
)

__all__ = [
    "AddonRef",
    "ChangeResult",
    "ConnectionStatus",
    "Licence",
    "LicenceFeature",
    "LicenceState",
    "Mailbox",
    "MailboxCount",
    "MailboxKind",
    "MailboxRef",
    "MailboxSettings",
    "NativePlan",
    "NewMailbox",
    "Outcome",
    "SignOn",
    "TenantRef",
]

_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: A provider-neutral name: lower-case letters, digits, ``_`` and ``-`` ("sync", "storage_gb").
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
]


def _plain_address(value: str) -> str:
    # Control and format characters (ESC, NUL, DEL, U+202E, U+200B) pass the pattern but
    # make platforms fault or hide what the address really is; RFC 5321 caps the local
    # part at 64 octets.
    # Printable ASCII holds no control or format character: the common address skips the
    # per-character look-up (it runs for every address of a bulk run).
    if not (value.isascii() and value.isprintable()) and any(
        unicodedata.category(c) in ("Cc", "Cf") for c in value
    ):
        raise ValueError("a mail address may not hold control or invisible characters")
    local, _, domain = value.rpartition("@")
    if len(local.encode("utf-8")) > 64:
        raise ValueError("the part before @ of a mail address is at most 64 characters")
    # Addresses travel in URL paths (Graph, the HTTP API) and platform look-ups: a slash
    # or backslash there names another resource ("../../u0@example.com"). RFC 5321's
    # dot-string has no empty part, so no leading, trailing or doubled dot either.
    if "/" in value or "\\" in value:
        raise ValueError("a mail address may not hold '/' or '\\'")
    if _empty_part(local) or _empty_part(domain):
        raise ValueError("a mail address may not start or end a part with a dot, or hold '..'")
    return value


def _empty_part(dotted: str) -> bool:
    """True when splitting ``dotted`` at its dots would give an empty part."""
    return not dotted or dotted[0] == "." or dotted[-1] == "." or ".." in dotted


Address = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=_ADDRESS.pattern),
    AfterValidator(_plain_address),
]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MailboxKind(StrEnum):
    """What a mailbox is for; every platform knows these four."""

    USER = "user"
    SHARED = "shared"
    ROOM = "room"
    EQUIPMENT = "equipment"


class Outcome(StrEnum):
    """How a write ended.

    ``changed``: the platform now holds the target. ``unchanged``: it already did, nothing
    was sent. ``accepted``: the platform took the request and finishes it later; poll with
    the ``operation_id``.
    """

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    ACCEPTED = "accepted"


class LicenceState(StrEnum):
    """Lifecycle of a platform licence or subscription."""

    ACTIVE = "active"
    TRIAL = "trial"
    GRACE = "grace"
    EXPIRED = "expired"
    NONE = "none"


class TenantRef(_Model):
    """A customer of the host: one domain, context or tenant on one platform.

    ``name`` is the key in mailadmin's configuration (``"example.com"``); ``native_id`` is
    the platform's own identifier where it differs (an OX context id ``"1"``, an Exchange
    tenant GUID).
    """

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    native_id: str | None = None

    @property
    def key(self) -> str:
        """The platform identifier: ``native_id`` when set, otherwise ``name``."""
        return self.native_id or self.name


class MailboxRef(_Model):
    """One mailbox of one tenant, by address (``"anna@example.com"``)."""

    tenant: TenantRef
    address: Address

    @property
    def local_part(self) -> str:
        """The part before ``@`` (``"anna"``)."""
        return self.address.split("@", 1)[0]


class AddonRef(_Model):
    """A provider-neutral add-on, optionally scoped to one plan.

    ``AddonRef(name="mailboxes", plan="sync")`` is "seats on the Sync plan";
    ``AddonRef.parse("mailboxes:sync")`` builds the same from its text form.
    """

    name: Name
    plan: Name | None = None

    @classmethod
    def parse(cls, text: str) -> AddonRef:
        """Build from ``"name"`` or ``"name:plan"``."""
        name, _, plan = text.partition(":")
        return cls(name=name, plan=plan or None)

    def __str__(self) -> str:
        return f"{self.name}:{self.plan}" if self.plan else self.name


class NativePlan(_Model):
    """One entry of a platform's own plan catalogue (an OX access combination, a COS, a SKU)."""

    native_name: str
    description: str = ""
    quota_mb: int | None = Field(default=None, ge=0)
    features: tuple[str, ...] = ()
    neutral_name: str | None = None


class Mailbox(_Model):
    """A mailbox as the platform reports it."""

    address: Address
    kind: MailboxKind
    plan: str | None = None
    display_name: str = ""
    quota_mb: int | None = Field(default=None, ge=0)
    native_id: str | None = None


class MailboxSettings(_Model):
    """What a mailbox's settings hold on the platform: ``display_name``, ``forwarding``
    (the address mail is forwarded to, ``""`` for none), ``quota_mb`` (``None``: no limit)
    and ``aliases`` (every other address it receives mail at, sorted, lower case)."""

    display_name: str = ""
    forwarding: str = ""
    quota_mb: int | None = Field(default=None, ge=0)
    aliases: tuple[str, ...] = ()


class SignOn(_Model):
    """A link that signs a mailbox's user in without a password: ``url`` is a credential
    (never logged or journalled), valid until ``expires`` (``None``: the platform's own
    session rules)."""

    url: str = Field(repr=False)
    expires: datetime | None = None


class NewMailbox(_Model):
    """What ``create_mailbox`` needs. ``plan`` applies to user mailboxes only."""

    address: Address
    kind: MailboxKind = MailboxKind.USER
    display_name: str = ""
    plan: Name | None = None
    password: SecretStr | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _plan_of_a_user_only(self) -> NewMailbox:
        # A plan given for a shared or resource mailbox would be silently dropped.
        if self.plan is not None and self.kind is not MailboxKind.USER:
            raise ValueError(
                f"a {self.kind.value} mailbox takes no plan: plans apply to user mailboxes only"
            )
        return self


class MailboxCount(_Model):
    """How many mailboxes a tenant has, by kind and by plan.

    ``by_plan`` counts user mailboxes under their neutral plan name; a mailbox whose native
    setting maps to no configured plan is counted under ``"unmapped"``. ``unclassified``
    counts the mailboxes the platform holds whose kind the provider could not tell (no
    native marker and no configured convention matched); they are reported, never
    guessed, and are in neither ``by_kind`` nor ``total``.
    """

    tenant: str
    by_kind: dict[MailboxKind, int]
    by_plan: dict[str, int] = Field(default_factory=dict)
    unclassified: int = Field(default=0, ge=0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        """All mailboxes of every kind."""
        return sum(self.by_kind.values())

    def of(self, kind: MailboxKind) -> int:
        """The count of one kind, zero when absent."""
        return self.by_kind.get(kind, 0)


class LicenceFeature(_Model):
    """An edition or feature of a licence with its quantity (``None``: unlimited)."""

    name: str
    quantity: int | None = Field(default=None, ge=0)
    used: int | None = Field(default=None, ge=0)


class Licence(_Model):
    """Seats licensed and used, features, validity and state of a platform licence."""

    seats_licensed: int | None = Field(ge=0, description="None means unlimited")
    seats_used: int = Field(ge=0)
    features: tuple[LicenceFeature, ...] = ()
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    state: LicenceState = LicenceState.ACTIVE
    #: Until when the maintenance service (support, updates) runs, where the platform
    #: sells it apart from the licence (Zextras's ``maintenanceEndDate``).
    maintenance_until: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def seats_free(self) -> int | None:
        """Licensed minus used; negative when over-used; ``None`` when unlimited."""
        if self.seats_licensed is None:
            return None
        return self.seats_licensed - self.seats_used

    @computed_field  # type: ignore[prop-decorator]
    @property
    def over_used(self) -> bool:
        """True when more seats are used than licensed."""
        free = self.seats_free
        return free is not None and free < 0


T = TypeVar("T")


class ChangeResult(_Model, Generic[T]):
    """What a write did, with the state before and after.

    ``subject`` names what was written (``"anna@example.com"``, ``"example.com"``);
    ``dry_run`` is true exactly when the call was made as a dry run, whatever the outcome
    (nothing was sent and ``after`` is what would be); the provider base class sets it.
    ``note``: a short user-facing remark of the provider (``""`` when none).
    """

    operation: str
    subject: str
    outcome: Outcome
    before: T | None = None
    after: T | None = None
    operation_id: str | None = None
    dry_run: bool = False
    note: str = ""

    @property
    def changed(self) -> bool:
        """True unless the platform already held the target."""
        return self.outcome is not Outcome.UNCHANGED

    def __class_getitem__(cls, params: Any) -> Any:
        # pydantic caches a parametrized class (``ChangeResult[T]``, built per write) only
        # weakly: once no result holds it, the garbage collector drops it and the next
        # write builds it again (40-80 us of class and schema building; in a loop of new
        # Orchestrators it was rebuilt about every fifth call). Kept here for the process.
        key = (cls, params)
        try:
            return _PARAMETRIZED[key]
        except KeyError:
            made = _PARAMETRIZED[key] = super().__class_getitem__(params)
            return made
        except TypeError:  # unhashable parameters: pydantic's own cache only
            return super().__class_getitem__(params)


#: Every parametrized ChangeResult made in this process (a handful of result types).
_PARAMETRIZED: dict[tuple[type, Any], Any] = {}


class ConnectionStatus(_Model):
    """Answer of ``test_connection``: reachable and authenticated, with the platform version."""

    ok: bool
    platform: str
    version: str | None = None
    detail: str = ""

"""Capabilities declared as data, so support can be checked by program and proven by tests.

A provider class sets ``capabilities = Capabilities(...)``. Every optional feature it does
not support needs a reason in ``unsupported``; the conformance kit reports those as skips
carrying the reason and fails any declared feature that does not work.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mailadmin.models import MailboxKind

__all__ = [
    "ADDED_LATER",
    "KNOWN_ADDONS",
    "REQUIRED",
    "SETTINGS",
    "Capabilities",
    "Feature",
    "LicenceKind",
    "LicenceModel",
    "Operation",
]


class Operation(StrEnum):
    """Every operation of the contract."""

    SET_PLAN = "set_plan"
    COUNT_MAILBOXES = "count_mailboxes"
    APPLY_ADDON = "apply_addon"
    GET_LICENCE = "get_licence"
    TEST_CONNECTION = "test_connection"
    LIST_PLANS = "list_plans"
    LIST_MAILBOXES = "list_mailboxes"
    CREATE_MAILBOX = "create_mailbox"
    DELETE_MAILBOX = "delete_mailbox"
    SET_PASSWORD = "set_password"
    SUSPEND_MAILBOX = "suspend_mailbox"
    RESUME_MAILBOX = "resume_mailbox"
    SUSPEND_TENANT = "suspend_tenant"
    RESUME_TENANT = "resume_tenant"
    SET_DISPLAY_NAME = "set_display_name"
    SET_FORWARDING = "set_forwarding"
    SET_QUOTA = "set_quota"
    ADD_ALIAS = "add_alias"
    REMOVE_ALIAS = "remove_alias"
    LIST_ALIASES = "list_aliases"
    SINGLE_SIGN_ON = "single_sign_on"
    LIST_TENANTS = "list_tenants"
    CREATE_TENANT = "create_tenant"
    DELETE_TENANT = "delete_tenant"


#: Operations every provider must implement.
REQUIRED: frozenset[Operation] = frozenset(
    {
        Operation.SET_PLAN,
        Operation.COUNT_MAILBOXES,
        Operation.APPLY_ADDON,
        Operation.GET_LICENCE,
        Operation.TEST_CONNECTION,
        Operation.LIST_PLANS,
    }
)
_OPTIONAL = tuple(op for op in Operation if op not in REQUIRED)
_KIND_SCOPED = (Operation.CREATE_MAILBOX, Operation.DELETE_MAILBOX)
_OPTIONAL_NAMES = frozenset(op.value for op in _OPTIONAL)
#: Optional operations added to the contract after plugins were written against it: a
#: provider class that does not mention one is not refused when it is defined (a plugin
#: built before the operation existed keeps loading); the matrix shows this reason.
ADDED_LATER: frozenset[str] = frozenset(
    {
        Operation.SET_PASSWORD.value,
        Operation.SUSPEND_MAILBOX.value,
        Operation.RESUME_MAILBOX.value,
        Operation.SUSPEND_TENANT.value,
        Operation.RESUME_TENANT.value,
        Operation.SET_DISPLAY_NAME.value,
        Operation.SET_FORWARDING.value,
        Operation.SET_QUOTA.value,
        Operation.ADD_ALIAS.value,
        Operation.REMOVE_ALIAS.value,
        Operation.LIST_ALIASES.value,
        Operation.SINGLE_SIGN_ON.value,
        Operation.LIST_TENANTS.value,
        Operation.CREATE_TENANT.value,
        Operation.DELETE_TENANT.value,
    }
)
#: The mailbox settings operations (each absolute; one plugin read and one plugin write).
SETTINGS: frozenset[str] = frozenset(
    {
        Operation.SET_DISPLAY_NAME.value,
        Operation.SET_FORWARDING.value,
        Operation.SET_QUOTA.value,
        Operation.ADD_ALIAS.value,
        Operation.REMOVE_ALIAS.value,
    }
)
#: The reason of an operation of :data:`ADDED_LATER` a provider says nothing about.
NOT_DECLARED = "not implemented by this plugin"
_KIND_SCOPED_NAMES = frozenset(op.value for op in _KIND_SCOPED)

#: Provider-neutral add-ons that hosts sell; a provider may support others too.
KNOWN_ADDONS: tuple[str, ...] = ("mailboxes", "shared_mailbox", "resource_mailbox", "storage_gb")


class LicenceKind(StrEnum):
    """How a platform is licensed.

    ``none``: nothing is licensed (open-source platforms); ``per_mailbox``: every user
    mailbox needs a licence, usually with a minimum bought at once; ``per_seat``: seats
    (or subscriptions) are bought and assigned, the platform counts those in use;
    ``cals``: client access licences bought outside the platform, which cannot report them.
    """

    NONE = "none"
    PER_MAILBOX = "per_mailbox"
    PER_SEAT = "per_seat"
    CALS = "cals"


class LicenceModel(BaseModel):
    """A provider's declared licence model: ``kind`` (see :class:`LicenceKind`) and, for
    ``per_mailbox``, the fewest mailboxes a licence covers (``minimum``, e.g. ``10``).

    ``LicenceModel(kind="per_mailbox", minimum=10)``; ``LicenceModel(kind="none")``.
    The business rules read it (a per-mailbox licence bounds mailbox creation), never the
    platform's name. With ``none``, ``get_licence`` need not be written: the base answers
    an unlimited licence in state ``none``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: LicenceKind = LicenceKind.PER_SEAT
    minimum: int | None = Field(default=None, ge=0)
    #: The mailbox kinds the licence counts (``user``; Zextras counts shared mailboxes,
    #: accounts like any other, too).
    counted_kinds: tuple[str, ...] = ("user",)

    @model_validator(mode="after")
    def _minimum_is_per_mailbox(self) -> LicenceModel:
        if self.minimum is not None and self.kind is not LicenceKind.PER_MAILBOX:
            raise ValueError("only a per_mailbox licence model has a minimum")
        return self

    @property
    def per_mailbox(self) -> bool:
        """True when every user mailbox needs a licence."""
        return self.kind is LicenceKind.PER_MAILBOX


class Feature(NamedTuple):
    """One row of the capability matrix.

    ``key``: ``"list_mailboxes"``, ``"create_mailbox:room"`` or ``"addon:storage_gb"``;
    ``supported``: whether the provider declares it; ``reason``: why not, when not.
    """

    key: str
    supported: bool
    reason: str = ""


class Capabilities(BaseModel):
    """What a provider supports beyond the required operations.

    Example::

        Capabilities(
            operations={Operation.LIST_MAILBOXES, Operation.CREATE_MAILBOX},
            mailbox_kinds={MailboxKind.USER, MailboxKind.SHARED},
            addons={"mailboxes", "storage_gb"},
            unsupported={
                "delete_mailbox": "accounts are removed by the hosting panel",
                "create_mailbox:room": "the platform has no resource mailboxes",
                ...
            },
            licence=LicenceModel(kind="per_seat"),
        )

    ``licence``: how the platform is licensed (default ``per_seat``; see
    :class:`LicenceModel`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    operations: frozenset[Operation] = frozenset()
    mailbox_kinds: frozenset[MailboxKind] = frozenset({MailboxKind.USER})
    addons: frozenset[str] = frozenset()
    unsupported: dict[str, str] = Field(default_factory=dict)
    licence: LicenceModel = LicenceModel()

    @model_validator(mode="after")
    def _every_gap_has_a_reason(self) -> Capabilities:
        missing = [f.key for f in self._rows() if not f.supported and not f.reason]
        if missing:
            raise ValueError(
                "unsupported features need a reason in 'unsupported': " + ", ".join(missing)
            )
        stray = [key for key in self.unsupported if key in self._supported_keys()]
        if stray:
            raise ValueError("features both supported and unsupported: " + ", ".join(stray))
        return self

    def _supported_keys(self) -> frozenset[str]:
        return _supported_keys(self.operations, self.mailbox_kinds, self.addons)

    def _rows(self) -> list[Feature]:
        supported = self._supported_keys()
        rows = []
        for key in _feature_keys(self.addons):
            if key in supported:
                rows.append(Feature(key, True))
            else:
                # A kind-scoped gap inherits the reason of its whole operation.
                reason = self.unsupported.get(key) or self.unsupported.get(key.split(":")[0], "")
                if not reason and key in ADDED_LATER:
                    reason = NOT_DECLARED
                rows.append(Feature(key, False, reason))
        return rows

    def features(self) -> list[Feature]:
        """Every feature, supported or not, in matrix order."""
        return self._rows()

    def supports(self, key: str | Operation) -> bool:
        """True when the feature key (or operation) is declared supported."""
        return str(key) in self._supported_keys()

    def narrowed(self, keys: Iterable[str | Operation], reason: str) -> Capabilities:
        """A copy without these features, each unsupported with ``reason``.

        Keys are operations (``"list_mailboxes"``), add-ons (``"addon:storage_gb"``) or
        mailbox kinds of ``create_mailbox``/``delete_mailbox`` (``"create_mailbox:room"``;
        a kind goes from both, as kinds are declared once). For ``capabilities_for``::

            cls.capabilities.narrowed(["addon:mailboxes"], "a context admin sets no limits")
        """
        if not reason:
            raise ValueError("a narrowed feature needs a reason")
        # Cached: providers narrow in ``capabilities_for``, once per new instance, always
        # the same way; the result is frozen, so one copy serves every instance.
        return _narrow(
            self.operations,
            self.mailbox_kinds,
            self.addons,
            tuple(self.unsupported.items()),
            tuple(map(str, keys)),
            reason,
            self.licence,
        )

    def reason(self, key: str | Operation) -> str:
        """Why a feature is unsupported ("" when it is supported)."""
        for row in self._rows():
            if row.key == str(key):
                return row.reason
        return self.unsupported.get(str(key), "not declared by this provider")


# Both are asked for many times per provider instance (every ``supports`` and every
# capability check at construction) with the same few declarations; the arguments are
# frozensets of a frozen model, so a result can never go stale.
@lru_cache(maxsize=256)
def _supported_keys(
    operations: frozenset[Operation], kinds: frozenset[MailboxKind], addons: frozenset[str]
) -> frozenset[str]:
    """Every feature key these declarations support."""
    keys = {op.value for op in REQUIRED | operations}
    for op in _KIND_SCOPED:
        if op in operations:
            keys |= {f"{op.value}:{kind.value}" for kind in kinds}
    keys |= {f"addon:{name}" for name in addons}
    return frozenset(keys)


@lru_cache(maxsize=256)
def _feature_keys(addons: frozenset[str]) -> tuple[str, ...]:
    """Every feature key of the matrix, in matrix order, for a provider with ``addons``."""
    keys = [op.value for op in Operation]
    for op in _KIND_SCOPED:
        keys += [f"{op.value}:{kind.value}" for kind in MailboxKind]
    keys += [f"addon:{name}" for name in sorted(set(KNOWN_ADDONS) | addons)]
    return tuple(keys)


@lru_cache(maxsize=64)
def _narrow(
    operations: frozenset[Operation],
    kinds: frozenset[MailboxKind],
    addons: frozenset[str],
    unsupported: tuple[tuple[str, str], ...],
    keys: tuple[str, ...],
    reason: str,
    licence: LicenceModel,
) -> Capabilities:
    """:meth:`Capabilities.narrowed` of the declarations given."""
    left_ops, left_kinds, left_addons = set(operations), set(kinds), set(addons)
    gaps: dict[str, str] = {}
    for key in keys:
        head, _, tail = key.partition(":")
        if head == "addon" and tail:
            left_addons.discard(tail)
            gaps[key] = reason
        elif head in _KIND_SCOPED_NAMES and tail:
            left_kinds.discard(MailboxKind(tail))
            gaps |= {f"{op.value}:{tail}": reason for op in _KIND_SCOPED}
        elif head in _OPTIONAL_NAMES and not tail:
            left_ops.discard(Operation(head))
            gaps[key] = reason
        else:
            raise ValueError(f"{key!r} is not an optional feature that can be narrowed")
    return Capabilities(
        operations=frozenset(left_ops),
        mailbox_kinds=frozenset(left_kinds),
        addons=frozenset(left_addons),
        unsupported={**dict(unsupported), **gaps},
        licence=licence,
    )

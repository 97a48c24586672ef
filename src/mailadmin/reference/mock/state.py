"""The memory platform's data and business rules (no HTTP here).

Default state (what a fresh server holds, documented for every client):

- admin ``admin`` / ``secret`` (HTTP Basic), platform version ``1.0``;
- plans ``basic`` (2048 MB: mail, webmail), ``standard`` (5120 MB: + mobile_sync) and
  ``premium`` (10240 MB: + shared_calendars, files);
- a licence of 50 seats, active, valid 2026-01-01 to 2036-01-01;
- tenant ``example.com`` with allocations ``user_seats`` 10, ``shared_mailboxes`` 2,
  ``resource_mailboxes`` 2, ``extra_storage_gb`` 0 and mailboxes ``anna@`` (basic),
  ``ben@`` (standard), ``carla@`` (premium), ``info@`` (shared) and ``room-1@`` (room);
- plan changes answer at once (``asynchronous`` is empty); lists page by 100.

Allocations are absolute limits a tenant has bought: ``user_seats`` (user mailboxes),
``user_seats:<plan>`` (user mailboxes on one plan), ``shared_mailboxes``,
``resource_mailboxes`` (rooms and equipment together) and ``extra_storage_gb``. An absent
allocation is unlimited, except ``shared_mailboxes`` and ``resource_mailboxes`` which
default to 0: those mailboxes must be bought. Licence seats may be over-used (the licence
reports it); allocations may not.

Seed format (JSON or TOML; the shape ``snapshot()`` returns, every key optional; a key
given replaces that part of the defaults)::

    {
      "admin": {"username": "admin", "password": "secret"},
      "version": "1.0",
      "plans": [{"name": "basic", "description": "...", "quota_mb": 2048,
                 "features": ["mail"]}],
      "licence": {"seats": 50, "state": "active",
                  "valid_from": "2026-01-01T00:00:00Z", "valid_until": null},
      "tenants": {"example.com": {
          "allocations": {"user_seats": 10, "user_seats:premium": 2, "shared_mailboxes": 1},
          "mailboxes": [{"address": "anna@example.com", "kind": "user", "plan": "basic",
                         "quota_mb": 2048, "display_name": "Anna"}]}},
      "asynchronous": ["set_plan"],
      "page_size": 100
    }
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mailadmin.mock import MockState, OperationFailed, SeedError

__all__ = ["Mailbox", "MemoryState", "Plan", "Refused", "Tenant"]

Kind = Literal["user", "shared", "room", "equipment"]
#: Allocation names that limit mailbox creation by kind; rooms and equipment share one.
_KIND_ALLOCATION = {"shared": "shared_mailboxes", "room": "resource_mailboxes"}
_KIND_ALLOCATION["equipment"] = "resource_mailboxes"
_BOUGHT_ONLY = frozenset(_KIND_ALLOCATION.values())


class Refused(Exception):
    """A rule refused the request: ``code`` for machines, ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Plan(_Record):
    """One plan of the catalogue."""

    name: str
    description: str = ""
    quota_mb: int = Field(ge=0)
    features: list[str] = Field(default_factory=list)


#: Whether a mailbox or tenant may be used.
Status = Literal["active", "suspended"]
#: The shortest password the platform accepts.
MIN_PASSWORD = 6


class Mailbox(_Record):
    """One mailbox. ``plan`` is set for user mailboxes only."""

    address: str
    kind: Kind = "user"
    plan: str | None = None
    quota_mb: int | None = Field(default=None, ge=0)
    display_name: str = ""
    #: ``suspended``: the mailbox refuses every sign-in; nothing of it is deleted.
    status: Status = "active"
    #: The password set last ("" when none was given); never in an API answer.
    password: str = ""
    #: Where mail is forwarded to ("" for nowhere); a copy stays in the mailbox.
    forwarding: str = ""
    #: Other addresses the mailbox receives mail at (lower case).
    aliases: list[str] = Field(default_factory=list)

    @field_validator("address")
    @classmethod
    def _lower(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("must be a mail address")
        return value.strip().lower()


class Tenant(_Record):
    """One tenant (a mail domain): its allocations and mailboxes."""

    allocations: dict[str, int] = Field(default_factory=dict)
    mailboxes: list[Mailbox] = Field(default_factory=list)
    #: ``suspended``: every mailbox of the tenant refuses sign-in, whatever its own status.
    status: Status = "active"


class Licence(_Record):
    """The platform licence."""

    seats: int | None = Field(default=None, ge=0)
    state: Literal["active", "trial", "grace", "expired"] = "active"
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    maintenance_until: datetime | None = None


class Admin(_Record):
    """The administrator account the API accepts."""

    username: str
    password: str


class _Seed(_Record):
    admin: Admin | None = None
    version: str | None = None
    plans: list[Plan] | None = None
    licence: Licence | None = None
    tenants: dict[str, Tenant] | None = None
    asynchronous: list[Literal["set_plan"]] | None = None
    page_size: int | None = Field(default=None, ge=1)
    operations: list[Any] | None = None  # in snapshots; read-only, ignored when seeding


_DEFAULT = _Seed(
    admin=Admin(username="admin", password="secret"),
    version="1.0",
    plans=[
        Plan(
            name="basic",
            description="Mail and webmail",
            quota_mb=2048,
            features=["mail", "webmail"],
        ),
        Plan(
            name="standard",
            description="Basic plus mobile sync",
            quota_mb=5120,
            features=["mail", "webmail", "mobile_sync"],
        ),
        Plan(
            name="premium",
            description="Standard plus shared calendars and files",
            quota_mb=10240,
            features=["mail", "webmail", "mobile_sync", "shared_calendars", "files"],
        ),
    ],
    licence=Licence(
        seats=50,
        valid_from=datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
        valid_until=datetime.fromisoformat("2036-01-01T00:00:00+00:00"),
    ),
    tenants={
        "example.com": Tenant(
            allocations={
                "user_seats": 10,
                "shared_mailboxes": 2,
                "resource_mailboxes": 2,
                "extra_storage_gb": 0,
            },
            mailboxes=[
                Mailbox(
                    address="anna@example.com", plan="basic", quota_mb=2048, display_name="Anna"
                ),
                Mailbox(
                    address="ben@example.com", plan="standard", quota_mb=5120, display_name="Ben"
                ),
                Mailbox(
                    address="carla@example.com",
                    plan="premium",
                    quota_mb=10240,
                    display_name="Carla",
                ),
                Mailbox(
                    address="info@example.com", kind="shared", quota_mb=2048, display_name="Info"
                ),
                Mailbox(address="room-1@example.com", kind="room", display_name="Room 1"),
            ],
        )
    },
    asynchronous=[],
    page_size=100,
)


class MemoryState(MockState):
    """Tenants, mailboxes, allocations, plans and the licence of one memory platform."""

    admin: Admin
    version: str
    plans: dict[str, Plan]
    licence: Licence
    tenants: dict[str, Tenant]
    asynchronous: set[str]
    page_size: int

    def reset(self) -> None:
        """Back to the documented defaults."""
        super().reset()
        self._apply(_DEFAULT.model_copy(deep=True))

    def load_seed(self, data: Mapping[str, Any]) -> None:
        """Replace the parts of the state the seed names (see the module docs)."""
        try:
            seed = _Seed.model_validate(dict(data))
        except pydantic.ValidationError as exc:
            raise SeedError(
                "invalid seed: "
                + "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                )
            ) from None
        _check_seed(
            seed.plans if seed.plans is not None else list(self.plans.values()),
            seed.tenants if seed.tenants is not None else self.tenants,
        )
        self._apply(seed)

    def snapshot(self) -> dict[str, Any]:
        """The whole state in the seed format, plus the asynchronous operations."""
        snapshot = _Seed(
            admin=self.admin,
            version=self.version,
            plans=list(self.plans.values()),
            licence=self.licence,
            tenants=self.tenants,
            asynchronous=sorted(self.asynchronous),
            page_size=self.page_size,
            operations=self.operations.snapshot(),
        )
        return snapshot.model_dump(mode="json")

    # -- reads ------------------------------------------------------------------------------

    def authorised(self, username: str, password: str) -> bool:
        """True for the administrator's credentials."""
        return (username, password) == (self.admin.username, self.admin.password)

    def tenant(self, name: str) -> Tenant:
        """A tenant, or ``Refused("tenant_not_found")``."""
        tenant = self.tenants.get(name.lower())
        if tenant is None:
            raise Refused("tenant_not_found", f"No tenant '{name}'")
        return tenant

    def mailbox(self, tenant: str, address: str) -> Mailbox:
        """A mailbox, or ``Refused("mailbox_not_found")``."""
        for mailbox in self.tenant(tenant).mailboxes:
            if mailbox.address == address.lower():
                return mailbox
        raise Refused("mailbox_not_found", f"No mailbox '{address}' in tenant '{tenant}'")

    def allocations(self, tenant: str) -> dict[str, int]:
        """The allocations in force, with the bought-only ones at 0 when never bought."""
        return {**dict.fromkeys(sorted(_BOUGHT_ONLY), 0), **self.tenant(tenant).allocations}

    def usage(self, tenant: str) -> dict[str, int]:
        """How much of each allocation the tenant uses now."""
        used: dict[str, int] = {
            "user_seats": 0,
            "shared_mailboxes": 0,
            "resource_mailboxes": 0,
            "extra_storage_gb": 0,
        }
        for mailbox in self.tenant(tenant).mailboxes:
            if mailbox.kind == "user":
                used["user_seats"] += 1
                key = f"user_seats:{mailbox.plan}"
                used[key] = used.get(key, 0) + 1
            else:
                used[_KIND_ALLOCATION[mailbox.kind]] += 1
        return used

    def seats_used(self) -> int:
        """User mailboxes on the whole platform (what the licence counts)."""
        return sum(1 for t in self.tenants.values() for m in t.mailboxes if m.kind == "user")

    # -- rules ------------------------------------------------------------------------------

    def create_mailbox(
        self, tenant: str, mailbox: Mailbox, *, password: str | None = None
    ) -> Mailbox:
        """Add a mailbox within the tenant's allocations; user mailboxes get a plan; a
        password given must be :data:`MIN_PASSWORD` long."""
        if password is not None and len(password) < MIN_PASSWORD:
            raise Refused(
                "password_too_short", f"The password must have at least {MIN_PASSWORD} characters"
            )
        record = mailbox.model_copy(update={"address": mailbox.address.lower()})
        record.password = password or ""
        if not record.address.endswith("@" + tenant.lower()):
            raise Refused("invalid_request", f"'{record.address}' is not in tenant '{tenant}'")
        owner = self.tenant(tenant)
        if any(m.address == record.address for m in owner.mailboxes):
            raise Refused("mailbox_exists", f"'{record.address}' already exists")
        if record.kind == "user":
            plan = self.plan(record.plan or "basic")
            record.plan = plan.name
            record.quota_mb = record.quota_mb if record.quota_mb is not None else plan.quota_mb
            self._require(tenant, "user_seats", 1)
            self._require(tenant, f"user_seats:{plan.name}", 1)
        else:
            if record.plan is not None:
                raise Refused("invalid_request", "Only user mailboxes have a plan")
            self._require(tenant, _KIND_ALLOCATION[record.kind], 1)
        owner.mailboxes.append(record)
        return record

    def delete_mailbox(self, tenant: str, address: str) -> Mailbox:
        """Remove a mailbox and return it."""
        mailbox = self.mailbox(tenant, address)
        self.tenant(tenant).mailboxes.remove(mailbox)
        return mailbox

    def set_password(self, tenant: str, address: str, password: str) -> None:
        """Replace a mailbox's password; shorter than :data:`MIN_PASSWORD` is refused."""
        mailbox = self.mailbox(tenant, address)
        if len(password) < MIN_PASSWORD:
            raise Refused(
                "password_too_short", f"The password must have at least {MIN_PASSWORD} characters"
            )
        mailbox.password = password

    def change_settings(self, tenant: str, address: str, changes: dict[str, Any]) -> Mailbox:
        """Replace the settings given (``display_name``, ``forwarding``, ``quota_mb``,
        ``aliases``); an alias another mailbox holds as address or alias is refused
        whole, before anything changes."""
        mailbox = self.mailbox(tenant, address)
        aliases = changes.get("aliases")
        if aliases is not None:
            taken = {
                a
                for t in self.tenants.values()
                for m in t.mailboxes
                if m is not mailbox
                for a in (m.address, *m.aliases)
            }
            clash = sorted({str(a).lower() for a in aliases} & taken)
            if clash:
                raise Refused("address_in_use", f"The address '{clash[0]}' is in use")
        updated = Mailbox.model_validate({**mailbox.model_dump(), **changes})
        updated.aliases = sorted({a.lower() for a in updated.aliases})
        for name in ("display_name", "forwarding", "quota_mb", "aliases"):
            setattr(mailbox, name, getattr(updated, name))
        return mailbox

    def set_mailbox_status(self, tenant: str, address: str, status: Status) -> tuple[str, str]:
        """Suspend or resume one mailbox; returns its status before and after."""
        mailbox = self.mailbox(tenant, address)
        before, mailbox.status = mailbox.status, status
        return before, status

    def create_tenant(self, name: str, allocations: Mapping[str, int]) -> Tenant:
        """A new tenant with ``allocations``; ``Refused("tenant_exists")`` when it is."""
        key = name.strip().lower()
        if not key or "@" in key or "/" in key:
            raise Refused("invalid_request", f"'{name}' is not a tenant name")
        if key in self.tenants:
            raise Refused("tenant_exists", f"Tenant '{key}' already exists")
        for allocation, quantity in allocations.items():
            known = allocation in ("user_seats", "extra_storage_gb") or allocation in _BOUGHT_ONLY
            if not known or quantity < 0:
                raise Refused("unknown_allocation", f"No allocation '{allocation}'")
        tenant = Tenant(allocations=dict(allocations))
        self.tenants[key] = tenant
        return tenant

    def delete_tenant(self, name: str) -> None:
        """Remove a tenant without mailboxes (``Refused("tenant_not_empty")`` otherwise)."""
        tenant = self.tenant(name)
        if tenant.mailboxes:
            raise Refused(
                "tenant_not_empty", f"Tenant '{name}' still has {len(tenant.mailboxes)} mailboxes"
            )
        del self.tenants[name.lower()]

    def set_tenant_status(self, tenant: str, status: Status) -> tuple[str, str]:
        """Suspend or resume a whole tenant; returns its status before and after."""
        owner = self.tenant(tenant)
        before, owner.status = owner.status, status
        return before, status

    def plan(self, name: str) -> Plan:
        """A plan of the catalogue, or ``Refused("unknown_plan")``."""
        plan = self.plans.get(name)
        if plan is None:
            raise Refused("unknown_plan", f"No plan '{name}'")
        return plan

    def check_plan_change(self, tenant: str, address: str, plan: str) -> Mailbox:
        """Refuse a plan change the rules forbid; return the mailbox as it is."""
        mailbox = self.mailbox(tenant, address)
        target = self.plan(plan)
        if mailbox.kind != "user":
            raise Refused("not_a_user_mailbox", f"'{address}' is a {mailbox.kind} mailbox")
        if mailbox.plan != target.name:
            self._require(tenant, f"user_seats:{target.name}", 1)
        return mailbox

    def change_plan(
        self, tenant: str, address: str, plan: str, quota_mb: int | None = None
    ) -> tuple[Mailbox, Mailbox]:
        """Put a user mailbox on ``plan`` (with the plan's quota unless given);
        returns the mailbox before and after."""
        mailbox = self.check_plan_change(tenant, address, plan)
        before = mailbox.model_copy()
        mailbox.plan = plan
        mailbox.quota_mb = quota_mb if quota_mb is not None else self.plan(plan).quota_mb
        return before, mailbox.model_copy()

    def change_plan_later(
        self, tenant: str, address: str, plan: str, quota_mb: int | None = None
    ) -> str:
        """Accept a plan change to finish as an asynchronous operation; returns its id.

        While a change of the mailbox is still running, asking again answers with it.
        """
        self.check_plan_change(tenant, address, plan)
        for running in self.operations:
            if running.kind == "set_plan" and running.subject == address and not running.done:
                return running.id

        def finish() -> dict[str, Any]:
            try:
                before, after = self.change_plan(tenant, address, plan, quota_mb)
            except Refused as exc:
                raise OperationFailed(exc.message) from None
            return {"before": _plan_of(before), "after": _plan_of(after)}

        return self.operations.start("set_plan", address, apply=finish).id

    def set_allocation(self, tenant: str, name: str, quantity: int) -> tuple[int | None, int]:
        """Set an allocation to an absolute quantity; returns (before, after).

        Refused below what the tenant already uses.
        """
        owner = self.tenant(tenant)
        valid = name in ("user_seats", "extra_storage_gb") or name in _BOUGHT_ONLY
        if name.startswith("user_seats:"):
            valid = self.plan(name.partition(":")[2]) is not None
        if not valid:
            raise Refused("unknown_allocation", f"No allocation '{name}'")
        in_use = self.usage(tenant).get(name, 0)
        if quantity < in_use:
            raise Refused(
                "allocation_below_usage",
                f"'{name}' cannot go below the {in_use} in use (asked for {quantity})",
            )
        before = self.allocations(tenant).get(name)
        owner.allocations[name] = quantity
        return before, quantity

    def _require(self, tenant: str, allocation: str, more: int) -> None:
        limit = self.allocations(tenant).get(allocation)
        used = self.usage(tenant).get(allocation, 0)
        if limit is not None and used + more > limit:
            raise Refused(
                "allocation_exceeded",
                f"The tenant's '{allocation}' allocation is used up ({used} of {limit})",
            )

    def _apply(self, seed: _Seed) -> None:
        if seed.admin is not None:
            self.admin = seed.admin
        if seed.version is not None:
            self.version = seed.version
        if seed.plans is not None:
            self.plans = {plan.name: plan for plan in seed.plans}
        if seed.licence is not None:
            self.licence = seed.licence
        if seed.tenants is not None:
            self.tenants = {name.lower(): tenant for name, tenant in seed.tenants.items()}
        if seed.asynchronous is not None:
            self.asynchronous = set(seed.asynchronous)
        if seed.page_size is not None:
            self.page_size = seed.page_size


def _check_seed(plans: list[Plan], tenants: Mapping[str, Tenant]) -> None:
    names = {plan.name for plan in plans}
    for tenant_name, tenant in tenants.items():
        for mailbox in tenant.mailboxes:
            where = f"tenants.{tenant_name}: {mailbox.address}"
            if not mailbox.address.endswith("@" + tenant_name.lower()):
                raise SeedError(f"invalid seed: {where} is not in the tenant's domain")
            if mailbox.kind == "user" and mailbox.plan not in names:
                raise SeedError(f"invalid seed: {where} needs a plan of the catalogue")
            if mailbox.kind != "user" and mailbox.plan is not None:
                raise SeedError(f"invalid seed: {where} is not a user mailbox and has no plan")


def _plan_of(mailbox: Mailbox) -> dict[str, Any]:
    return {"plan": mailbox.plan, "quota_mb": mailbox.quota_mb}

"""The Mailcow platform's data and business rules (no HTTP here).

Default state, documented for every client of the mock:

- admin ``admin`` / ``secret`` (HTTP Basic), platform version ``1.0``;
- plans ``basic`` (2048 MB), ``standard`` (5120 MB) and ``premium`` (10240 MB);
- a licence of 50 seats; every user mailbox uses one;
- domain ``example.com`` with limits ``max_accounts`` 10 and ``storage_gb`` 0 and the
  accounts ``anna@`` (basic), ``ben@`` (standard) and ``info@`` (shared).

Seed format (JSON or TOML; the shape ``snapshot()`` returns; a key given replaces that
part of the defaults)::

    {"licence": {"seats": 2},
     "domains": {"example.com": {"limits": {"max_accounts": 10},
                                 "accounts": [{"address": "anna@example.com",
                                               "kind": "user", "plan": "basic"}]}}}
"""

from __future__ import annotations

from typing import Any, Literal

from mailadmin.mock import ModelState
from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["MailcowData", "MailcowRefused", "MailcowState"]

Kind = Literal["user", "shared"]


class _Strict(BaseModel):
    # A seed naming a field the platform does not have is a mistake worth reporting.
    model_config = ConfigDict(extra="forbid")


class Admin(_Strict):
    username: str = "admin"
    password: str = "secret"


class Plan(_Strict):
    name: str
    description: str = ""
    quota_mb: int | None = None


class Account(_Strict):
    address: str
    kind: Kind = "user"
    plan: str | None = None
    display_name: str = ""

    @field_validator("address")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if "@" not in value:
            raise ValueError("must be an e-mail address")
        return value.lower()


class Domain(_Strict):
    limits: dict[str, int] = Field(default_factory=dict)
    accounts: list[Account] = Field(default_factory=list)


class Licence(_Strict):
    seats: int | None = None


def _plans() -> list[Plan]:
    return [
        Plan(name="basic", description="Mail and webmail", quota_mb=2048),
        Plan(name="standard", description="Basic plus mobile sync", quota_mb=5120),
        Plan(name="premium", description="Standard plus sharing", quota_mb=10240),
    ]


def _domains() -> dict[str, Domain]:
    accounts = [
        Account(address="anna@example.com", plan="basic"),
        Account(address="ben@example.com", plan="standard"),
        Account(address="info@example.com", kind="shared"),
    ]
    limits = {"max_accounts": 10, "storage_gb": 0}
    return {"example.com": Domain(limits=limits, accounts=accounts)}


class MailcowData(_Strict):
    """Everything the mock holds; ``snapshot()`` dumps it and a seed has its shape."""

    admin: Admin = Field(default_factory=Admin)
    version: str = "1.0"
    plans: list[Plan] = Field(default_factory=_plans)
    licence: Licence = Field(default_factory=lambda: Licence(seats=50))
    domains: dict[str, Domain] = Field(default_factory=_domains)


class MailcowRefused(Exception):
    """A rule refused the request: ``status`` and ``code`` for the wire, ``message`` for
    people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class MailcowState(ModelState[MailcowData]):
    """Plans, licence and domains with their limits and accounts. Defaults, seeds
    (validated, a :class:`~mailadmin.mock.SeedError` naming the field) and snapshots come
    from :class:`~mailadmin.mock.ModelState`."""

    model = MailcowData

    # -- rules ------------------------------------------------------------------------------

    def authorised(self, username: str, password: str) -> bool:
        """True for the admin's credentials."""
        admin = self.data.admin
        return username == admin.username and password == admin.password

    def domain(self, name: str) -> Domain:
        """A domain, or 404 ``domain_not_found``."""
        try:
            return self.data.domains[name.lower()]
        except KeyError:
            raise MailcowRefused(404, "domain_not_found", f"No domain '{name}'") from None

    def account(self, domain: str, address: str) -> Account:
        """An account, or 404 ``account_not_found``."""
        for account in self.domain(domain).accounts:
            if account.address == address.lower():
                return account
        raise MailcowRefused(404, "account_not_found", f"No account '{address}'")

    def plan_names(self) -> list[str]:
        """The names of the plan catalogue."""
        return [plan.name for plan in self.data.plans]

    def change_plan(self, domain: str, address: str, plan: str) -> Account:
        """Put a user account on a plan of the catalogue."""
        account = self.account(domain, address)
        if plan not in self.plan_names():
            raise MailcowRefused(400, "unknown_plan", f"No plan '{plan}'")
        if account.kind != "user":
            raise MailcowRefused(409, "not_a_user", f"'{address}' has no plan")
        account.plan = plan
        return account

    def create_account(self, domain: str, account: dict[str, Any]) -> Account:
        """Add an account within the domain's ``max_accounts`` limit."""
        record = self.domain(domain)
        address = str(account.get("address", "")).lower()
        kind = account.get("kind")
        if not address.endswith("@" + domain.lower()) or kind not in ("user", "shared"):
            raise MailcowRefused(400, "invalid_request", "Give an address and a kind")
        if any(a.address == address for a in record.accounts):
            raise MailcowRefused(409, "account_exists", f"'{address}' already exists")
        limit = record.limits.get("max_accounts")
        if limit is not None and len(record.accounts) >= limit:
            raise MailcowRefused(409, "limit_reached", f"{limit} accounts at most")
        plan = account.get("plan") if kind == "user" else None
        if kind == "user" and plan not in self.plan_names():
            raise MailcowRefused(400, "unknown_plan", f"No plan '{plan}'")
        created = Account(
            address=address,
            kind=kind,
            plan=plan,
            display_name=str(account.get("display_name") or ""),
        )
        record.accounts.append(created)
        return created

    def delete_account(self, domain: str, address: str) -> None:
        """Remove an account."""
        account = self.account(domain, address)
        self.domain(domain).accounts.remove(account)

    def set_limit(self, domain: str, name: str, value: int) -> int | None:
        """Set a domain limit; returns the old value. ``max_accounts`` cannot go below use."""
        record = self.domain(domain)
        if name not in ("max_accounts", "storage_gb"):
            raise MailcowRefused(404, "unknown_limit", f"No limit '{name}'")
        if name == "max_accounts" and value < len(record.accounts):
            raise MailcowRefused(409, "below_usage", "Below the accounts in use")
        before = record.limits.get(name)
        record.limits[name] = value
        return before

    def seats_used(self) -> int:
        """User accounts across every domain (each uses one licence seat)."""
        return sum(
            1
            for domain in self.data.domains.values()
            for account in domain.accounts
            if account.kind == "user"
        )

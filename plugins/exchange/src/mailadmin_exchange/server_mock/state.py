"""The Exchange Server mock's state: the organisation's data and the open shells.

Defaults (``reset``): organisation ``contoso.local`` with the administrator
``admin@contoso.local`` / ``Passw0rd!``; tenants ``fabrikam`` (OU
``contoso.local/Hosting/Fabrikam``, domain ``fabrikam.com``, policy ``Fabrikam ABP``:
users ``anna`` and ``ben`` (Enterprise CAL features), shared ``info``, room
``boardroom``, equipment ``projector``) and ``tailspin`` (``tailspintoys.com``: user
``tom``, shared ``sales``). Quotas are unlimited and the database's defaults apply, as on
a fresh Exchange server.

Shells are not data: a reset closes them. ``shells_opened`` counts every Create since.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mailadmin.mock import ModelState
from mailadmin_exchange.mock.state import new_mailbox
from mailadmin_exchange.server_mock.model import (
    ORGANIZATION,
    AcceptedDomain,
    OnPremData,
    OnPremMailbox,
    OnPremTenant,
)
from mailadmin_exchange.server_mock.psrp import Shell

__all__ = ["ServerState", "onprem_mailbox"]

_KINDS = {"SharedMailbox", "RoomMailbox", "EquipmentMailbox"}


def onprem_mailbox(
    address: str, kind: str, tenant: OnPremTenant | None, **fields: Any
) -> OnPremMailbox:
    """A mailbox with Exchange Server's defaults: unlimited quotas, database defaults on."""
    base = new_mailbox(
        address,
        kind,
        quota=None,
        **{  # type: ignore[arg-type]
            k: v for k, v in fields.items() if k in ("display_name", "resource_capacity")
        },
    )
    mailbox = OnPremMailbox(
        **base.model_dump(),
        organizational_unit=tenant.organizational_unit if tenant else f"{ORGANIZATION}/Users",
        address_book_policy=tenant.address_book_policy if tenant else None,
    )
    mailbox.use_database_quota_defaults = True
    mailbox.usage_location = None
    mailbox.account_enabled = kind == "UserMailbox"
    for name, value in fields.items():
        if name not in ("display_name", "resource_capacity"):
            setattr(mailbox, name, value)
    return mailbox


def _default_data() -> OnPremData:
    fabrikam = OnPremTenant(
        name="fabrikam",
        organizational_unit=f"{ORGANIZATION}/Hosting/Fabrikam",
        domains=["fabrikam.com"],
        address_book_policy="Fabrikam ABP",
    )
    tailspin = OnPremTenant(
        name="tailspin",
        organizational_unit=f"{ORGANIZATION}/Hosting/Tailspin",
        domains=["tailspintoys.com"],
        address_book_policy="Tailspin ABP",
    )
    mb = 1 << 20
    boxes = [
        onprem_mailbox(
            "anna@fabrikam.com",
            "UserMailbox",
            fabrikam,
            display_name="Anna Andersen",
            item_count=1200,
            total_item_size=350 * mb,
        ),
        onprem_mailbox(
            "ben@fabrikam.com",
            "UserMailbox",
            fabrikam,
            display_name="Ben Berg",
            enterprise_features=True,
            item_count=5400,
            total_item_size=2100 * mb,
        ),
        onprem_mailbox("info@fabrikam.com", "SharedMailbox", fabrikam, display_name="Info"),
        onprem_mailbox(
            "boardroom@fabrikam.com",
            "RoomMailbox",
            fabrikam,
            display_name="Boardroom",
            resource_capacity=12,
        ),
        onprem_mailbox(
            "projector@fabrikam.com", "EquipmentMailbox", fabrikam, display_name="Projector"
        ),
        onprem_mailbox("tom@tailspintoys.com", "UserMailbox", tailspin, display_name="Tom Tailor"),
        onprem_mailbox("sales@tailspintoys.com", "SharedMailbox", tailspin, display_name="Sales"),
    ]
    return OnPremData(
        credentials={f"admin@{ORGANIZATION}": "Passw0rd!"},
        tenants={t.name: t for t in (fabrikam, tailspin)},
        accepted_domains=[
            AcceptedDomain(name=ORGANIZATION, domain_name=ORGANIZATION, default=True),
            AcceptedDomain(name="fabrikam.com", domain_name="fabrikam.com"),
            AcceptedDomain(name="tailspintoys.com", domain_name="tailspintoys.com"),
        ],
        mailboxes={m.address: m for m in boxes},
    )


class ServerState(ModelState[OnPremData]):
    """The organisation of one Exchange Server mock, and the shells open on it."""

    model = OnPremData

    def defaults(self) -> OnPremData:
        """The documented default organisation."""
        return _default_data()

    def reset(self) -> None:
        """Back to the defaults; every shell is closed."""
        super().reset()
        self.shells: dict[str, Shell] = {}
        #: Shells created since the last reset (Create requests that succeeded).
        self.shells_opened = 0
        #: Create requests refused by the concurrency limit.
        self.shells_throttled = 0

    def snapshot(self) -> dict[str, Any]:
        """The data plus the shell counters (``GET /_mock/state``)."""
        return {
            **super().snapshot(),
            "shells": {
                "opened": self.shells_opened,
                "open": len(self.shells),
                "throttled": self.shells_throttled,
            },
        }

    def load_seed(self, data: Any) -> None:
        """A snapshot loads back: its ``shells`` counters are not data."""
        super().load_seed({k: v for k, v in dict(data).items() if k != "shells"})

    # -- shells -----------------------------------------------------------------------------

    def open_shells(self, user: str) -> int:
        """How many shells ``user`` has open."""
        return sum(1 for shell in self.shells.values() if shell.user == user)

    def drop_shells(self) -> int:
        """Drop every open shell, as an IIS recycle does; returns how many went."""
        count = len(self.shells)
        self.shells.clear()
        return count

    # -- directory --------------------------------------------------------------------------

    def tenant_of_ou(self, ou: str) -> OnPremTenant | None:
        """The tenant whose OU is ``ou`` (canonical name or tenant name, any case)."""
        key = ou.strip().lower()
        for tenant in self.data.tenants.values():
            if key in (tenant.organizational_unit.lower(), tenant.name.lower()):
                return tenant
        return None

    def known_ou(self, ou: str) -> str | None:
        """The canonical OU name for ``ou``, or ``None`` when the directory has no such OU."""
        tenant = self.tenant_of_ou(ou)
        if tenant is not None:
            return tenant.organizational_unit
        if ou.strip().lower() == f"{ORGANIZATION}/users":
            return f"{ORGANIZATION}/Users"
        return None

    def find(self, identity: str) -> OnPremMailbox | None:
        """A mailbox by address, UPN, alias, name or Exchange GUID."""
        key = identity.strip().lower()
        found = self.data.mailboxes.get(key)
        if found is not None:
            return found
        for mailbox in self.data.mailboxes.values():
            if key in (
                mailbox.upn,
                mailbox.alias.lower(),
                mailbox.name.lower(),
                mailbox.exchange_guid,
                f"{mailbox.organizational_unit}/{mailbox.name}".lower(),
            ):
                return mailbox
        return None

    def mailboxes(self, ou: str | None = None) -> Iterator[OnPremMailbox]:
        """Every mailbox, or those in one OU."""
        for mailbox in list(self.data.mailboxes.values()):
            if ou is None or mailbox.organizational_unit.lower() == ou.lower():
                yield mailbox

    def is_resource(self, mailbox: OnPremMailbox) -> bool:
        """Shared and resource mailboxes need no CAL."""
        return mailbox.type in _KINDS

"""The Exchange part of ``mailadmin demo``: the sample configuration against the mock."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from typing import Any

from mailadmin.sdk import DemoScenario

__all__ = ["onprem_scenario", "sample_config", "scenario"]

_DOMAIN = "contoso.onmicrosoft.com"


def sample_config() -> dict[str, Any]:
    """The sample configuration shipped as ``mailadmin_exchange/sample.toml``, parsed."""
    text = files("mailadmin_exchange").joinpath("sample.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def scenario() -> DemoScenario:
    """Move Anna to Sync and Ben to Collaborate (quotas and client-access flags), give every
    user mailbox 5 GB of extra storage, and sell the tenant shared and resource mailboxes
    (allocations mailadmin keeps, as Exchange sets no such limit)."""
    config = sample_config()
    instance = {k: v for k, v in config["instances"]["exchange"].items() if k != "endpoint"}
    tenants = {
        name: {k: v for k, v in table.items() if k != "instance"}
        for name, table in config["tenants"].items()
    }
    return DemoScenario(
        instance=instance,
        tenants=tenants,
        upgrades=[(f"anna@{_DOMAIN}", "sync"), (f"ben@{_DOMAIN}", "collaborate")],
        addons=[
            (_DOMAIN, "storage_gb", 5),
            (_DOMAIN, "shared_mailbox", 3),
            (_DOMAIN, "resource_mailbox", 2),
        ],
    )


_ONPREM_OU = "contoso.local/Hosting/Fabrikam"


def onprem_scenario() -> DemoScenario:
    """An Exchange Server tenant (OU + accepted domain + address book policy) beside the
    others: Anna to Sync, Ben to Collaborate, 5 GB extra storage, three shared mailboxes
    sold; licences as CALs."""
    plans = sample_config()["instances"]["exchange"]["plans"]
    return DemoScenario(
        instance={
            "provider": "exchserver",
            "auth": "basic",
            "credentials": {"username": "admin@contoso.local", "secret": "Passw0rd!"},
            "plans": plans,
            "tenancy": {
                "fabrikam.com": {
                    "organizational_unit": _ONPREM_OU,
                    "address_book_policy": "Fabrikam ABP",
                }
            },
            "cals": {"standard": 25, "enterprise": 5},
        },
        tenants={"fabrikam.com": {"native_id": _ONPREM_OU, "domains": ["fabrikam.com"]}},
        upgrades=[("anna@fabrikam.com", "sync"), ("ben@fabrikam.com", "collaborate")],
        addons=[("fabrikam.com", "storage_gb", 5), ("fabrikam.com", "shared_mailbox", 3)],
    )

"""The Exchange part of ``mailadmin demo``: the sample configuration against the mock."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from typing import Any

from mailadmin.sdk import DemoScenario

__all__ = ["sample_config", "scenario"]

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

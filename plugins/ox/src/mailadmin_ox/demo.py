"""The OX part of ``mailadmin demo``: the sample configuration against the OX mock."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from typing import Any

from mailadmin.sdk import DemoScenario

__all__ = ["sample_config", "scenario"]


def sample_config() -> dict[str, Any]:
    """The sample configuration shipped as ``mailadmin_ox/sample.toml``, parsed."""
    text = files("mailadmin_ox").joinpath("sample.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def scenario() -> DemoScenario:
    """Upgrade Anna (Mail to Sync) and Ben (Sync to Collaborate) of ``example.com``, then
    set its seats, Collaborate seats and extra storage, and sell it shared mailboxes (an
    allocation the orchestrator keeps, as OX sets no such limit)."""
    config = sample_config()
    instance = {k: v for k, v in config["instances"]["ox"].items() if k != "endpoint"}
    tenants = {
        name: {k: v for k, v in table.items() if k != "instance"}
        for name, table in config["tenants"].items()
    }
    return DemoScenario(
        instance=instance,
        tenants=tenants,
        upgrades=[("anna@example.com", "sync"), ("ben@example.com", "collaborate")],
        addons=[
            ("example.com", "mailboxes", 15),
            ("example.com", "mailboxes:collaborate", 5),
            ("example.com", "storage_gb", 20),
            ("example.com", "shared_mailbox", 3),
        ],
    )

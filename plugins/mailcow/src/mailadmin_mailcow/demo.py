"""The mailcow part of ``mailadmin demo``: its own domain on the mailcow mock."""

from __future__ import annotations

from typing import Any

from mailadmin_mailcow.settings import DEFAULT_PLANS

__all__ = ["DEMO_DOMAIN", "scenario"]

#: The demo's domain (the other platforms' mocks use example.com, .net and .org).
DEMO_DOMAIN = "example.eu"
_KEY = "0A1B2C-3D4E5F-6A7B8C-9D0E1F-2A3B4C"


def demo_seed() -> dict[str, Any]:
    """The mock's start state for the demo: ``example.eu`` with three mailboxes."""

    def box(local: str, plan: str, name: str) -> dict[str, Any]:
        attrs = DEFAULT_PLANS[plan].attributes()
        return {
            "local_part": local,
            "domain": DEMO_DOMAIN,
            "name": name,
            "quota": int(attrs.pop("quota")),
            **{k: int(v) for k, v in attrs.items()},
        }

    return {
        "domains": {DEMO_DOMAIN: {"description": "Demo", "mailboxes": 10, "quota": 51200}},
        "mailboxes": {
            f"anna@{DEMO_DOMAIN}": box("anna", "mail", "Anna"),
            f"ben@{DEMO_DOMAIN}": box("ben", "sync", "Ben"),
            f"carla@{DEMO_DOMAIN}": box("carla", "collaborate", "Carla"),
        },
    }


def scenario() -> dict[str, Any]:
    """Upgrade Anna (Mail to Sync) and Ben (Sync to Collaborate), then raise the domain's
    mailbox limit and storage."""
    plans = {name: plan.model_dump(exclude_none=True) for name, plan in DEFAULT_PLANS.items()}
    return {
        "instance": {
            "provider": "mailcow",
            "credentials": {"username": "api", "secret": _KEY},
            "plans": plans,
        },
        "tenants": {DEMO_DOMAIN: {"domains": [DEMO_DOMAIN]}},
        "upgrades": [(f"anna@{DEMO_DOMAIN}", "sync"), (f"ben@{DEMO_DOMAIN}", "collaborate")],
        "addons": [(DEMO_DOMAIN, "mailboxes", 15), (DEMO_DOMAIN, "storage_gb", 60)],
        "seed": demo_seed(),
    }

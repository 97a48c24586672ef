"""The memory platform's part of ``mailadmin demo``."""

from __future__ import annotations

from mailadmin.demo import DemoScenario


def scenario() -> DemoScenario:
    """Upgrade two mailboxes of ``example.com`` and buy add-ons for it."""
    return DemoScenario(
        instance={
            "provider": "memory",
            "credentials": {"username": "admin", "secret": "secret"},
            "plans": {
                "mail": {"native": "basic", "quota_mb": 2048},
                "sync": {"native": "standard", "quota_mb": 5120},
                "collaborate": {"native": "premium", "quota_mb": 10240},
            },
        },
        tenants={"example.com": {"domains": ["example.com"]}},
        upgrades=[("anna@example.com", "sync"), ("ben@example.com", "collaborate")],
        addons=[
            ("example.com", "mailboxes", 15),
            ("example.com", "mailboxes:collaborate", 5),
            ("example.com", "shared_mailbox", 4),
            ("example.com", "storage_gb", 20),
        ],
    )

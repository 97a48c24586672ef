"""The memory platform's part of ``mailadmin demo``."""

from __future__ import annotations

from mailadmin.sdk import DemoScenario


def scenario() -> DemoScenario:
    """Upgrade two mailboxes of ``example.net`` and buy add-ons for it.

    The mock is seeded with ``example.net`` so that it sits beside the platform plugins'
    mocks, which all default to ``example.net``.
    """
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
        tenants={"example.net": {"domains": ["example.net"]}},
        upgrades=[("anna@example.net", "sync"), ("ben@example.net", "collaborate")],
        seed={
            "tenants": {
                "example.net": {
                    "allocations": {
                        "user_seats": 10,
                        "shared_mailboxes": 2,
                        "resource_mailboxes": 2,
                    },
                    "mailboxes": [
                        {"address": "anna@example.net", "kind": "user", "plan": "basic"},
                        {"address": "ben@example.net", "kind": "user", "plan": "standard"},
                        {"address": "carla@example.net", "kind": "user", "plan": "premium"},
                        {"address": "info@example.net", "kind": "shared"},
                        {"address": "room-1@example.net", "kind": "room"},
                    ],
                }
            }
        },
        addons=[
            ("example.net", "mailboxes", 15),
            ("example.net", "mailboxes:collaborate", 5),
            ("example.net", "shared_mailbox", 4),
            ("example.net", "storage_gb", 20),
        ],
    )

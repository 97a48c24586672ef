"""The Exchange provider passes the whole conformance kit against its mock, in process and
on loopback, with quota plans (Set-Mailbox + Set-CASMailbox) and with licence plans (Graph
assignLicense)."""

from __future__ import annotations

from typing import Any

import pytest
from mailadmin_exchange.demo import sample_config
from mailadmin_exchange.mock.model import DEFAULT_TENANT, DEFAULT_TENANT_ID, STANDARD

from mailadmin.testing import ConformanceTarget, suite

_LICENCE_PLANS = {
    "mail": {"sku": "EXCHANGESTANDARD", "description": "Exchange Online Plan 1"},
    "sync": {"sku": "EXCHANGEENTERPRISE", "description": "Exchange Online Plan 2"},
}
#: Plan 1 with one prepaid unit while anna and carla hold it: over-used.
_OVER_LICENCE = {
    "tenants": {
        DEFAULT_TENANT_ID: {
            "skus": [
                {
                    "sku_id": STANDARD,
                    "part_number": "EXCHANGESTANDARD",
                    "enabled": 1,
                    "mailbox_plan": "ExchangeOnline",
                    "mailbox_plan_guid": "0a0e7a3b-1f3c-4d8e-9a55-0d2b7f1c2e11",
                }
            ]
        }
    }
}


def _settings(mode: str) -> Any:
    sample = sample_config()["instances"]["exchange"]
    plans = sample["plans"] if mode == "quota" else _LICENCE_PLANS

    def settings(url: str) -> dict[str, Any]:
        return {
            "endpoint": url,
            "tenant": DEFAULT_TENANT,
            "tenant_id": DEFAULT_TENANT_ID,
            "credentials": {"username": "mock-client", "secret": "secret"},
            "plans": plans,
            "page_size": 2,  # small pages, so every listing follows next links
        }

    return settings


@pytest.fixture(params=["quota", "licence"])
def mailadmin_target(request: pytest.FixtureRequest) -> ConformanceTarget:
    return ConformanceTarget.registered(
        "exchange",
        settings=_settings(request.param),
        tenant=DEFAULT_TENANT,
        mailbox=f"anna@{DEFAULT_TENANT}",
        plans=("mail", "sync"),
        over_licence_seed=_OVER_LICENCE,
        addon_quantities=(4, 6),
    )


class TestConformance(suite.ConformanceSuite):
    pass

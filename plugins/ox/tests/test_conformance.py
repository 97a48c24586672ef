"""The OX provider passes the whole conformance kit against its mock, in process and on
loopback, signed in as a reseller and as the master admin."""

from __future__ import annotations

from typing import Any

import pytest
from mailadmin_ox.demo import sample_config

from mailadmin.testing import ConformanceTarget, suite

_LOGINS = {
    "reseller": {"username": "reseller", "secret": "secret"},
    "master_admin": {"username": "oxadminmaster", "secret": "secret"},
}


def _settings(mode: str) -> Any:
    plans = sample_config()["instances"]["ox"]["plans"]

    def settings(url: str) -> dict[str, Any]:
        return {
            "endpoint": url,
            "mode": mode,
            "credentials": _LOGINS[mode],
            "plans": plans,
            "storage_base_mb": 1024,
        }

    return settings


@pytest.fixture(params=sorted(_LOGINS))
def mailadmin_target(request: pytest.FixtureRequest) -> ConformanceTarget:
    over_licence = None
    if request.param == "reseller":
        # The sample reseller owns context 1 (four users); two seats put it over.
        over_licence = {
            "resellers": [
                {
                    "name": "reseller",
                    "password": "secret",
                    "restrictions": {"Subadmin.MaxOverallUser": "2"},
                }
            ]
        }
    return ConformanceTarget.registered(
        "ox",
        settings=_settings(request.param),
        tenant="example.com",
        mailbox="anna@example.com",
        plans=("mail", "sync"),
        over_licence_seed=over_licence,
    )


class TestConformance(suite.ConformanceSuite):
    pass

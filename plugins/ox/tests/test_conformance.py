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


async def test_concurrent_addons_of_one_context_all_land() -> None:
    """Every OX seat limit of a context is one restriction list, read, changed and written
    back whole: three add-ons applied at once must not overwrite each other."""
    from mailadmin_ox.mock.platform import OXMock

    from mailadmin import Orchestrator
    from mailadmin.mock import MockServer

    server = MockServer(OXMock)
    server.inject({"kind": "latency", "delay": 0.01})  # every call yields to the others
    config = sample_config()
    config["instances"]["ox"]["endpoint"] = OXMock.base_url
    config["journal"] = {"url": None}
    async with Orchestrator.from_dict(config, http={"ox": server.router(OXMock.base_url)}) as orch:
        result = await orch.apply_addons(
            [
                ("example.com", "mailboxes", 20),
                ("example.com", "mailboxes:sync", 5),
                ("example.com", "mailboxes:collaborate", 3),
            ]
        )
    assert result.ok, result
    [context] = [c for c in server.snapshot()["contexts"] if c["id"] == 1]
    assert {
        name: value
        for name, value in context["restrictions"].items()
        if name.startswith("Context.MaxUser")
    } == {
        "Context.MaxUser": "20",
        "Context.MaxUserByModuleaccess_pim_mobility": "5",
        "Context.MaxUserByModuleaccess_groupware_premium": "3",
    }

"""The sample configuration and the demo scenario: the seed plans Mail, Sync and
Collaborate (2, 5 and 10 GB) mapped to OX access combinations, driven through the
orchestrator against the OX mock."""

from __future__ import annotations

from mailadmin_ox.combinations import STOCK
from mailadmin_ox.demo import sample_config, scenario
from mailadmin_ox.mock.platform import OXMock
from mailadmin_ox.settings import OXSettings

from mailadmin.mock import MockServer
from mailadmin.sdk import DemoScenario, Outcome
from mailadmin.testing import Orchestrator


def test_the_seed_plans_map_to_stock_combinations_with_their_storage() -> None:
    instance = sample_config()["instances"]["ox"]
    settings = OXSettings.model_validate({k: v for k, v in instance.items() if k != "provider"})

    mapped = {name: (p.access_combination, p.quota_mb) for name, p in settings.plans.items()}

    assert mapped == {
        "mail": ("pim", 2048),
        "sync": ("pim_mobility", 5120),
        "collaborate": ("groupware_premium", 10240),
    }
    # Each plan holds every feature of the plan below it ("globaladdressbookdisabled" is
    # a restriction, which the bigger plans lift).
    features = {name: STOCK[name] - {"globaladdressbookdisabled"} for name in STOCK}
    assert features["pim"] < features["pim_mobility"] < features["groupware_premium"]
    assert {"calendar", "contacts", "webmail"} <= STOCK["pim"]
    assert {"usm", "activesync", "syncml"} <= STOCK["pim_mobility"]
    assert {"infostore", "readcreatesharedfolders", "delegatetask"} <= STOCK["groupware_premium"]


def test_the_demo_scenario_fits_the_mock_defaults() -> None:
    demo = DemoScenario.model_validate(scenario())
    users = {u.name for u in OXMock.state_class().contexts[1].users.values()}  # type: ignore[attr-defined]

    assert demo.instance["provider"] == "ox" and "endpoint" not in demo.instance
    assert {address.split("@")[0] for address, _ in demo.upgrades} <= users
    assert {plan for _, plan in demo.upgrades} <= set(demo.instance["plans"])


async def test_the_sample_configuration_drives_the_mock_through_the_orchestrator() -> None:
    server = MockServer(OXMock)
    config = sample_config()
    config["instances"]["ox"]["endpoint"] = OXMock.base_url

    async with Orchestrator.from_dict(
        config, journal=False, http={"ox": server.transport()}
    ) as orch:
        checks = await orch.check()
        before = await orch.count_mailboxes("example.com")
        changed = await orch.set_plan("anna@example.com", "sync")
        seats = await orch.apply_addon("example.com", "mailboxes", 15)
        licence = await orch.get_licence("ox")

    assert checks.ok
    assert before.by_plan == {"mail": 1, "sync": 1, "collaborate": 1, "unmapped": 1}
    assert (changed.outcome, changed.before, changed.after) == (Outcome.CHANGED, "mail", "sync")
    assert seats.outcome is Outcome.CHANGED
    assert server.state.contexts[1].restrictions["Context.MaxUser"] == "15"  # type: ignore[attr-defined]
    assert (licence.seats_licensed, licence.seats_used) == (50, 4)

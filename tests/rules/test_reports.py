"""The usage, licences and renewals reports, on every installed platform and from the CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from mailadmin import MailboxKind
from mailadmin.cli.commands import cli
from mailadmin.mock import MockServer
from mailadmin.mock.serve import serve
from mailadmin.orchestration.registry import Registry, set_registry
from mailadmin.reference.mock import MemoryMock
from mailadmin.reports import licences, renewals, usage
from mailadmin.rules.tenancy import CustomerSpec, ResellerSpec, Resource

from .conftest import OTHER, Platform


async def test_usage_shows_allocated_utilised_remaining_and_over_use(platform: Platform) -> None:
    orch = platform.orch
    tenancy = orch.rules.tenancy
    counts = await orch.count_mailboxes(platform.tenant)
    users = counts.of(MailboxKind.USER)
    tenancy.add_reseller("acme", ResellerSpec(prepaid=True, may_oversell=True))
    # Allocated one fewer user mailbox than are in use: over-used by one.
    tenancy.add_customer(
        platform.tenant,
        CustomerSpec(reseller="acme", package={Resource.USER_MAILBOXES: users - 1}),
    )
    tenancy.sell("customer", platform.tenant, "shared_mailbox", 5)
    rows = await usage.build(orch, reseller="acme")
    by_resource = {r.resource: r for r in rows}
    user_row = by_resource[Resource.USER_MAILBOXES]
    assert (user_row.subscription, user_row.allocated, user_row.utilised) == (
        platform.tenant,
        users - 1,
        users,
    )
    assert (user_row.remaining, user_row.over_use) == (-1, 1)
    shared = by_resource[Resource.SHARED_MAILBOXES]
    assert shared.allocated == 5 and shared.utilised == counts.of(MailboxKind.SHARED)
    assert shared.over_use == 0
    # Filtered by reseller: the other tenant (nobody's) is left out.
    assert {r.subscription for r in rows} == {platform.tenant}
    everyone = await usage.build(orch)
    # The other tenant is listed too: with its counts, or with the count's error where the
    # platform does not know it.
    others = [r for r in everyone if r.subscription == OTHER]
    assert others and all(r.error or r.utilised is not None for r in others)


async def test_licences_report_on_every_platform(platform: Platform) -> None:
    rows = await licences.build(platform.orch)
    (row,) = rows
    licence = await platform.orch.get_licence(row.instance)
    assert (row.licensed, row.used) == (licence.seats_licensed, licence.seats_used)
    assert row.error == ""
    if licence.seats_licensed is not None:
        assert row.free == licence.seats_licensed - licence.seats_used
        # Seed 002's minimum of 10 is the per-mailbox model's (Zextras), not every platform's.
        minimum = 10 if platform.capabilities.licence.per_mailbox else 0
        assert row.required == max(licence.seats_used, minimum)
    if platform.capabilities.licence.kind == "none":
        # Nothing is licensed (mailcow): nothing to buy, so never "not compliant".
        assert (row.state, row.compliant, row.to_buy) == ("none", True, "")


async def test_licences_report_applies_seed_002(tmp_path: Path) -> None:
    from mailadmin import Orchestrator

    started = datetime.now(UTC) - timedelta(days=20)
    seed = {"licence": {"seats": 2, "state": "trial", "valid_from": started.isoformat()}}
    server = MockServer(MemoryMock, seed=seed)
    config = {
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": "http://memory.test",
                "credentials": {"username": "admin", "secret": "secret"},
                "retries": 0,
            }
        },
        "journal": {"url": None},
        # The memory platform declares seats; this instance is licensed per mailbox.
        "policies": {"instances": {"eu": {"per_mailbox_licence": True}}},
    }
    orch = Orchestrator.from_dict(config, http={"eu": server.router("http://memory.test")})
    (row,) = await licences.build(orch)
    used = row.used
    assert used is not None
    required = max(used, 10)
    # A trial without an end date lasts 30 days (seed 002): 10 left after 20.
    assert row.state == "trial (10 days left)" and row.days_left == 10
    assert row.to_buy == f"2 + {required - 2} = {required}" and row.compliant is False
    await orch.aclose()


async def test_renewals_report_shows_open_windows(platform: Platform) -> None:
    rules = platform.orch.rules
    rules.today = lambda: date(2027, 1, 5)
    rules.tenancy.add_reseller("acme", ResellerSpec(renewal=date(2027, 6, 1)))
    rules.tenancy.add_customer(
        platform.tenant, CustomerSpec(reseller="acme", renewal=date(2027, 1, 31))
    )
    # Renewed on 2026-12-01: the billing cycle rolls it a year on, to 2027-12-01.
    rules.tenancy.add_customer(OTHER, CustomerSpec(renewal=date(2026, 12, 1)))
    rules.place_order(platform.tenant, "plan_upgrade", {})
    rows = await renewals.build(platform.orch)
    assert [(r.subject, r.kind, r.days, r.window, r.open_orders) for r in rows] == [
        (platform.tenant, "customer", 26, "open", 1),
        ("acme", "reseller", 147, "upcoming", 0),
        (OTHER, "customer", 330, "upcoming", 0),
    ]
    assert rows[2].renewal == date(2027, 12, 1)
    assert (rows[0].window_opens, rows[0].window_closes) == (date(2027, 1, 1), date(2027, 1, 16))


def test_report_command_table_json_and_csv(tmp_path: Path) -> None:
    server = MockServer(MemoryMock)
    registry = Registry(load=["reference"], disable=[])
    set_registry(registry)
    try:
        with serve(server) as url:
            path = tmp_path / "mailadmin.toml"
            path.write_text(
                f"""
[instances.eu]
provider = "memory"
endpoint = "{url}"
retries = 0
credentials = {{ username = "admin", secret = "secret" }}

[tenants."example.com"]
instance = "eu"

[customers."example.com"]
package = {{ user_mailboxes = 1, shared_mailboxes = 3 }}
renewal = 2099-01-31

[journal]
url = "sqlite:///store.sqlite"
""",
                encoding="utf-8",
            )

            def run(*args: str) -> str:
                result = CliRunner().invoke(cli, ["--config", str(path), *args])
                assert result.exit_code == 0, result.output
                return result.output

            table = run("report", "usage")
            assert "Usage (quota over usage)" in table and "OVER +2" in table
            assert json.loads(run("--json", "report", "usage"))["over_use"] is True
            data = json.loads(run("--json", "report", "usage"))
            assert data["report"] == "usage"
            user = next(r for r in data["rows"] if r["resource"] == "user_mailboxes")
            assert (user["allocated"], user["utilised"], user["remaining"], user["over_use"]) == (
                1,
                3,
                -2,
                2,
            )
            rows = list(csv.DictReader(io.StringIO(run("report", "licences", "--csv"))))
            assert rows[0]["instance"] == "eu" and rows[0]["licensed"] == "50"
            renewal = list(csv.DictReader(io.StringIO(run("report", "renewals", "--csv"))))
            assert renewal[0]["subject"] == "example.com" and renewal[0]["window"] == "upcoming"
            # Over-use fails the exit code on request (5), as the summary report does.
            failing = CliRunner().invoke(
                cli, ["--config", str(path), "report", "usage", "--fail-on-over-use"]
            )
            assert failing.exit_code == 5, failing.output
            # A reseller filter without NAME prints the three reports.
            everything = json.loads(run("report", "--reseller", "nobody", "--json"))
            assert set(everything) == {"usage", "licences", "renewals", "over_use"}
            assert everything["usage"] == [] and everything["renewals"] == []
    finally:
        set_registry(None)


async def test_reports_show_each_identity_only_its_own(platform: Platform) -> None:
    import pytest

    from mailadmin.contract import errors

    tenancy = platform.orch.rules.tenancy
    tenancy.add_reseller("acme")
    tenancy.add_reseller("globex")
    tenancy.add_customer(platform.tenant, CustomerSpec(reseller="acme", renewal=date(2099, 1, 1)))
    tenancy.add_customer(OTHER, CustomerSpec(reseller="globex", renewal=date(2099, 1, 1)))
    platform.server.clear_requests()
    with platform.orch.acting_as("reseller:globex") as orch:
        rows = await usage.build(orch)
        assert {r.subscription for r in rows} == {OTHER}
        assert [r.subject for r in await renewals.build(orch)] == [OTHER]
        with pytest.raises(errors.PolicyDenied):
            await licences.build(orch)
    # globex's customer is not on the platform; acme's was never counted for globex.
    counted = [r for r in platform.server.requests if platform.tenant in r.path + r.body.decode()]
    assert counted == []
    with platform.orch.acting_as(f"customer:{platform.tenant}") as orch:
        assert {r.subscription for r in await usage.build(orch)} == {platform.tenant}
    with (
        platform.orch.acting_as(f"mailbox:{platform.users[0]}") as orch,
        pytest.raises(errors.PolicyDenied),
    ):
        await usage.build(orch)


def test_the_demo_runs_the_reports_across_every_installed_platform() -> None:
    from mailadmin.orchestration.registry import get_registry

    result = CliRunner().invoke(cli, ["--json", "demo"])
    assert result.exit_code == 0, result.output
    steps = {step["title"]: step for step in json.loads(result.stdout)["steps"]}
    platforms = {
        f"{name}-demo"
        for name, entry in get_registry().providers().items()
        if entry.demo is not None and entry.mock is not None
    }
    usage_step = steps["Report: usage (quota over usage)"]
    instance_column = usage_step["columns"].index("instance")
    assert {row[instance_column] for row in usage_step["rows"]} == platforms
    licences_step = steps["Report: licences"]
    assert {row[0] for row in licences_step["rows"]} == platforms
    assert steps["Report: renewals and downgrade windows"]["rows"]
    # The "done when": the demo shows an order, a renewal and an oversell.
    shown = dict(steps["Orders, renewals and oversells"]["rows"])
    assert set(shown) == {"order", "renewal", "oversell"}
    assert "seat upgrade" in shown["order"] and "+ 5 =" in shown["order"]
    assert "(paid)" in shown["order"] and "window is open" in shown["renewal"]
    assert shown["oversell"].endswith("(+5)")
    over = usage_step["columns"].index("over_use")
    level = usage_step["columns"].index("level")
    assert [r[over] for r in usage_step["rows"] if r[level] == "reseller"] == [5]


async def test_seed_003_a_resellers_oversell_is_in_the_usage_report(platform: Platform) -> None:
    from mailadmin.rules.tenancy import CustomerSpec, ResellerSpec, Resource

    tenancy = platform.orch.rules.tenancy
    tenancy.add_reseller(
        "acme",
        ResellerSpec(prepaid=True, may_oversell=True, package={Resource.USER_MAILBOXES: 10}),
    )
    tenancy.add_customer(
        platform.tenant, CustomerSpec(reseller="acme", package={Resource.USER_MAILBOXES: 4})
    )
    for quantity, oversold in ((6, 0), (7, 1)):  # 4 + 6 = 10 of 10; 4 + 7 = 11: one over
        tenancy.sell("customer", platform.tenant, "mailboxes", quantity)
        rows = await usage.build(platform.orch, reseller="acme")
        (row,) = [r for r in rows if r.level == "reseller" and r.resource == "user_mailboxes"]
        assert (row.subscription, row.allocated, row.utilised) == (
            "reseller:acme",
            10,
            4 + quantity,
        )
        assert row.over_use == oversold
    assert [o.children_allocation for o in tenancy.oversells("acme")] == [11]
    # A customer admin sees no reseller's rows; another reseller filter shows none of acme's.
    with platform.orch.acting_as(f"customer:{platform.tenant}"):
        assert all(r.level == "customer" for r in await usage.build(platform.orch))
    assert [
        r for r in await usage.build(platform.orch, reseller="globex") if r.level == "reseller"
    ] == []

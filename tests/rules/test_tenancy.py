"""Resellers and customers from the Python API, the configuration and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailadmin import Orchestrator
from mailadmin.cli.commands import cli
from mailadmin.contract import errors
from mailadmin.mock import MockServer
from mailadmin.mock.serve import serve
from mailadmin.orchestration.registry import Registry, set_registry
from mailadmin.reference.mock import MemoryMock
from mailadmin.rules.tenancy import CustomerSpec, ResellerSpec, Resource

CONFIG = """
[plans.mail]
rank = 1
[plans.sync]
rank = 2

[addons.mailboxes]
[addons.shared_mailbox]

[instances.eu]
provider = "memory"
endpoint = "{endpoint}"
retries = 0
credentials = {{ username = "admin", secret = "secret" }}
plans.mail = {{ native = "basic" }}
plans.sync = {{ native = "standard" }}

[tenants."example.com"]
instance = "eu"
[tenants."other.test"]
instance = "eu"

[journal]
url = "sqlite:///store.sqlite"

[resellers.acme]
instance = "eu"
prepaid = true
may_oversell = true
package = {{ user_mailboxes = 100, shared_mailboxes = 9999 }}

[customers."example.com"]
reseller = "acme"
package = {{ user_mailboxes = 10 }}
renewal = 2027-01-31
"""


def test_records_from_the_python_api(tmp_path: Path) -> None:
    config = {
        "instances": {"eu": {"provider": "memory", "endpoint": "http://memory.test"}},
        "tenants": {"example.com": {"instance": "eu"}},
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
    }
    orch = Orchestrator.from_dict(config)
    tenancy = orch.rules.tenancy
    tenancy.add_reseller("Acme", ResellerSpec(prepaid=True))
    customer = tenancy.add_customer(
        "example.com", CustomerSpec(reseller="acme", package={Resource.USER_MAILBOXES: 10})
    )
    assert customer.reseller == "acme"
    assert [r.name for r in tenancy.resellers()] == ["acme"]
    assert [c.name for c in tenancy.customers("acme")] == ["example.com"]
    assert tenancy.owner_of("Example.com") == "acme"
    with pytest.raises(errors.ValidationError, match="not a configured tenant"):
        tenancy.add_customer("nowhere.test")
    with pytest.raises(errors.ValidationError, match="Unknown reseller"):
        tenancy.save_customer("example.com", CustomerSpec(reseller="ghost"))
    with pytest.raises(errors.ValidationError, match="already exists"):
        tenancy.add_reseller("acme")

    # The records live in the store: a new orchestrator on the same file sees them.
    again = Orchestrator.from_dict(config)
    assert again.rules.tenancy.owner_of("example.com") == "acme"


@pytest.fixture
def server() -> MockServer:
    return MockServer(MemoryMock)


@pytest.fixture
def config_file(tmp_path: Path, server: MockServer) -> Iterator[Path]:
    registry = Registry(load=["reference"], disable=[])
    set_registry(registry)
    with serve(server) as url:
        path = tmp_path / "mailadmin.toml"
        path.write_text(CONFIG.format(endpoint=url), encoding="utf-8")
        yield path
    set_registry(None)


def _run(path: Path, *args: str, expect: int = 0) -> str:
    result = CliRunner().invoke(cli, ["--config", str(path), *args], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result.output


def test_records_declared_in_the_configuration(config_file: Path) -> None:
    resellers = json.loads(_run(config_file, "--json", "resellers", "list"))
    assert resellers[0]["name"] == "acme" and resellers[0]["may_oversell"] is True
    customers = json.loads(_run(config_file, "--json", "customers", "list"))
    assert customers == [
        {
            "name": "example.com",
            "reseller": "acme",
            "package": {"user_mailboxes": 10},
            "renewal": "2027-01-31",
            "term_months": None,
        }
    ]


def test_records_from_the_cli(config_file: Path) -> None:
    _run(config_file, "resellers", "add", "globex", "--package", "user_mailboxes=20")
    _run(config_file, "customers", "add", "other.test", "--reseller", "globex")
    listed = json.loads(_run(config_file, "--json", "customers", "list", "--reseller", "globex"))
    assert [c["name"] for c in listed] == ["other.test"]
    # A reseller adds customers only under itself.
    out = _run(
        config_file,
        "--json",
        "--as",
        "reseller:acme",
        "customers",
        "add",
        "other.test",
        "--reseller",
        "globex",
        expect=3,
    )
    assert json.loads(out)["error"]["reason"] == "cross_boundary"
    table = _run(config_file, "resellers", "list")
    assert "globex" in table and "user_mailboxes=20" in table


def test_cli_identity_refuses_a_cross_boundary_call_before_sending(
    config_file: Path, server: MockServer
) -> None:
    out = _run(
        config_file, "--json", "--as", "reseller:acme", "set-plan", "x@other.test", "sync", expect=3
    )
    error = json.loads(out)["error"]
    assert error == {
        "code": "policy_denied",
        "reason": "cross_boundary",
        "message": "reseller:acme may not reach customer 'other.test'",
        "exit_code": 3,
    }
    assert server.requests == []
    # Its own customer is reachable.
    _run(config_file, "--as", "reseller:acme", "set-plan", "anna@example.com", "sync")
    assert len(server.writes()) == 1


def test_store_commands(config_file: Path) -> None:
    from mailadmin.store.database import Database

    status = json.loads(_run(config_file, "--json", "store", "status"))
    assert status["head"] == Database.head()
    upgraded = json.loads(_run(config_file, "--json", "store", "upgrade"))
    assert upgraded["to"] == Database.head()
    _run(config_file, "--as", "customer:example.com", "store", "upgrade", expect=3)


def test_bulk_sale_from_the_cli(config_file: Path, server: MockServer) -> None:
    _run(config_file, "resellers", "add", "globex")
    preview = json.loads(
        _run(
            config_file,
            "--json",
            "sell",
            "resource_mailbox",
            "9999",
            "--to",
            "resellers",
            "--skip-sold",
            "--copy-under-reseller",
            "--dry-run",
        )
    )
    assert preview["dry_run"] is True and preview["summary"] == {
        "sold": 2,
        "skipped": 0,
        "failed": 0,
    }
    table = _run(
        config_file,
        "sell",
        "resource_mailbox",
        "9999",
        "--to",
        "resellers",
        "--skip-sold",
        "--copy-under-reseller",
    )
    assert "sold 2, skipped 0, failed 0" in table
    again = json.loads(
        _run(
            config_file,
            "--json",
            "sell",
            "resource_mailbox",
            "9999",
            "--to",
            "resellers",
            "--skip-sold",
        )
    )
    assert [i["reason"] for i in again["items"]] == ["already sold", "already sold"]
    # Selling to customers sets the platform's total; acme is a prepaid reseller that may
    # oversell (10 + 200 > its 100): recorded, not refused.
    out = json.loads(
        _run(
            config_file,
            "--json",
            "sell",
            "mailboxes",
            "200",
            "--to",
            "customers",
            "--owner",
            "acme",
        )
    )
    assert out["items"][0]["outcome"] == "sold" and out["items"][0]["oversold"] is True
    assert len(server.writes()) == 1
    # A failed item fails the exit code.
    failed = _run(
        config_file,
        "--json",
        "sell",
        "mailboxes",
        "1",
        "--to",
        "resellers",
        "--reseller",
        "ghost",
        expect=4,
    )
    assert json.loads(failed)["items"][0]["reason"] == "Unknown reseller 'ghost'"


def test_the_configuration_names_the_cli_identity(config_file: Path, server: MockServer) -> None:
    config_file.write_text(
        'identity = "reseller:acme"\n' + config_file.read_text(encoding="utf-8"), encoding="utf-8"
    )
    out = _run(config_file, "--json", "set-plan", "x@other.test", "sync", expect=3)
    assert json.loads(out)["error"]["reason"] == "cross_boundary"
    assert server.requests == []
    # The option wins over the configuration.
    _run(config_file, "count", "example.com", "--as", "site-admin")


def test_orders_from_the_cli(config_file: Path, server: MockServer) -> None:
    def place(*args: str, expect: int = 0) -> dict:
        out = _run(config_file, "--json", "orders", "place", *args, expect=expect)
        found = json.loads(out)
        return found["error"] if expect else found[0]

    # Seed 001: a plan upgrade carrying a seat change is two orders, and the refusal says so.
    both = place(
        "example.com",
        "plan_upgrade",
        "--package",
        "user_mailboxes=40",
        "--package",
        "shared_mailboxes=4",
        expect=3,
    )
    assert both["reason"] == "order_open"
    assert both["message"] == (
        "A plan upgrade and a seat upgrade of example.com are two orders: place a plan_upgrade "
        "of shared_mailboxes=4 without user_mailboxes, then, once its invoice is paid, a "
        "seat_upgrade adding 30 accounts"
    )
    plan = place("example.com", "plan_upgrade", "--package", "shared_mailboxes=4")
    assert plan["state"] == "pending"
    assert place("example.com", "seat_upgrade", "--add", "5", expect=3)["reason"] == "order_open"
    # Paid is enough for the next to be ordered (seed 001: "after the invoice is paid").
    _run(config_file, "orders", "confirm", str(plan["id"]))
    seats = place("example.com", "seat_upgrade", "--add", "5")
    assert seats["detail"] == {"add": 5, "current": 10, "total": 15, "sum": "10 + 5 = 15"}
    table = _run(config_file, "orders", "list", "example.com")
    assert "10 + 5 = 15" in table
    _run(config_file, "orders", "apply", str(plan["id"]))
    _run(config_file, "orders", "confirm", str(seats["id"]))
    applied = json.loads(_run(config_file, "--json", "orders", "apply", str(seats["id"])))[0]
    assert applied["state"] == "applied"
    # The package's 10 + 5: one allocation, which the platform's seat total is.
    assert server.state.snapshot()["tenants"]["example.com"]["allocations"]["user_seats"] == 15
    listed = json.loads(_run(config_file, "--json", "orders", "list", "example.com"))
    assert [o["state"] for o in listed] == ["applied", "applied"]
    usage = _run(config_file, "orders", "place", "example.com", "seat_upgrade", expect=2)
    assert "--add" in usage
    licence = json.loads(
        _run(config_file, "--json", "orders", "place", "eu", "licence_upgrade", "--add", "5")
    )[0]
    # The licence's expiry rides along (seed 002: each order shows its expiration date).
    assert licence["detail"] == {"current": 50, "added": 5, "total": 55, "until": "2036-01-01"}


def test_a_mailbox_user_downgrades_outside_the_window_when_allowed(
    config_file: Path, server: MockServer
) -> None:
    """Seed 000's switch binds the user's own change; seed 001's window binds orders only
    (example.com renews 2027-01-31; the window's own edges are tested with a fixed day in
    test_policies.py)."""
    anna = "anna@example.com"
    _run(config_file, "set-plan", anna, "sync")
    out = _run(config_file, "--json", "--as", f"mailbox:{anna}", "set-plan", anna, "mail", expect=3)
    assert json.loads(out)["error"]["reason"] == "upgrade_not_allowed"
    _run(config_file, "--as", "reseller:acme", "allow-upgrade", anna, "on")
    done = json.loads(
        _run(config_file, "--json", "--as", f"mailbox:{anna}", "set-plan", anna, "mail")
    )
    assert done["after"] == "mail"
    boxes = server.state.snapshot()["tenants"]["example.com"]["mailboxes"]
    assert {m["address"]: m["plan"] for m in boxes}[anna] == "basic"


def test_only_the_site_admin_assigns_a_platform_tenant_to_a_reseller(config_file: Path) -> None:
    """Issue 29.7: other.test is configured and no customer record owns it (the host's own
    customer). A reseller may not claim it, nor an unknown name: one answer for both."""
    refusals = [
        json.loads(
            _run(config_file, "--json", "--as", "reseller:acme", "customers", "add", name, expect=3)
        )["error"]
        for name in ("other.test", "nosuch.test")
    ]
    assert [e["reason"] for e in refusals] == ["not_permitted", "not_permitted"]
    assert [e["message"].replace("nosuch", "other") for e in refusals] == [
        refusals[0]["message"]
    ] * 2
    assert "only the site admin" in refusals[0]["message"]
    customers = json.loads(_run(config_file, "--json", "customers", "list"))
    assert [c["name"] for c in customers] == ["example.com"]  # nothing recorded
    # The site admin assigns it.
    _run(config_file, "customers", "add", "other.test", "--reseller", "acme")
    customers = json.loads(_run(config_file, "--json", "customers", "list"))
    assert {c["name"]: c["reseller"] for c in customers}["other.test"] == "acme"


def test_a_reseller_cannot_claim_a_platform_tenant_from_python(config_file: Path) -> None:
    from mailadmin.rules.identities import Identity, acting_scope

    orch = Orchestrator.from_config(config_file)
    for name in ("other.test", "nosuch.test"):
        with (
            acting_scope(Identity.parse("reseller:acme")),
            pytest.raises(errors.PolicyDenied) as got,
        ):
            orch.rules.add_customer(name)
        assert got.value.reason == "not_permitted"
    assert orch.rules.tenancy.customer("other.test") is None


def test_the_9999_cap_from_the_cli(config_file: Path, server: MockServer) -> None:
    # other.test is the host's own customer: no reseller's allocation caps it first.
    out = _run(config_file, "--json", "addon", "other.test", "shared_mailbox", "10000", expect=3)
    assert json.loads(out)["error"]["reason"] == "allocation_limit"
    assert server.writes() == []
    _run(config_file, "addon", "example.com", "shared_mailbox", "9999", "--dry-run")


def test_edition_orders_from_the_cli(config_file: Path) -> None:
    def place(*args: str, expect: int = 0) -> dict:
        found = json.loads(
            _run(config_file, "--json", "orders", "place", "eu", *args, expect=expect)
        )
        return found["error"] if expect else found[0]

    refused = place(
        "edition_change", "--edition", "team_pro", "--from", "mobile", "--mailboxes", "10", expect=3
    )
    assert refused["reason"] == "edition_rule"
    order = place("edition_change", "--edition", "team_pro", "--from", "pro", "--mailboxes", "10")
    assert order["detail"] == {"edition": "team_pro", "from": "pro", "mailboxes": 10}


def test_an_oversell_in_report_usage(config_file: Path) -> None:
    """acme (prepaid, may oversell) holds 100 user mailboxes; example.com's 10 plus a sale
    of 95 sells it 105: 5 oversold, in the table, --json and --csv."""
    _run(config_file, "sell", "mailboxes", "95", "--to", "customers", "--owner", "acme")
    table = _run(config_file, "report", "usage", "--reseller", "acme")
    line = next(x for x in table.splitlines() if "reseller:acme" in x and "user_mailboxes" in x)
    assert "100" in line and "105" in line and "OVER +5" in line
    acme = ("--reseller", "acme")  # other.test is not on the mock: its row would fail
    rows = json.loads(_run(config_file, "--json", "report", "usage", *acme))["rows"]
    (held,) = [r for r in rows if r["level"] == "reseller" and r["resource"] == "user_mailboxes"]
    assert (held["allocated"], held["utilised"], held["over_use"]) == (100, 105, 5)
    import csv
    import io

    found = list(csv.DictReader(io.StringIO(_run(config_file, "report", "usage", "--csv", *acme))))
    (row,) = [r for r in found if r["level"] == "reseller" and r["resource"] == "user_mailboxes"]
    assert (row["subscription"], row["over_use"]) == ("reseller:acme", "5")
    _run(config_file, "report", "usage", "--fail-on-over-use", *acme, expect=5)


def test_a_renewal_rolls_forward_in_report_renewals(config_file: Path) -> None:
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    recorded = today - timedelta(days=340)
    _run(config_file, "customers", "add", "other.test", "--renewal", recorded.isoformat())
    rows = json.loads(_run(config_file, "--json", "report", "renewals"))["rows"]
    (row,) = [r for r in rows if r["subject"] == "other.test"]
    year_on = (
        recorded.replace(year=recorded.year + 1)
        if recorded.month != 2 or recorded.day != 29
        else recorded.replace(year=recorded.year + 1, day=28)
    )
    assert row["renewal"] == year_on.isoformat()
    assert row["days"] == (year_on - today).days


def test_a_licence_renewal_from_the_cli(config_file: Path) -> None:
    out = _run(
        config_file, "--json", "orders", "place", "eu", "licence_renewal", "--until", "2999-01-01"
    )
    (order,) = json.loads(out)
    assert (order["kind"], order["detail"]["until"]) == ("licence_renewal", "2999-01-01")
    _run(config_file, "orders", "place", "eu", "licence_renewal", expect=2)


def test_maintenance_from_the_cli(config_file: Path, server: MockServer) -> None:
    from datetime import UTC, datetime, timedelta

    ends = datetime.now(UTC) + timedelta(days=40)
    server.state.licence.maintenance_until = ends
    licence = json.loads(_run(config_file, "--json", "licence", "eu"))
    assert ends.date().isoformat() in json.dumps(licence)
    rows = json.loads(_run(config_file, "--json", "report", "licences"))["rows"]
    assert rows[0]["maintenance_until"] == ends.date().isoformat()
    order = json.loads(_run(config_file, "--json", "orders", "place", "eu", "maintenance"))[0]
    assert order["detail"]["from"] == ends.date().isoformat()
    assert order["detail"]["note"].startswith("cumulative")


def test_the_seeds_99999_sale_is_explained_from_the_cli(config_file: Path) -> None:
    args = ("sell", "resource_mailbox", "99999", "--to", "resellers", "--skip-sold")
    out = _run(config_file, "--json", *args, expect=2)
    message = json.loads(out)["error"]["message"]
    assert "seed 003's bulk form sells 99999 to mean as many as the add-on holds" in message
    done = json.loads(
        _run(config_file, "--json", "sell", "resource_mailbox", "9999", "--to", "resellers")
    )
    assert done["summary"]["sold"] == 1

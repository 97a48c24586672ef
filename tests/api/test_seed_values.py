"""Seed 003's valued add-ons and the per-customer billing term, over HTTP and the CLI.

The service runs with the seed's catalogue: ``resource_mailbox`` carries "9999" in its first
field (its ``value``), so quantity 1 grants 9,999 and the seed's bulk 99999 is refused,
saying how it maps.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from apihelpers import Service, config_text, wait_for_run

from mailadmin.mock.server import MockServer


@pytest.fixture(scope="module")
def valued(mock: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("api-valued")
    text = config_text(mock.url, folder)  # type: ignore[attr-defined]
    text = text.replace("[addons.resource_mailbox]", "[addons.resource_mailbox]\nvalue = 9999")
    # The host's price of maintenance (seed 002 states how it is reached, not how much).
    text += '\n[policies.prices]\ncurrency = "EUR"\nmaintenance_mailbox_year = 7.30\n'
    config = folder / "mailadmin.toml"
    config.write_text(text)
    running = Service(config)
    running.start()
    yield running
    running.stop()


def _cli(service: Service, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mailadmin.cli", "--config", str(service.config), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
    return done


def _allocations(mock: MockServer, tenant: str) -> dict[str, Any]:
    found: dict[str, Any] = mock.snapshot()["tenants"][tenant]["allocations"]
    return found


def test_http_sale_grants_value_x_quantity(valued: Service, fresh: MockServer) -> None:
    body = {"addon": "resource_mailbox", "to": "customers", "owner": "all"}
    with valued.client("site-admin") as http:
        # The seed's 99999 and 2 x 9999: refused before a run starts, nothing sent.
        for quantity, said in (
            (99999, "seed 003's bulk form sells 99999"),
            (2, "quantity 2 would grant 19998"),
        ):
            refused = http.post("/v1/sales", json=body | {"quantity": quantity})
            assert refused.status_code == 422, refused.text
            assert said in refused.text
        assert fresh.writes() == []
        accepted = http.post("/v1/sales", json=body | {"quantity": 1})
        assert accepted.status_code == 202, accepted.text
        run = wait_for_run(http, accepted.json()["id"])
    assert run["summary"] == {"sold": 2, "skipped": 0, "failed": 0}, run
    assert {(i["result"]["value"], i["result"]["granted"]) for i in run["items"]} == {(9999, 9999)}
    # The platform now holds 9,999 resource mailboxes for each customer.
    assert _allocations(fresh, "example.com")["resource_mailboxes"] == 9999
    assert _allocations(fresh, "example.net")["resource_mailboxes"] == 9999


def test_cli_sale_grants_value_x_quantity(valued: Service, fresh: MockServer) -> None:
    refused = _cli(valued, "sell", "resource_mailbox", "99999", "--to", "resellers", expect=2)
    assert "seed 003's bulk form sells 99999" in refused.stderr
    over = _cli(valued, "sell", "resource_mailbox", "2", "--to", "resellers", expect=2)
    assert "quantity 2 would grant 19998" in over.stderr
    sold = json.loads(
        _cli(valued, "sell", "resource_mailbox", "1", "--to", "resellers", "--json").stdout
    )
    assert [(i["name"], i["outcome"], i["granted"]) for i in sold["items"]] == [
        ("acme", "sold", 9999),
        ("globex", "sold", 9999),
    ]
    table = _cli(valued, "sell", "resource_mailbox", "1", "--to", "resellers", "--dry-run").stdout
    assert "grants" in table and "9999" in table
    # The site admin then tries to take the resellers' add-on back (quantity 0) while
    # their customers still hold 9,999 each: neither is prepaid, so both are refused
    # (seed 003: only a prepaid reseller oversells; tests/api/test_reseller_holding.py
    # has the prepaid one), and later commands still run.
    _cli(valued, "sell", "resource_mailbox", "1", "--to", "customers")
    taken = _cli(valued, "--json", "sell", "resource_mailbox", "0", "--to", "resellers", expect=4)
    assert [i["outcome"] for i in json.loads(taken.stdout)["items"]] == ["failed", "failed"]
    listed = json.loads(_cli(valued, "customers", "list", "--json").stdout)
    assert {c["name"] for c in listed} >= {"example.com", "example.net"}


def _renewal_row(rows: list[dict[str, Any]], subject: str) -> dict[str, Any]:
    return next(r for r in rows if r["subject"] == subject)


def test_billing_term_over_http_and_the_cli(valued: Service) -> None:
    with valued.client("site-admin") as http:
        # A monthly customer: the renewal recorded long ago rolls forward a month at a time.
        set_ = http.put(
            "/v1/customers/example.com/billing",
            json={"renewal": "2020-01-31", "term_months": 1},
        )
        assert set_.status_code == 200, set_.text
        assert (set_.json()["renewal"], set_.json()["term_months"]) == ("2020-01-31", 1)
        bad = http.put("/v1/customers/example.com/billing", json={"term_months": 121})
        assert bad.status_code == 422, bad.text
        rows = http.get("/v1/reports/renewals").json()
        rows = rows.get("items", rows) if isinstance(rows, dict) else rows
    row = _renewal_row(rows, "example.com")
    assert row["term"] == 1 and 0 <= row["days"] <= 31, row
    # The yearly default: example.net gets a renewal and no term of its own.
    done = _cli(valued, "customers", "billing", "example.net", "--renewal", "2020-03-01", "--json")
    (record,) = json.loads(done.stdout)
    assert (record["renewal"], record["term_months"]) == ("2020-03-01", None)
    report = json.loads(_cli(valued, "report", "renewals", "--json").stdout)
    report = report.get("rows", report) if isinstance(report, dict) else report
    row = _renewal_row(report, "example.net")
    due = date.fromisoformat(row["renewal"])
    assert row["term"] == 12 and (due.month, due.day) == (3, 1), row
    # A reseller sets its own customer's term, not another reseller's; a customer admin
    # sets none.
    with valued.client("reseller:acme") as http:
        own = http.put("/v1/customers/example.com/billing", json={"term_months": 3})
        other = http.put("/v1/customers/example.net/billing", json={"term_months": 3})
    assert own.status_code == 200 and own.json()["term_months"] == 3, own.text
    assert other.status_code == 403 and other.json()["reason"] == "not_permitted", other.text
    _cli(
        valued,
        "--as",
        "customer:example.com",
        "customers",
        "billing",
        "example.com",
        "--term",
        "6",
        expect=3,
    )
    empty = _cli(valued, "customers", "billing", "example.com", expect=2)
    assert "--renewal" in empty.stderr


@pytest.mark.parametrize(
    ("days_ago", "state", "compliant"),
    [
        (29, "trial (1 days left)", True),
        (30, "trial (ends today)", True),
        (31, "expired (trial ended", False),
    ],
)
def test_http_licences_report_says_when_the_trial_ends(
    valued: Service, fresh: MockServer, days_ago: int, state: str, compliant: bool
) -> None:
    from datetime import UTC, datetime, timedelta

    from mailadmin.reference.mock.state import Licence

    started = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    # Seed 002: a trial lasts 30 days; this platform gives its start only.
    fresh.state.licence = Licence(  # type: ignore[attr-defined]
        seats=200, state="trial", valid_from=started - timedelta(days=days_ago)
    )
    with valued.client("site-admin") as http:
        found = http.get("/v1/reports/licences")
    assert found.status_code == 200, found.text
    body = found.json()
    (row,) = body.get("items", body) if isinstance(body, dict) else body
    assert row["state"].startswith(state) and row["compliant"] is compliant, row


def test_maintenance_order_cost_over_http_and_the_cli(valued: Service, fresh: MockServer) -> None:
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from mailadmin.reference.mock.state import Licence

    today = datetime.now(UTC).date()
    ends = today - timedelta(days=3)  # lapsed three days ago: paid from then
    fresh.state.licence = Licence(  # type: ignore[attr-defined]
        seats=200,
        state="active",
        maintenance_until=datetime(ends.year, ends.month, ends.day, tzinfo=UTC),
    )
    with valued.client("site-admin") as http:
        placed = http.post(
            "/v1/orders?dry_run=true", json={"subject": "mem", "kind": "maintenance", "years": 1}
        )
    assert placed.status_code in (200, 201), placed.text
    detail = placed.json()["detail"]
    until = date.fromisoformat(detail["until"])
    days = (until - ends).days
    expected = (Decimal("7.30") * 200 * days / 365).quantize(Decimal("0.01"))
    assert (detail["from"], detail["missed_days"]) == (ends.isoformat(), 3)
    assert detail["cost"]["amount"] == str(expected) and detail["cost"]["currency"] == "EUR"
    assert (
        f"{days}/365 days ({ends.isoformat()} to {until.isoformat()})" in (detail["cost"]["basis"])
    )
    done = _cli(valued, "--json", "orders", "place", "mem", "maintenance", "--years", "1")
    (order,) = json.loads(done.stdout)
    assert order["detail"]["cost"] == detail["cost"]

"""A reseller sold less than its customers hold, over HTTP and the CLI (seed 003: "Prepaid
resellers are permitted to oversell ... The resources oversold are then reported in the
Quota Over Usage report").

acme is prepaid and may oversell, globex is not. Each reseller's one customer holds 9,999
resource mailboxes; each reseller is then sold 9,999 (exactly that), 9,998 (one below)
and 0: acme is sold them and each oversell is reported, globex is refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from apihelpers import Service, config_text, wait_for_run

from mailadmin.mock.server import MockServer

HELD = 9999


@pytest.fixture(scope="module")
def prepaid(mock: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("api-reseller-holding")
    text = config_text(mock.url, folder)  # type: ignore[attr-defined]
    text = text.replace(
        "[resellers.acme]\n", "[resellers.acme]\nprepaid = true\nmay_oversell = true\n"
    )
    config = folder / "mailadmin.toml"
    config.write_text(text)
    running = Service(config)
    running.start()
    yield running
    running.stop()


def _sell(http: Any, body: dict[str, Any]) -> dict[str, Any]:
    accepted = http.post("/v1/sales", json=body)
    assert accepted.status_code == 202, accepted.text
    return wait_for_run(http, accepted.json()["id"])


def _cli(service: Service, *args: str, expect: int = 0) -> str:
    command = [sys.executable, "-m", "mailadmin.cli", "--config", str(service.config), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
    return done.stdout


def _refusal(quantity: int) -> str:
    return (
        f"Reseller 'globex' would be allocated {quantity} resource mailboxes "
        "(resource_mailbox); its customers hold 9999: lower theirs first, or make it a "
        "prepaid reseller that may oversell"
    )


def _reseller_rows(rows: list[dict[str, Any]]) -> dict[str, tuple[int, int, int]]:
    return {
        r["subscription"]: (r["allocated"], r["utilised"], r["over_use"])
        for r in rows
        if r["level"] == "reseller" and r["resource"] == "resource_mailboxes"
    }


def test_a_reseller_sold_less_than_its_customers_hold(prepaid: Service, fresh: MockServer) -> None:
    to_resellers = {"addon": "resource_mailbox", "to": "resellers"}
    with prepaid.client("site-admin") as http:
        _sell(http, to_resellers | {"quantity": HELD})
        for owner in ("acme", "globex"):
            body = {"addon": "resource_mailbox", "to": "customers", "owner": owner}
            assert _sell(http, body | {"quantity": HELD})["summary"]["sold"] == 1
        tenants = fresh.snapshot()["tenants"]
        assert tenants["example.com"]["allocations"]["resource_mailboxes"] == HELD
        assert tenants["example.net"]["allocations"]["resource_mailboxes"] == HELD
        fresh.clear_requests()
        for quantity in (HELD, HELD - 1, 0):
            run = _sell(http, to_resellers | {"quantity": quantity})
            acme, globex = run["items"]
            assert (acme["key"], acme["state"]) == ("acme", "sold")
            assert acme["result"]["oversold"] is (quantity < HELD)
            if quantity == HELD:
                assert globex["state"] == "sold" and globex["result"]["oversold"] is False
            else:
                assert (globex["key"], globex["state"]) == ("globex", "failed")
                assert globex["error"]["message"] == _refusal(quantity)
        # A sale to a reseller is mailadmin's record only: the platform is not told.
        assert fresh.writes() == []
        usage = http.get("/v1/reports/usage").json()
    # acme holds 0 and sold 9,999: all oversold; globex was refused and holds 9,999.
    assert _reseller_rows(usage) == {
        "reseller:acme": (0, HELD, HELD),
        "reseller:globex": (HELD, HELD, 0),
    }

    # The same through the CLI, which also proves later commands still run (each loads
    # the configuration, whose declared customers now hold more than acme).
    refused = json.loads(
        _cli(
            prepaid,
            "--json",
            "sell",
            "resource_mailbox",
            str(HELD - 1),
            "--to",
            "resellers",
            "--reseller",
            "globex",
            expect=4,
        )
    )
    assert refused["items"][0]["reason"] == _refusal(HELD - 1)
    sold = json.loads(
        _cli(
            prepaid,
            "--json",
            "sell",
            "resource_mailbox",
            "1",
            "--to",
            "resellers",
            "--reseller",
            "acme",
        )
    )
    assert (sold["items"][0]["outcome"], sold["items"][0]["oversold"]) == ("sold", True)
    report = json.loads(_cli(prepaid, "--json", "report", "usage", "--reseller", "acme"))
    assert _reseller_rows(report["rows"]) == {"reseller:acme": (1, HELD, HELD - 1)}
    listed = json.loads(_cli(prepaid, "customers", "list", "--json"))
    assert {c["name"] for c in listed} >= {"example.com", "example.net"}

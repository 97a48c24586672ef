"""The one call pipeline through the HTTP and CLI faces: the same answer as from Python
(tests/rules/test_pipeline.py), because every face takes the same steps."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from apihelpers import Service

from mailadmin.contract import errors
from mailadmin.mock.server import MockServer


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mailadmin.cli", "--config", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def _addresses(mock: MockServer, tenant: str) -> set[str]:
    return {box["address"] for box in mock.snapshot()["tenants"][tenant]["mailboxes"]}


def test_http_refuses_a_mailbox_of_another_customers_domain(
    service: Service, fresh: MockServer
) -> None:
    before = {t: _addresses(fresh, t) for t in ("example.com", "example.org")}
    for identity in ("reseller:acme", "customer:example.com", "site-admin"):
        with service.client(identity) as http:
            for body in (
                {"address": "yuri@example.org"},
                {"address": "ceo@victim.test", "kind": "shared"},
            ):
                answer = http.post("/v1/customers/example.com/mailboxes", json=body)
                assert answer.status_code == 422, (identity, body, answer.text)
                problem = answer.json()
                assert problem["code"] == "validation"
                assert "is not an address of customer 'example.com'" in problem["detail"]
    assert not fresh.requests
    assert {t: _addresses(fresh, t) for t in before} == before


def test_cli_refuses_an_unknown_identity_and_a_reseller_counts_its_own(
    service: Service, fresh: MockServer
) -> None:
    unknown = _cli(service.config, "--as", "reseller:nope", "count")
    assert unknown.returncode == 2, unknown.stderr
    assert "No reseller 'nope'" in unknown.stderr
    assert not fresh.requests
    own = _cli(service.config, "--json", "--as", "reseller:acme", "count")
    assert own.returncode == 0, own.stderr
    counted = json.loads(own.stdout)
    assert [item["key"] for item in counted["items"]] == ["example.com"], own.stdout


def test_cli_a_missing_journal_record_is_a_usage_error(service: Service) -> None:
    done = _cli(service.config, "journal", "show", "999999")
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "no record 999999" in done.stderr


def test_an_unsupported_operation_is_a_usage_error_in_every_face() -> None:
    from mailadmin.api.problems import status_of
    from mailadmin.cli.output import exit_code_for

    refusal = errors.UnsupportedOperation("create_mailbox:user", "exchange-eu", "no such thing")
    assert exit_code_for(refusal) == 2
    assert status_of(refusal) == 422

"""Reconcile: each kind of drift planted in a mock's state (through its control API) is
found, through Python, the CLI and HTTP; the import records the live use, only after its
dry run said what it would record."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from mailadmin.cli.commands import cli
from mailadmin.cli.demo import demo_config
from mailadmin.contract import errors
from mailadmin.orchestration.orchestrator import Orchestrator
from mailadmin.orchestration.registry import Registry, get_registry, set_registry

TENANT = "example.net"  # the memory platform's demo tenant
ORPHAN = "orphan.example"


@pytest.fixture
def registry() -> Iterator[Registry]:
    set_registry(None)
    yield get_registry()
    set_registry(None)


@pytest.fixture
def planted(registry: Registry, tmp_path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    """The demo, its memory tenant counted once (its use kept), then drifted behind
    mailadmin's back: a mailbox on a plan outside the catalogue, a tenant no customer maps
    to, and an allocation the platform's limit differs from."""
    with demo_config(registry, tmp_path) as (config, _, endpoints):
        config["customers"] = {TENANT: {"package": {"user_mailboxes": 50}}}
        url = endpoints["memory-demo"] + "/_mock/state"

        async def count() -> None:
            async with Orchestrator.from_dict(config) as orch:
                await orch.count_mailboxes(TENANT)

        asyncio.run(count())
        state = httpx.get(url).json()
        state["plans"].append({"name": "legacy", "quota_mb": 1024, "features": ["mail"]})
        state["tenants"][TENANT]["mailboxes"].append(
            {"address": "dave@example.net", "kind": "user", "plan": "legacy"}
        )
        state["tenants"][ORPHAN] = {"allocations": {}, "mailboxes": []}
        assert httpx.put(url, json=state).status_code < 300
        yield config, url


def _reconcile(config: dict[str, Any], **kwargs: Any) -> Any:
    async def go() -> Any:
        async with Orchestrator.from_dict(config) as orch:
            return await orch.reconcile(**kwargs)

    return asyncio.run(go())


def _kinds(report: Any, tenant: str) -> dict[tuple[str, str], Any]:
    return {(d.kind, d.subject): d for d in report.drifts if d.tenant == tenant}


def test_reconcile_finds_each_kind_of_drift(planted: tuple[dict[str, Any], str]) -> None:
    config, _ = planted
    report = _reconcile(config)
    mine = _kinds(report, TENANT)
    use = mine[("use", "user_mailboxes")]
    assert (use.store, use.platform) == (3, 4), "the planted mailbox is not seen"
    assert mine[("plan", "unmapped")].platform == 1, "the plan outside the catalogue"
    limit = mine[("limit", "mailboxes")]
    assert (limit.store, limit.platform) == (50, 10)
    orphan = _kinds(report, ORPHAN)
    assert ("unmapped_tenant", "") in orphan and orphan[("unmapped_tenant", "")].instance == (
        "memory-demo"
    )
    assert report.tenants_checked == len(config["tenants"])


def test_naming_a_tenant_reads_only_it(planted: tuple[dict[str, Any], str]) -> None:
    config, _ = planted
    report = _reconcile(config, tenants=[TENANT])
    assert {d.tenant for d in report.drifts} == {TENANT} and report.tenants_checked == 1


def test_import_dry_run_records_nothing_then_import_records_the_use(
    planted: tuple[dict[str, Any], str],
) -> None:
    config, _ = planted
    with pytest.raises(errors.ValidationError, match="--owner"):
        _reconcile(config, tenants=(), adopt=True)
    preview = _reconcile(config, adopt=True, owner="host", dry_run=True)
    assert f"use of {TENANT}" in preview.adopted and f"customer {ORPHAN}" in preview.adopted
    assert ("use", "user_mailboxes") in _kinds(_reconcile(config), TENANT), "a dry run recorded"
    done = _reconcile(config, adopt=True, owner="host")
    assert f"use of {TENANT}" in done.adopted

    async def rows() -> Any:
        async with Orchestrator.from_dict(config) as orch:
            assert orch.journal is not None
            return [e for e in orch.journal.entries() if e.operation == "reconcile_import"]

    journalled = asyncio.run(rows())
    assert len(journalled) == 1, "the import is not one journal row (its dry run is none)"
    assert journalled[0].status == "done" and f"use of {TENANT}" in journalled[0].after
    # The orphan is no configured tenant: told, not guessed into the configuration.
    assert any(a.startswith(f"not customer {ORPHAN}") for a in done.adopted)
    after = _kinds(_reconcile(config), TENANT)
    assert ("use", "user_mailboxes") not in after, "the import did not record the live use"
    assert ("plan", "unmapped") in after and ("limit", "mailboxes") in after


def test_only_the_site_admin_imports(planted: tuple[dict[str, Any], str]) -> None:
    config, _ = planted

    async def go() -> Any:
        async with Orchestrator.from_dict(config) as orch:
            with orch.acting_as(f"customer:{TENANT}"):
                report = await orch.reconcile()
                with pytest.raises(errors.PolicyDenied):
                    await orch.reconcile(adopt=True, owner="host")
                return report

    report = asyncio.run(go())
    assert {d.tenant for d in report.drifts} == {TENANT}, "a customer saw other tenants"


def _toml(config: dict[str, Any], path: Path) -> Path:
    import importlib.util
    import sys

    name = "mailadmin_tests_lifecycle"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("test_lifecycle.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    path.write_text(sys.modules[name]._toml(config))
    return path


def test_cli_prints_the_drift_as_a_table_json_and_csv(
    planted: tuple[dict[str, Any], str], tmp_path: Path
) -> None:
    config, _ = planted
    path = _toml(config, tmp_path / "mailadmin.toml")

    def run(*args: str, expect: int = 0) -> Any:
        result = CliRunner().invoke(cli, ["--config", str(path), *args])
        assert result.exit_code == expect, (result.stdout, result.stderr)
        return result

    table = run("reconcile")
    assert ORPHAN in table.stdout and "unmapped_tenant" in table.stdout
    document = json.loads(run("--json", "reconcile", TENANT).stdout)
    assert {d["kind"] for d in document["drifts"]} == {"use", "plan", "limit"}
    rows = list(csv.DictReader(io.StringIO(run("reconcile", "--csv").stdout)))
    assert {"unmapped_tenant", "use", "plan", "limit"} <= {r["kind"] for r in rows}
    refused = run("reconcile", "--owner", "acme", expect=2)
    assert "--import" in refused.stderr
    preview = run("reconcile", "--import", "--owner", "host", "--dry-run")
    assert "would record" in preview.stdout


def test_http_reconcile_and_import(planted: tuple[dict[str, Any], str]) -> None:
    from fastapi.testclient import TestClient

    from mailadmin.api.app import create_app
    from mailadmin.api.keys import ApiKeys
    from mailadmin.rules.identities import Identity

    config, _ = planted
    holder: dict[str, Orchestrator] = {}

    def factory() -> Orchestrator:
        holder["orch"] = Orchestrator.from_dict(config)
        return holder["orch"]

    with TestClient(create_app(orchestrator=factory)) as client:
        keys = ApiKeys(holder["orch"].rules.store)

        def as_(identity: str) -> Callable[..., Any]:
            key = keys.create(Identity.parse(identity), "test").key
            client.headers["Authorization"] = f"Bearer {key}"
            return client.request

        request = as_("site-admin")
        found = request("GET", "/v1/reconcile")
        assert found.status_code == 200, found.text
        assert ORPHAN in {d["tenant"] for d in found.json()["drifts"]}
        one = request("GET", f"/v1/reconcile?tenant={TENANT}").json()
        assert {d["tenant"] for d in one["drifts"]} == {TENANT}
        preview = request("POST", "/v1/reconcile/import?owner=host&dry_run=true").json()
        assert preview["dry_run"] and f"use of {TENANT}" in preview["adopted"]
        request = as_(f"customer:{TENANT}")
        assert request("POST", "/v1/reconcile/import?owner=host").status_code == 403

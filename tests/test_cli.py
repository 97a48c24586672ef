"""The command line against a mock served on loopback: output, exit codes, secrets."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailadmin.cli.commands import cli
from mailadmin.contract.hookspecs import hookimpl
from mailadmin.mock import MockServer
from mailadmin.mock.serve import serve
from mailadmin.orchestration.registry import Registry, set_registry
from mailadmin.reference.mock import MemoryMock

SECRET = "hunter2-Zq8-very-secret"
WRONG = "wrong-Kp4-also-secret"

CONFIG = """
[plans.mail]
rank = 1
[plans.sync]
rank = 2
[plans.collaborate]
rank = 3

[addons.shared_mailbox]

[instances.eu]
provider = "memory"
endpoint = "{endpoint}"
retries = 0
credentials = {{ username = "admin", secret_env = "MAILADMIN_TEST_SECRET" }}
plans.mail = {{ native = "basic" }}
plans.sync = {{ native = "standard" }}
plans.collaborate = {{ native = "premium" }}

[tenants."example.com"]
instance = "eu"

[journal]
url = "sqlite:///journal.sqlite"
"""


@pytest.fixture
def server() -> MockServer:
    return MockServer(MemoryMock, seed={"admin": {"username": "admin", "password": SECRET}})


@pytest.fixture
def endpoint(server: MockServer) -> Iterator[str]:
    with serve(server) as url:
        yield url


@pytest.fixture
def registry() -> Iterator[Registry]:
    registry = Registry(load=["reference"], disable=[])
    set_registry(registry)
    yield registry
    set_registry(None)


@pytest.fixture
def run(
    tmp_path: Path,
    endpoint: str,
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    path = tmp_path / "mailadmin.toml"
    path.write_text(CONFIG.format(endpoint=endpoint))
    monkeypatch.setenv("MAILADMIN_TEST_SECRET", SECRET)
    caplog.set_level(logging.DEBUG)

    def invoke(*args: str, expect: int = 0) -> tuple[str, str]:
        result = CliRunner().invoke(cli, ["--config", str(path), *args], catch_exceptions=False)
        assert result.exit_code == expect, (result.stdout, result.stderr)
        return result.stdout, result.stderr

    return invoke


def test_count_prints_a_table_for_people_and_json_for_machines(run) -> None:
    table, _ = run("count")
    assert "example.com" in table and "user=3" in table
    data = json.loads(run("--json", "count")[0])
    [item] = data["items"]
    assert item["value"]["by_plan"] == {"mail": 1, "sync": 1, "collaborate": 1}


def test_set_plan_dry_run_changes_nothing_then_the_change_lands(run, server: MockServer) -> None:
    preview = json.loads(run("--json", "set-plan", "anna@example.com", "sync", "--dry-run")[0])
    assert (preview["outcome"], preview["dry_run"], preview["after"]) == ("changed", True, "sync")
    assert server.writes() == []
    done = json.loads(run("--json", "set-plan", "anna@example.com", "sync")[0])
    assert (done["outcome"], done["before"]) == ("changed", "mail")
    assert [w.operation for w in server.writes()] == ["change_plan"]


def test_bulk_set_plan_reports_each_item_and_fails_the_exit_code(run, tmp_path: Path) -> None:
    changes = tmp_path / "changes.csv"
    changes.write_text("address,plan\nanna@example.com,collaborate\nghost@example.com,sync\n")
    out, _ = run("--json", "set-plan", "--file", str(changes), expect=4)
    items = json.loads(out)["items"]
    assert items[0]["value"]["after"] == "collaborate"
    assert items[1]["error"]["code"] == "not_found"


def test_exit_codes_tell_usage_policy_and_provider_failures_apart(
    run, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, err = run("set-plan", "anna@example.com", "platinum", expect=2)
    assert "Unknown plan 'platinum'" in err
    run("addon", "example.com", "shared_mailbox", "-3", expect=2)

    class Freeze:
        @hookimpl
        def mailadmin_before_call(self, call, provider):
            return "Plan changes are frozen until the billing run ends" if call.is_write else None

    registry.register_plugin(Freeze(), "freeze")
    _, err = run("set-plan", "anna@example.com", "sync", expect=3)
    assert "frozen until the billing run" in err
    registry.pm.unregister(name="freeze")
    monkeypatch.setenv("MAILADMIN_TEST_SECRET", WRONG)
    run("licence", expect=4)


def test_a_secret_never_appears_in_output_errors_or_logs(
    run, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    for args in (
        ["count"],
        ["--debug", "--json", "check"],
        ["--debug", "set-plan", "ben@example.com", "mail"],
    ):
        seen += run(*args)
    monkeypatch.setenv("MAILADMIN_TEST_SECRET", WRONG)
    for args in (
        ["--debug", "licence"],
        ["--debug", "--json", "set-plan", "anna@example.com", "sync"],
        ["--debug", "check"],
    ):
        out, err = run(*args, expect=4)
        seen += [out, err]
    assert "rejected the credentials" in "".join(seen) or "credentials" in "".join(seen)
    logs = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records, "the transport logs every call"
    for text in [*seen, logs]:
        assert SECRET not in text
        assert WRONG not in text


def test_providers_lists_capabilities_and_load_errors(run, registry: Registry) -> None:
    registry.register_plugin(object(), "inert")  # a plugin without hooks is harmless
    data = json.loads(run("--json", "providers")[0])
    [memory] = [p for p in data["providers"] if p["name"] == "memory"]
    assert "create_mailbox:room" in memory["capabilities"] and memory["distribution"] == "mailadmin"
    assert data["errors"] == []
    matrix, _ = run("providers", "--matrix")
    assert matrix.startswith("| feature | memory |")


def test_a_missing_configuration_is_a_usage_error(tmp_path: Path, registry: Registry) -> None:
    result = CliRunner().invoke(cli, ["--config", str(tmp_path / "none.toml"), "count"])
    assert result.exit_code == 2 and "No configuration file" in result.stderr


def test_mock_serve_prints_one_line_and_serves_until_stopped(tmp_path: Path) -> None:
    env = {**os.environ, "MAILADMIN_LOAD_PLUGINS": "reference"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mailadmin.cli", "mock", "serve", "memory", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        import httpx

        pong = httpx.get(line.removeprefix("listening on ") + "/api/ping", auth=("admin", "secret"))
        assert pong.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.stdout.read() == ""  # nothing but the one line

"""``mailadmin journal list/show/prune`` against a mock served on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailadmin.cli.commands import cli
from mailadmin.mock import Fault, MockServer
from mailadmin.mock.serve import serve
from mailadmin.orchestration.registry import Registry, set_registry
from mailadmin.reference.mock import MemoryMock

CONFIG = """
[plans.mail]
rank = 1
[plans.sync]
rank = 2
[instances.eu]
provider = "memory"
endpoint = "{endpoint}"
credentials = {{ username = "admin", secret = "secret" }}
plans.mail = {{ native = "basic" }}
plans.sync = {{ native = "standard" }}
[tenants."example.com"]
instance = "eu"
[journal]
url = "{journal}"
"""


@pytest.fixture
def server() -> MockServer:
    return MockServer(MemoryMock)


@pytest.fixture
def run(tmp_path: Path, server: MockServer, store_url: str) -> Iterator:
    registry = Registry(load=["reference"], disable=[])
    set_registry(registry)
    with serve(server) as endpoint:
        path = tmp_path / "mailadmin.toml"
        path.write_text(CONFIG.format(endpoint=endpoint, journal=store_url))

        def invoke(*args: str, expect: int = 0) -> str:
            result = CliRunner().invoke(cli, ["--config", str(path), *args])
            assert result.exit_code == expect, (result.stdout, result.stderr)
            return result.stdout

        yield invoke
    set_registry(None)


def test_list_by_run_show_and_prune(run, tmp_path: Path, server: MockServer) -> None:
    changes = tmp_path / "changes.csv"
    changes.write_text("address,plan\nanna@example.com,sync\nben@example.com,mail\n")
    bulk = json.loads(run("--json", "set-plan", "--file", str(changes)))
    run_id = bulk["run_id"]
    server.inject(Fault(kind="drop", operation="change_plan", handled=True))
    run("set-plan", "carla@example.com", "mail", "--as", "customer:example.com")

    listed = json.loads(run("--json", "journal", "list", "--run", run_id))["entries"]
    assert sorted(e["subject"] for e in listed) == ["anna@example.com", "ben@example.com"]
    [carla] = json.loads(run("--json", "journal", "list", "--identity", "customer:example.com"))[
        "entries"
    ]
    assert (carla["subject"], carla["outcome"], carla["open"]) == (
        "carla@example.com",
        "changed",
        False,
    )
    assert "debug" not in carla
    shown = json.loads(run("--json", "journal", "show", str(carla["id"])))
    # collaborate is not in this catalogue: the native plan name is what was read
    assert shown["state_before"] == "premium" and shown["target"] == "mail"
    assert "answer was lost" in shown["debug"]["note"]
    assert "carla@example.com" in run("journal", "show", str(carla["id"]))
    run("journal", "show", "99999", expect=2)

    assert (
        json.loads(run("--json", "journal", "prune", "--before", "2000-01-01", "--yes"))["deleted"]
        == 0
    )
    # A cut-off in the future takes every settled record, whatever the machine's speed.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    pruned = json.loads(run("--json", "journal", "prune", "--before", tomorrow, "--yes"))
    assert pruned["deleted"] == 3
    assert "nothing to resume" in run("journal", "resume")

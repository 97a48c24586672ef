"""The CLI's lists: ``--limit N`` and ``--all``, and "showing N of M" when a list is cut."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailadmin.cli.commands import cli
from mailadmin.mock import MockServer
from mailadmin.mock.serve import serve
from mailadmin.orchestration.registry import Registry, set_registry
from mailadmin.reference.mock import MemoryMock

CONFIG = """
[plans.mail]
rank = 1

[instances.eu]
provider = "memory"
endpoint = "{endpoint}"
retries = 0
credentials = {{ username = "admin", secret = "secret" }}
plans.mail = {{ native = "basic" }}

[tenants."example.com"]
instance = "eu"

[journal]
url = "sqlite:///{store}"
"""


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    set_registry(Registry(load=["reference"], disable=[]))
    with serve(MockServer(MemoryMock)) as url:
        path = tmp_path / "mailadmin.toml"
        path.write_text(CONFIG.format(endpoint=url, store=tmp_path / "store.sqlite"))
        yield path
    set_registry(None)


def run(config: Path, *args: str) -> tuple[str, str]:
    done = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return done.stdout, done.stderr


def test_a_cut_list_says_showing_n_of_m_and_all_shows_every_row(config: Path) -> None:
    for name in ("r1", "r2", "r3"):
        run(config, "resellers", "add", name)
    for _ in range(3):
        run(config, "keys", "create", "--identity", "site-admin")
    for n in range(3):
        run(config, "mailbox", "create", f"u{n}@example.com", "--plan", "mail")

    for command in (["resellers", "list"], ["keys", "list"], ["mailbox", "list", "example.com"]):
        cut, _ = run(config, *command, "--limit", "2")
        assert "showing 2 of " in cut, (command, cut)
        whole, _ = run(config, *command, "--all")
        assert "showing" not in whole, command
        total = int(cut.split("showing 2 of ", 1)[1].split()[0])
        assert _rows(cut) == 2 and _rows(whole) == total >= 3, command

    names = json.loads(run(config, "--json", "resellers", "list", "--limit", "2")[0])
    assert [r["name"] for r in names] == ["r1", "r2"]
    listed, note = run(config, "--json", "keys", "list", "--limit", "1")
    found = json.loads(listed)
    assert (len(found["keys"]), found["total"]) == (1, 3)
    assert "showing 1 of 3 keys" in note
    boxes = json.loads(run(config, "--json", "mailbox", "list", "example.com", "--all")[0])
    assert len(boxes["mailboxes"]) == boxes["total"] >= 3


def _rows(table: str) -> int:
    """The data rows of a plain table: after its title and header, before any note."""
    lines = table.strip().splitlines()[2:]
    return len([line for line in lines if not line.startswith("showing")])


def test_journal_list_takes_all(config: Path) -> None:
    for n in range(3):
        run(config, "mailbox", "create", f"j{n}@example.com", "--plan", "mail")
    cut, _ = run(config, "journal", "list", "--limit", "1")
    assert "showing 1 of 3 records" in cut and "--all" in cut
    whole = json.loads(run(config, "--json", "journal", "list", "--all")[0])
    assert len(whole["entries"]) == whole["total"] == 3

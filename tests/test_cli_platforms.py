"""The command line against the OX, Zextras and Exchange mocks served on loopback, as the
demo configures them: what a new user sees on each platform."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mailadmin.cli.commands import cli
from mailadmin.cli.demo import demo_config
from mailadmin.orchestration.registry import Registry, get_registry, set_registry

Run = Callable[..., tuple[str, str]]


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for the demo's configuration (tables, inline tables, scalars)."""
    scalars, tables = [], []
    for key, value in data.items():
        name = json.dumps(key)
        if value is None:
            continue
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            tables.append(_toml(value, f"{prefix}{name}."))
        elif isinstance(value, dict):
            scalars.append(f"{name} = {_inline(value)}")
        else:
            scalars.append(f"{name} = {_inline(value)}")
    head = f"[{prefix.rstrip('.')}]\n" if prefix else ""
    return head + "\n".join(scalars) + "\n\n" + "".join(tables)


def _inline(value: Any) -> str:
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)} = {_inline(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return json.dumps(value)


@pytest.fixture
def registry() -> Iterator[Registry]:
    set_registry(None)
    registry = get_registry()
    for name in ("ox", "zextras", "exchange"):
        if name not in registry.providers():
            pytest.skip(f"the {name} plugin is not installed")
    yield registry
    set_registry(None)


@pytest.fixture
def platforms(registry: Registry, tmp_path: Path) -> Iterator[dict[str, Any]]:
    with demo_config(registry, tmp_path) as (config, _, _):
        yield config


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    def write(config: dict[str, Any]) -> Path:
        path = tmp_path / "mailadmin.toml"
        path.write_text(_toml(config))
        return path

    return write


@pytest.fixture
def run(platforms: dict[str, Any], write_config: Callable[[dict[str, Any]], Path]) -> Run:
    path = write_config(platforms)

    def invoke(*args: str, expect: int = 0, stdin: str | None = None) -> tuple[str, str]:
        result = CliRunner().invoke(
            cli, ["--config", str(path), *args], input=stdin, catch_exceptions=False
        )
        assert result.exit_code == expect, (result.stdout, result.stderr)
        return result.stdout, result.stderr

    return invoke


def test_check_with_a_wrong_password_fails_in_the_row_the_summary_the_json_and_the_exit(
    platforms: dict[str, Any], write_config: Callable[[dict[str, Any]], Path]
) -> None:
    platforms["instances"]["ox-demo"]["credentials"]["secret"] = "wrong"
    path = write_config(platforms)
    result = CliRunner().invoke(cli, ["--config", str(path), "check"])
    assert result.exit_code == 4
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert ["ox-demo", "no"] in [row[:2] for row in rows]
    total = len(platforms["instances"])
    assert f"{total - 1} ok, 1 failed" in result.stdout
    data = json.loads(CliRunner().invoke(cli, ["--config", str(path), "--json", "check"]).stdout)
    assert (data["failed"], data["summary"]) == (1, {"ok": total - 1, "failed": 1})


def test_every_platform_s_rows_fit_80_columns_on_a_terminal(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "80")
    for args in (
        ["licence"],
        ["count"],
        ["check"],
        ["mailbox", "list", "example.org"],
        ["providers"],
        ["plans", "ox-demo"],
        ["report"],
        ["report", "usage"],
        ["report", "licences"],
        ["report", "renewals"],
    ):
        out = re.sub(r"\x1b\[[0-9;]*m", "", run(*args)[0])
        assert "…" not in out and "─" in out, (args, out)
        assert max(len(line) for line in out.splitlines()) <= 80, (args, out)
        # A row is one line, or a few where free text wraps: never 30.
        run_of, longest = 0, 0
        for line in out.splitlines():
            run_of = run_of + 1 if line.startswith("   ") and line.strip() else 0
            longest = max(longest, run_of)
        assert longest <= 3, (args, out)


def test_mailbox_list_and_count_speak_one_plan_vocabulary_on_every_platform(run: Run) -> None:
    counted = json.loads(run("count", "--json")[0])["items"]
    assert len(counted) >= 4  # one tenant per installed platform with a demo
    for item in counted:
        tenant, by_plan = item["key"], item["value"]["by_plan"]
        listed = json.loads(run("mailbox", "list", tenant, "--json")[0])["mailboxes"]
        plans: dict[str, int] = {}
        for mailbox in listed:
            if mailbox["kind"] == "user":
                plans[mailbox["plan"]] = plans.get(mailbox["plan"], 0) + 1
            else:
                assert mailbox["plan"] is None, mailbox
        assert plans == {k: v for k, v in by_plan.items() if v}, tenant
    # OX's context admin has the native combination "all", which no plan maps to.
    ox = json.loads(run("mailbox", "list", "example.com", "--json")[0])["mailboxes"]
    assert {m["address"]: m["plan"] for m in ox}["oxadmin@example.com"] == "unmapped"


def test_deleting_the_ox_context_admin_says_it_cannot_be_deleted(run: Run) -> None:
    _, err = run("mailbox", "delete", "oxadmin@example.com", "--yes", expect=2)
    assert "the context's admin user cannot be deleted" in err
    assert "invalid" not in err
    listed = json.loads(run("mailbox", "list", "example.com", "--json")[0])["mailboxes"]
    assert "oxadmin@example.com" in [m["address"] for m in listed]

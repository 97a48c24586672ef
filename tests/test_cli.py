"""The command line against a mock served on loopback: output, exit codes, secrets."""

from __future__ import annotations

import json
import logging
import os
import re
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
    assert "example.com\t5\t3\t1\t1\t0\t" in table
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
    assert memory["licence"] == "per_seat"  # the declared licence model
    assert data["errors"] == []
    table, _ = run("providers")
    assert "licence" in table.splitlines()[1] and "per_seat" in table
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


# -- set-plan --file: the format, checked before anything is sent ---------------------------


def _plan_file(tmp_path: Path, text: str | bytes) -> str:
    path = tmp_path / "changes.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_plan_file_with_bom_and_header_is_read(run, tmp_path: Path, server: MockServer) -> None:
    path = _plan_file(tmp_path, "\ufeffaddress,plan\r\nanna@example.com,sync\r\n".encode())
    out, _ = run("set-plan", "--file", path)
    assert "1 changed, 0 unchanged, 0 failed" in out
    assert [w.operation for w in server.writes()] == ["change_plan"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("anna@example.com,sync\n", "line 1: the first line must be the header 'address,plan'"),
        ("address,plan\nanna@example.com,sync\n\nben@example.com,mail\n", "line 3 is blank"),
        ("address,plan\nanna@example.com\n", "line 2 has 1 column; expected 2"),
        ("address,plan\nanna@example.com,sync,extra\n", "line 2 has 3 columns; expected 2"),
        (
            "address,plan\nanna@example.com,sync\nANNA@example.com,mail\n",
            "line 3 repeats ANNA@example.com from line 2",
        ),
        ("address,plan\nanna@example.com,platinum\n", "line 2: Unknown plan 'platinum'"),
        ("address,plan\nanna@nowhere.test,sync\n", "line 2: Unknown tenant 'nowhere.test'"),
        ("", "is empty"),
        ("address,plan\n", "holds the header but no change"),
    ],
)
def test_a_faulty_plan_file_is_a_usage_error_naming_the_line_and_sends_nothing(
    run, tmp_path: Path, server: MockServer, text: str, problem: str
) -> None:
    _, err = run("set-plan", "--file", _plan_file(tmp_path, text), expect=2)
    assert problem in err and "nothing was sent" in err
    assert server.writes() == []


def test_every_bulk_command_refuses_a_bad_batch_whole_and_names_each_item(
    run, tmp_path: Path, server: MockServer
) -> None:
    """The run service's check, the same for the Python forms and the HTTP API: every bad
    item is named, exit 2, nothing is sent and nothing is journalled."""
    # A bulk sale naming one reseller twice contradicts itself: refused before any sale.
    _, err = run(
        "sell",
        "shared_mailbox",
        "1",
        "--to",
        "resellers",
        "--reseller",
        "acme",
        "--reseller",
        "ACME",
        expect=2,
    )
    assert "nothing was sent: item 2 repeats item 1 (acme)" in err
    text = "address,plan\nanna@example.com,sync\nben@example.com,platinum\ncarl@nowhere.test,sync\n"
    _, err = run("set-plan", "--file", _plan_file(tmp_path, text), expect=2)
    assert "nothing was sent" in err
    assert "line 3: Unknown plan 'platinum'" in err and "line 4: Unknown tenant" in err
    assert "line 2" not in err
    assert server.writes() == []
    out, _ = run("--json", "journal", "list")
    assert json.loads(out)["entries"] == []


def test_address_and_plan_together_with_a_file_is_a_usage_error(run, tmp_path: Path) -> None:
    path = _plan_file(tmp_path, "address,plan\nanna@example.com,sync\n")
    _, err = run("set-plan", "anna@example.com", "sync", "--file", path, expect=2)
    assert "not both" in err


def test_one_row_from_a_file_has_the_shape_of_many(run, tmp_path: Path) -> None:
    one = json.loads(
        run(
            "--json",
            "set-plan",
            "--file",
            _plan_file(tmp_path, "address,plan\nanna@example.com,sync\n"),
        )[0]
    )
    assert set(one) >= {"items", "summary", "failed"} and len(one["items"]) == 1
    assert one["summary"] == {"changed": 1}


# -- bulk: summary, failures in every mode, raise stops, Ctrl-C -----------------------------

MANY = "address,plan\nghost@example.com,sync\nanna@example.com,sync\nben@example.com,collaborate\n"


@pytest.mark.parametrize(("mode", "code"), [("collect", 4), ("skip", 0), ("raise", 4)])
def test_every_on_error_mode_shows_the_failed_items_and_a_summary(
    run, tmp_path: Path, mode: str, code: int
) -> None:
    path = _plan_file(tmp_path, MANY)
    out, _ = run("set-plan", "--file", path, "--on-error", mode, "--concurrency", "1", expect=code)
    assert "ghost@example.com" in out and "does not exist" in out
    assert out.rstrip().splitlines()[-1].startswith(("2 changed", "0 changed")) or "stopped" in out
    data = json.loads(
        run("--json", "set-plan", "--file", path, "--on-error", mode, "--dry-run", expect=code)[0]
    )
    failed = [i for i in data["items"] if i["error"] and i["error"]["code"] == "not_found"]
    assert [i["key"] for i in failed] == ["ghost@example.com"]


def test_on_error_raise_sends_no_new_item_after_the_first_failure(
    run, tmp_path: Path, server: MockServer
) -> None:
    path = _plan_file(tmp_path, MANY)
    out, _ = run("set-plan", "--file", path, "--on-error", "raise", "--concurrency", "1", expect=4)
    assert "0 changed, 0 unchanged, 1 failed, 2 not sent" in out
    assert "stopped at the first failure" in out
    assert server.writes() == []


def test_collect_prints_the_summary_line(run, tmp_path: Path) -> None:
    out, _ = run("set-plan", "--file", _plan_file(tmp_path, MANY), expect=4)
    assert "2 changed, 0 unchanged, 1 failed" in out


async def test_a_cancelled_batch_finishes_what_is_on_the_wire_and_reports_the_rest() -> None:
    import asyncio

    from mailadmin.cli.batch import run_batch

    finished: list[str] = []

    def slow(key: str):
        async def call() -> str:
            await asyncio.sleep(0.2)
            finished.append(key)
            return key

        return call

    task = asyncio.ensure_future(run_batch([(k, slow(k)) for k in "abcdef"], concurrency=2))
    await asyncio.sleep(0.05)
    task.cancel()
    batch = await task
    assert batch.interrupted
    assert finished == ["a", "b"]  # in flight when cancelled: finished, not abandoned
    assert [i.key for i in batch.not_sent] == ["c", "d", "e", "f"]
    assert batch.summary() == {"ok": 2, "not sent": 4}


def _interrupt_when_sent(
    tmp_path: Path, server: MockServer, endpoint: str, *args: str
) -> tuple[int, str, str, list[str]]:
    """Run the CLI against a slow mock, press Ctrl-C once the first write is on the wire;
    returns the exit code, stdout, stderr and the journal's statuses."""
    import signal
    import sqlite3
    import time

    from mailadmin.mock.faults import Fault

    server.inject(Fault(kind="latency", operation="change_plan", delay=1.5))
    config = tmp_path / "mailadmin.toml"
    config.write_text(CONFIG.format(endpoint=endpoint))
    env = {**os.environ, "MAILADMIN_LOAD_PLUGINS": "reference", "MAILADMIN_TEST_SECRET": SECRET}
    process = subprocess.Popen(
        [sys.executable, "-m", "mailadmin.cli", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    journal = tmp_path / "journal.sqlite"
    deadline = time.monotonic() + 20
    started = 0
    try:
        while time.monotonic() < deadline and not started:
            time.sleep(0.05)
            if journal.exists():
                with sqlite3.connect(journal) as db:
                    try:
                        started = db.execute(
                            "select count(*) from mailadmin_journal where status='started'"
                        ).fetchone()[0]
                    except sqlite3.OperationalError:
                        started = 0
        assert started, "the first change never went out"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    with sqlite3.connect(journal) as db:
        statuses = [r[0] for r in db.execute("select status from mailadmin_journal")]
    return process.returncode, out, err, statuses


def test_ctrl_c_stops_cleanly_prints_the_summary_and_leaves_no_started_row(
    tmp_path: Path, server: MockServer, endpoint: str
) -> None:
    rows = "".join(f"{n}@example.com,sync\n" for n in ("anna", "ben", "carla"))
    path = _plan_file(tmp_path, "address,plan\n" + rows)
    code, out, err, statuses = _interrupt_when_sent(
        tmp_path, server, endpoint, "set-plan", "--file", path, "--concurrency", "1"
    )
    assert code == 130, (out, err)
    assert "1 changed, 0 unchanged, 0 failed, 2 not sent" in out
    assert "Traceback" not in err
    assert statuses == ["done"]


def test_ctrl_c_during_one_change_lets_it_finish_and_prints_it(
    tmp_path: Path, server: MockServer, endpoint: str
) -> None:
    code, out, err, statuses = _interrupt_when_sent(
        tmp_path, server, endpoint, "set-plan", "anna@example.com", "sync"
    )
    assert code == 130, (out, err)
    assert "anna@example.com\tchanged" in out and "Traceback" not in err
    assert statuses == ["done"]


# -- journal --------------------------------------------------------------------------------


def test_journal_lists_and_filters_writes(run) -> None:
    run("set-plan", "anna@example.com", "sync", "--dry-run")
    run("set-plan", "anna@example.com", "sync")
    run("set-plan", "ghost@example.com", "sync", expect=4)
    run("addon", "example.com", "shared_mailbox", "3")
    every = json.loads(run("journal", "list", "--json")[0])["entries"]
    assert [e["operation"] for e in every] == ["apply_addon", "set_plan", "set_plan", "set_plan"]
    failed = json.loads(run("journal", "--json", "list", "--outcome", "failed")[0])["entries"]
    assert [e["subject"] for e in failed] == ["ghost@example.com"]
    changed = json.loads(
        run("--json", "journal", "list", "--subject", "anna@", "--outcome", "changed")[0]
    )["entries"]
    assert [e["dry_run"] for e in changed] == [False, True]
    assert json.loads(run("journal", "list", "--until", "2000-01-01", "--json")[0]) == {
        "entries": [],
        "total": 0,
    }
    assert len(json.loads(run("journal", "list", "--since", "1h", "--json")[0])["entries"]) == 4
    adds = json.loads(run("journal", "list", "--operation", "apply_addon", "--json")[0])
    assert [e["subject"] for e in adds["entries"]] == ["example.com shared_mailbox"]
    table, _ = run("journal")
    assert table.splitlines()[0] == "Journal" and "ghost@example.com" in table
    _, err = run("journal", "list", "--since", "yesterday", expect=2)
    assert "--since takes an ISO date" in err


# -- output conventions ---------------------------------------------------------------------


def test_global_options_are_accepted_after_the_command(run, tmp_path: Path) -> None:
    data = json.loads(run("count", "--json")[0])
    assert data["items"][0]["key"] == "example.com"
    json.loads(run("set-plan", "anna@example.com", "sync", "--json", "--dry-run")[0])
    result = CliRunner().invoke(cli, ["count", "--config", str(tmp_path / "none.toml")])
    assert result.exit_code == 2 and "none.toml" in result.stderr


def test_under_json_every_outcome_is_json_on_stdout(run, tmp_path: Path, capsys) -> None:
    from mailadmin.cli import main

    out, _ = run("--json", "set-plan", "anna@example.com", "platinum", expect=2)
    assert json.loads(out)["error"]["code"] == "validation"
    out, _ = run("count", "nowhere.test", "--json", expect=2)
    assert "Unknown tenant" in json.loads(out)["error"]["message"]
    config = str(tmp_path / "mailadmin.toml")
    assert main(["--config", config, "--json", "addon", "example.com"]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "usage"
    assert main(["--json", "--config", config, "frobnicate"]) == 2
    assert "No such command" in json.loads(capsys.readouterr().out)["error"]["message"]


def test_tables_off_a_terminal_are_plain_and_grep_able(run) -> None:
    out, _ = run("count")
    lines = out.splitlines()
    assert lines[0] == "Mailboxes"
    assert lines[1].split("\t") == [
        "tenant",
        "total",
        "user",
        "shared",
        "room",
        "equipment",
        "by plan",
    ]
    assert lines[2].split("\t")[:2] == ["example.com", "5"]
    for line in lines:
        assert line == line.rstrip()
        assert not set(line) & set("┏━┃│─┡╇└┘┌┐")


def test_error_lines_are_not_wrapped_at_80_columns(run) -> None:
    _, err = run("set-plan", "anna@example.com", "p" * 120, expect=2)
    assert len(err.strip().splitlines()) == 1


def test_values_are_escaped_before_they_reach_the_renderer(run) -> None:
    _, err = run("count", "[/]", expect=2)
    assert "Unknown tenant '[/]'" in err
    # Refused as an address (it holds a '/', issue 29.9); the message shows it as typed.
    _, err = run("set-plan", "[bold]x[/bold]@example.com", "sync", expect=2)
    assert "'[bold]x[/bold]@example.com' is not a mail address" in err
    _, err = run("set-plan", "[bold]x@example.com", "sync", expect=4)
    assert "[bold]x@example.com" in err


def test_rich_tables_escape_markup_on_a_terminal() -> None:
    import io

    from rich.console import Console

    from mailadmin.cli.output import Output

    output = Output(as_json=False)
    output._console = Console(file=io.StringIO(), force_terminal=True, width=200)
    output.table("Plans of [red]x", ["[b]name"], [["[/]"], ["[link=x]y"]])
    text = output._console.file.getvalue()
    assert "[/]" in text and "[link=x]y" in text and "[red]x" in text


# -- exit codes -----------------------------------------------------------------------------


def test_an_unknown_tenant_or_instance_is_a_usage_error(run, server: MockServer) -> None:
    run("count", "nowhere.test", expect=2)
    run("licence", "nowhere", expect=2)
    run("addon", "nowhere.test", "shared_mailbox", "1", expect=2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ('secret_env = "MAILADMIN_TEST_SECRET"', "MAILADMIN_TEST_UNSET is not set"),
        ('secret_file = "missing.txt"', "cannot be read"),
    ],
)
def test_configuration_faults_found_when_an_instance_is_built_exit_2(
    tmp_path: Path, endpoint: str, registry: Registry, monkeypatch, change: str, message: str
) -> None:
    text = CONFIG.format(endpoint=endpoint).replace(
        'secret_env = "MAILADMIN_TEST_SECRET"',
        change.replace("MAILADMIN_TEST_SECRET", "MAILADMIN_TEST_UNSET"),
    )
    path = tmp_path / "mailadmin.toml"
    path.write_text(text)
    monkeypatch.delenv("MAILADMIN_TEST_UNSET", raising=False)
    for command in (["count"], ["check"], ["licence"], ["report"]):
        result = CliRunner().invoke(cli, ["--config", str(path), *command])
        assert result.exit_code == 2, (command, result.stdout, result.stderr)
        assert message in result.stderr


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('provider = "nosuch"', "No provider named 'nosuch'"),
        ('provider = "memory"\nbogus_key = 1', "bogus_key"),
    ],
)
def test_an_unknown_provider_or_setting_exits_2(
    tmp_path: Path, endpoint: str, registry: Registry, monkeypatch, line: str, message: str
) -> None:
    path = tmp_path / "mailadmin.toml"
    path.write_text(CONFIG.format(endpoint=endpoint).replace('provider = "memory"', line))
    monkeypatch.setenv("MAILADMIN_TEST_SECRET", SECRET)
    for command in (["count"], ["check"]):
        result = CliRunner().invoke(cli, ["--config", str(path), *command])
        assert result.exit_code == 2, (result.stdout, result.stderr)
        assert message in result.stderr


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite:///no/such/folder/journal.sqlite", "does not exist"),
        ("not a url", "is not a database URL"),
        ("nosuchdriver://x/y", "cannot be opened"),
    ],
)
def test_a_bad_journal_path_or_url_exits_2(
    tmp_path: Path, endpoint: str, registry: Registry, monkeypatch, url: str, message: str
) -> None:
    path = tmp_path / "mailadmin.toml"
    path.write_text(
        CONFIG.format(endpoint=endpoint).replace('"sqlite:///journal.sqlite"', f'"{url}"')
    )
    monkeypatch.setenv("MAILADMIN_TEST_SECRET", SECRET)
    result = CliRunner().invoke(cli, ["--config", str(path), "count"])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr


def test_report_says_over_use_in_json_and_by_exit_code_on_request(run) -> None:
    data = json.loads(run("report", "--json")[0])
    assert data["over_use"] is False  # the reference platform holds its own limits
    run("report", "--fail-on-over-use")


def test_report_exit_code_5_when_over_used(run, monkeypatch) -> None:
    from mailadmin.contract.models import Licence
    from mailadmin.orchestration.orchestrator import Orchestrator

    async def over(self, instance: str) -> Licence:
        return Licence(seats_licensed=2, seats_used=5)

    monkeypatch.setattr(Orchestrator, "get_licence", over)
    out, _ = run("report")
    assert "over-use" in out
    run("report", "--fail-on-over-use", expect=5)
    assert json.loads(run("report", "--json")[0])["over_use"] is True


# -- logs: a refused connection ----------------------------------------------------------------


def test_a_refused_connection_is_one_plain_warning_per_instance(
    tmp_path: Path, registry: Registry, monkeypatch
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    path = tmp_path / "mailadmin.toml"
    text = CONFIG.format(endpoint=f"http://127.0.0.1:{port}").replace("retries = 0", "retries = 2")
    path.write_text(text)
    monkeypatch.setenv("MAILADMIN_TEST_SECRET", SECRET)
    from mailadmin.wire import transport

    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr(transport.Transport, "sleep", staticmethod(no_wait), raising=False)
    result = CliRunner().invoke(cli, ["--config", str(path), "count"])
    assert result.exit_code == 4
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: eu: 127.0.0.1:{port}: connection refused; retrying where safe"]
    assert "Connect" not in result.stderr and "Traceback" not in result.stderr


# -- help and version -----------------------------------------------------------------------


def _leaf_commands() -> list[list[str]]:
    import click

    found: list[list[str]] = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                found.append([*prefix, name])
                walk(command, [*prefix, name])
            else:
                found.append([*prefix, name])

    cli.load_all()  # the root group imports command modules lazily
    walk(cli, [])
    return found


@pytest.mark.parametrize("path", _leaf_commands(), ids=" ".join)
def test_every_command_help_explains_every_option_with_an_example(path: list[str]) -> None:
    import click

    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{' '.join(path)} {param.opts[0]} has no help"
    if not isinstance(command, click.Group):
        assert "Example" in result.stdout, path
        assert "Exit codes: 0 success" in result.stdout and "$MAILADMIN_CONFIG" in result.stdout
    assert "--json" in result.stdout or isinstance(command, click.Group)


def test_main_help_shows_config_lookup_and_exit_codes() -> None:
    out = CliRunner().invoke(cli, ["--help"]).stdout
    assert "$MAILADMIN_CONFIG" in out and "./mailadmin.toml" in out
    for code in ("0", "1", "2", "3", "4", "5", "130"):
        assert f"\n    {code} " in out
    plan_help = CliRunner().invoke(cli, ["set-plan", "--help"]).stdout
    assert "address,plan" in plan_help and "--on-error" in plan_help
    for value in ("collect", "skip", "raise"):
        assert f"{value}:" in plan_help
    assert "--concurrency" in plan_help and "sent at once" in plan_help


def test_version_lists_the_installed_plugins(registry: Registry) -> None:
    out = CliRunner().invoke(cli, ["--version"]).stdout
    assert out.startswith("mailadmin ")
    assert "plugin reference: mailadmin" in out


# -- mailboxes ------------------------------------------------------------------------------


def test_mailboxes_are_listed_created_and_deleted(run, server: MockServer) -> None:
    listed = json.loads(run("mailbox", "list", "example.com", "--json")[0])["mailboxes"]
    assert "anna@example.com" in [m["address"] for m in listed]
    preview = json.loads(
        run("mailbox", "create", "dora@example.com", "--plan", "sync", "--dry-run", "--json")[0]
    )
    assert (preview["outcome"], preview["dry_run"]) == ("changed", True)
    assert server.writes() == []
    out, _ = run("mailbox", "create", "dora@example.com", "--plan", "sync", "--name", "Dora")
    assert "dora@example.com" in out and "changed" in out
    table, _ = run("mailbox", "list", "example.com")
    assert "dora@example.com\tuser\tsync" in table
    run("mailbox", "delete", "dora@example.com", "--yes")
    gone = json.loads(run("mailbox", "delete", "dora@example.com", "--json", "-y")[0])
    assert gone["outcome"] == "unchanged"


def test_a_missing_mailbox_names_the_mailbox_and_the_tenant(run) -> None:
    _, err = run("set-plan", "ghost@example.com", "sync", expect=4)
    assert "ghost@example.com" in err and "tenant example.com" in err


# -- input validation -----------------------------------------------------------------------


def test_quantities_out_of_range_are_refused_before_anything_is_sent(
    run, server: MockServer
) -> None:
    _, err = run("addon", "example.com", "shared_mailbox", "99999999999999999999", expect=2)
    assert "0<=x<=2147483647" in err or "2147483647" in err
    _, err = run("addon", "example.com", "shared_mailbox", "2147483648", expect=2)
    assert "2147483647" in err
    _, err = run("addon", "example.com", "shared_mailbox", "-1", expect=2)
    assert "No such option" not in err and "0<=x<=2147483647" in err
    # In range for the command, past seed 003's 9,999 per resource: refused by the policy.
    _, err = run("addon", "example.com", "shared_mailbox", "2147483647", "--dry-run", expect=3)
    assert "the most is 9999" in err
    run("addon", "example.com", "shared_mailbox", "9999", "--dry-run")
    assert server.writes() == []


@pytest.mark.parametrize(
    "address",
    [
        "an\x1bna@example.com",
        "an\x00na@example.com",
        "an\x7fna@example.com",
        "an\u202ena@example.com",
        "an\u200bna@example.com",
        "a" * 65 + "@example.com",
    ],
)
def test_addresses_with_control_characters_or_a_long_local_part_are_refused(
    run, server: MockServer, address: str
) -> None:
    run("set-plan", address, "sync", expect=2)
    run("mailbox", "create", address, expect=2)
    assert server.writes() == [] and server.calls("get_mailbox") == []


# -- results that agree ---------------------------------------------------------------------


def test_the_capability_matrix_in_json_is_data(run) -> None:
    data = json.loads(run("providers", "--matrix", "--json")[0])
    memory = data["matrix"]["memory"]
    assert memory["create_mailbox:room"] == {"supported": True, "reason": ""}
    assert all(isinstance(v["supported"], bool) for v in memory.values())


def test_the_licence_table_shows_features(run, monkeypatch) -> None:
    from mailadmin.contract.models import Licence, LicenceFeature
    from mailadmin.orchestration.orchestrator import Orchestrator

    async def licence(self, instance: str) -> Licence:
        features = (LicenceFeature(name="sync", quantity=10, used=4), LicenceFeature(name="mail"))
        return Licence(seats_licensed=20, seats_used=5, features=features)

    monkeypatch.setattr(Orchestrator, "get_licence", licence)
    out, _ = run("licence")
    # One row per feature, in a table of its own: the licence table stays 80 columns wide.
    features = out.split("Licensed features\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert features == [
        "instance\tfeature\tused\tlicensed",
        "eu\tsync\t4\t10",
        "eu\tmail\t\tunlimited",
    ]


def test_an_addon_result_names_the_addon_in_json_and_in_the_table(run) -> None:
    data = json.loads(run("addon", "example.com", "shared_mailbox", "3", "--json", "--dry-run")[0])
    assert data["subject"] == "example.com shared_mailbox" and data["dry_run"] is True
    out, _ = run("addon", "example.com", "shared_mailbox", "3", "--dry-run")
    assert out.splitlines()[2].startswith("example.com shared_mailbox\tchanged\tyes\t")


# -- the demo -------------------------------------------------------------------------------


def test_the_demo_says_which_tenant_lives_where_and_explains_unmapped(tmp_path: Path) -> None:
    from mailadmin.orchestration.registry import get_registry

    set_registry(None)
    registry = get_registry()
    if "ox" not in registry.providers():
        pytest.skip("the OX plugin is not installed")
    result = CliRunner().invoke(cli, ["demo", "--journal-dir", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    tenants = out.split("Tenants\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert tenants[0] == "tenant\tinstance\tplatform"
    assert "example.com\tox-demo\tOX App Suite" in tenants
    assert "unmapped: user mailboxes whose platform setting matches no plan" in out
    assert "context's admin user" in out
    headers = [line.split("\t") for line in out.splitlines() if line.startswith("tenant\ttotal")]
    assert headers and all(h[2:6] == ["user", "shared", "room", "equipment"] for h in headers)


# -- details a new user runs into (issue 25) ------------------------------------------------


def test_debug_after_the_command_turns_on_every_log_record(run) -> None:
    _, quiet = run("check")
    _, before = run("--debug", "check")
    _, after = run("check", "--debug")
    assert "debug: mailadmin" not in quiet
    assert "debug: mailadmin" in before and "debug: mailadmin" in after


def test_journal_list_says_when_the_limit_cut_it_short_and_how_to_see_more(run) -> None:
    for plan in ("sync", "mail", "collaborate"):
        run("set-plan", "anna@example.com", plan, "--dry-run")
    out, _ = run("journal", "list", "--limit", "2")
    assert "showing 2 of 3 records" in out and "--limit 3" in out
    assert len(json.loads(run("journal", "list", "--limit", "2", "--json")[0])["entries"]) == 2
    assert json.loads(run("journal", "list", "--limit", "2", "--json")[0])["total"] == 3
    out, _ = run("journal", "list")
    assert "showing" not in out


def test_journal_show_prints_values_as_json_not_python(run) -> None:
    run("set-plan", "anna@example.com", "sync")
    [entry] = json.loads(run("journal", "list", "--json")[0])["entries"]
    out, _ = run("journal", "show", str(entry["id"]))
    fields = dict(line.split("\t", 1) for line in out.splitlines()[2:] if "\t" in line)
    assert json.loads(fields["arguments"]) == entry["arguments"]
    assert "'" not in fields["arguments"] and "None" not in out and "True" not in out


def test_tables_fit_80_columns_on_a_terminal(run, monkeypatch: pytest.MonkeyPatch) -> None:
    run("set-plan", "anna@example.com", "sync")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    for args in (["count"], ["licence"], ["journal"], ["mailbox", "list", "example.com"]):
        out = re.sub(r"\x1b\[[0-9;]*m", "", run(*args)[0])
        assert "─" in out, "a terminal table is drawn"
        assert "…" not in out, (args, out)
        assert max(len(line) for line in out.splitlines()) <= 80, (args, out)


def test_store_upgrade_on_an_empty_database_says_it_created_the_schema(run, tmp_path: Path) -> None:
    from mailadmin.store.database import Database

    head = Database.head()
    out, _ = run("store", "upgrade")
    assert f"created the schema at {head}" in out and "->" not in out
    out, _ = run("store", "upgrade")
    assert f"the schema is current ({head})" in out
    older = tmp_path / "journal.sqlite"
    older.unlink()
    Database(f"sqlite:///{older}", upgrade=False).upgrade("0006")
    data = json.loads(run("store", "upgrade", "--json")[0])
    assert (data["from"], data["to"]) == ("0006", head)


def _on_a_terminal(config: Path, *args: str, answer: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with a pseudo-terminal as its input and type ``answer``."""
    import pty

    main_fd, terminal = pty.openpty()
    try:
        os.write(main_fd, answer.encode() + b"\n")
        return subprocess.run(
            [sys.executable, "-m", "mailadmin", "--config", str(config), *args],
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(terminal)
        os.close(main_fd)


def test_deleting_asks_on_a_terminal_and_scripts_pass_yes(
    run, server: MockServer, tmp_path: Path
) -> None:
    config = tmp_path / "mailadmin.toml"
    _, err = run("mailbox", "delete", "anna@example.com", expect=2)
    assert "pass --yes" in err and "nothing was changed" in err
    declined = _on_a_terminal(config, "mailbox", "delete", "anna@example.com", answer="n")
    assert declined.returncode == 2, declined.stderr
    assert "Delete the mailbox anna@example.com" in declined.stderr
    assert [w.operation for w in server.writes()] == []
    agreed = _on_a_terminal(config, "mailbox", "delete", "anna@example.com", answer="y")
    assert agreed.returncode == 0, agreed.stderr
    assert [w.operation for w in server.writes()] == ["delete_mailbox"]
    # A dry run deletes nothing, so it asks nothing.
    run("mailbox", "delete", "ben@example.com", "--dry-run")


@pytest.mark.parametrize(
    "args",
    [
        ["journal", "prune", "--before", "1d"],
        ["keys", "revoke", "3f9c2a1b7d4e"],
        ["runs", "prune"],
    ],
)
def test_every_command_that_removes_data_refuses_without_yes_off_a_terminal(
    run, args: list[str]
) -> None:
    _, err = run(*args, expect=2)
    assert "pass --yes" in err


@pytest.mark.parametrize("kind", ["room", "equipment", "shared"])
def test_a_plan_for_a_mailbox_that_is_not_a_user_is_refused(
    run, server: MockServer, kind: str
) -> None:
    _, err = run(
        "mailbox", "create", f"x-{kind}@example.com", "--kind", kind, "--plan", "sync", expect=2
    )
    assert "--plan" in err and "plans apply to user mailboxes only" in err
    assert server.writes() == []
    listed = json.loads(run("mailbox", "list", "example.com", "--json")[0])["mailboxes"]
    assert f"x-{kind}@example.com" not in [m["address"] for m in listed]


@pytest.mark.parametrize("path", _leaf_commands(), ids=" ".join)
def test_every_json_command_takes_fields(path: list[str]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "--json" not in result.stdout or "--fields" in result.stdout, path


def test_fields_keep_only_the_fields_asked_for(run) -> None:
    run("set-plan", "anna@example.com", "sync")
    counted = json.loads(run("count", "--fields", "key,value.total")[0])
    assert counted == {"items": [{"key": "example.com", "value": {"total": 5}}]}
    listed = json.loads(run("mailbox", "list", "example.com", "--json", "--fields", "address")[0])
    assert listed["mailboxes"][0] == {"address": "anna@example.com"}
    assert set(listed) == {"mailboxes"}
    entries = json.loads(run("--fields", "operation,subject", "journal", "list")[0])["entries"]
    assert entries == [{"operation": "set_plan", "subject": "anna@example.com"}]
    one = json.loads(run("set-plan", "ben@example.com", "mail", "--dry-run", "--fields=outcome")[0])
    assert one == {"outcome": "changed"}
    checked = json.loads(run("check", "--fields", "key,error.message")[0])
    assert checked == {"items": [{"key": "eu", "error": None}]}
    out, _ = run("count", "--fields", "tenant,nope", expect=2)
    error = json.loads(out)["error"]
    assert "'nope'" in error["message"] and "key, value" in error["message"]
    # Errors are never cut down.
    out, _ = run("count", "nowhere.test", "--fields", "key", expect=2)
    assert "Unknown tenant" in json.loads(out)["error"]["message"]


def test_csv_is_offered_by_reports_and_reconcile_only_and_help_says_so(run) -> None:
    from mailadmin.cli import main

    result = CliRunner().invoke(cli, ["--help"])
    assert "CSV comes from 'report NAME --csv' and 'reconcile --csv'" in " ".join(
        result.stdout.split()
    )
    report = CliRunner().invoke(cli, ["report", "--help"]).stdout
    assert "Only reports offer CSV" in " ".join(report.split())
    assert main(["count", "--csv"]) == 2
    out, _ = run("report", "licences", "--csv")
    assert out.splitlines()[0].count(",") >= 2


def test_fields_name_the_document_s_own_keys_or_its_records() -> None:
    from mailadmin.cli.fields import parse_fields, select_fields

    run = {"run_id": "r1", "state": "finished", "items": [{"seq": 0, "state": "done"}]}
    assert select_fields(run, ["state", "run_id"]) == {"state": "finished", "run_id": "r1"}
    assert select_fields(run, ["seq"]) == {"items": [{"seq": 0}]}
    assert select_fields([{"a": {"b": 1, "c": 2}}], ["a.b"]) == [{"a": {"b": 1}}]
    with pytest.raises(ValueError, match="--fields takes field names"):
        parse_fields(" , ")


def test_a_new_mailbox_model_refuses_a_plan_for_other_kinds_than_user() -> None:
    from pydantic import ValidationError

    from mailadmin.contract.models import MailboxKind, NewMailbox

    assert NewMailbox(address="a@example.com", plan="sync").plan == "sync"
    assert NewMailbox(address="r@example.com", kind=MailboxKind.ROOM).plan is None
    for kind in (MailboxKind.SHARED, MailboxKind.ROOM, MailboxKind.EQUIPMENT):
        with pytest.raises(ValidationError, match="plans apply to user mailboxes only"):
            NewMailbox(address="r@example.com", kind=kind, plan="sync")

"""Credentials never show: the CLI run as a user runs it (subprocesses, ``--debug``, ``--json``)
against a standalone OX mock whose admin password is recognisable, with faults that echo
the request; stdout, stderr (every DEBUG record), the journal database file and the report
are searched for it. Also: ``mailadmin demo`` at ``--debug`` shows no credential value,
and ``mailadmin mock serve`` binds loopback by default."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("mailadmin_ox")

from mailadmin.mock.serve import serve
from mailadmin.wire.soap import SoapVersion, fault_envelope

SECRET = "Rs9-Recognisable-Pw-5521"
RESELLER = "brand9"
ECHO = f"<creds><login>{RESELLER}</login><password>{SECRET}</password></creds>"

SEED = {
    "resellers": [
        {
            "name": RESELLER,
            "password": SECRET,
            "restrictions": {"Subadmin.MaxOverallUser": "20", "Subadmin.MaxContext": "3"},
        }
    ],
    "contexts": [
        {
            "id": 42,
            "name": "example.org",
            "maxQuota": 5120,
            "owner": RESELLER,
            "restrictions": {"Context.MaxUser": "10"},
            "users": [
                {"name": "jane", "access_combination": "pim"},
                {"name": "mike", "access_combination": "pim_mobility"},
            ],
        }
    ],
}


def _config(url: str, journal: Path) -> str:
    from mailadmin_ox.demo import sample_config

    plans = sample_config()["instances"]["ox"]["plans"]
    lines = [
        "[journal]",
        f'url = "sqlite:///{journal}"',
        "[plans.mail]",
        "rank = 1",
        "[plans.sync]",
        "rank = 2",
        "[plans.collaborate]",
        "rank = 3",
        "[addons.mailboxes]",
        'unit = "seats"',
        "[instances.ox-sec]",
        'provider = "ox"',
        f'endpoint = "{url}"',
        'mode = "reseller"',
        f'credentials = {{ username = "{RESELLER}", secret_env = "OX_SEC_SECRET" }}',
        "retries = 1",
        "timeout = 5",
        "deadline = 10",
    ]
    for name, plan in plans.items():
        fields = ", ".join(f"{k} = {json.dumps(v)}" for k, v in plan.items())
        lines.append(f"plans.{name} = {{ {fields} }}")
    lines += ['[tenants."example.org"]', 'instance = "ox-sec"', 'native_id = "42"']
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("secrets")
    journal = folder / "journal.sqlite"
    with serve("ox", seed=SEED) as url:
        config = folder / "mailadmin.toml"
        config.write_text(_config(url, journal))
        yield url, config, journal


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OX_SEC_SECRET": SECRET, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "mailadmin", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def _inject(url: str, fault: dict[str, Any]) -> None:
    httpx.post(f"{url}/_mock/faults", json=fault, timeout=5).raise_for_status()


def _clear(url: str) -> None:
    httpx.delete(f"{url}/_mock/faults", timeout=5)


def _assert_clean(where: str, text: str) -> None:
    assert SECRET not in text, f"the secret shows in {where}"
    assert SECRET.lower() not in text.lower(), f"the secret shows in {where}"


def test_cli_runs_and_reports_show_no_secret(setup):
    _url, config, journal = setup
    runs = [
        ("--debug", "check"),
        ("--debug", "--json", "count", "example.org"),
        ("--debug", "set-plan", "jane@example.org", "sync", "--dry-run"),
        ("--debug", "set-plan", "jane@example.org", "sync"),
        ("--debug", "--json", "addon", "example.org", "mailboxes", "8"),
        ("--debug", "licence"),
        ("--debug", "report"),
        ("--json", "report"),
        ("--debug", "journal", "list"),
    ]
    outputs = []
    for args in runs:
        done = _cli(config, *args)
        outputs.append((args, done))
        _assert_clean(f"stdout of {args}", done.stdout)
        _assert_clean(f"stderr of {args}", done.stderr)
    # The runs did real work and logged at DEBUG (request bodies with the credentials).
    assert outputs[3][1].returncode == 0, outputs[3][1].stderr
    assert "debug:" in outputs[0][1].stderr
    assert re.search(r"password>\*\*\*</", "".join(d.stderr for _, d in outputs))
    _assert_clean("the journal database", journal.read_bytes().decode("latin-1"))


@pytest.mark.parametrize(
    ("operation", "command"),
    [
        ("getAccessCombinationName", ("set-plan", "mike@example.org", "collaborate")),
        ("change", ("addon", "example.org", "mailboxes", "9")),
        ("getData", ("licence",)),
    ],
)
def test_faults_echoing_the_request_show_no_secret(setup, operation, command):
    url, config, journal = setup
    body = fault_envelope(
        SoapVersion.SOAP11,
        "Server",
        f"Authentication failed for {RESELLER}:{SECRET}; request: {ECHO}",
    ).decode()
    _inject(
        url,
        {
            "kind": "status",
            "status": 500,
            "operation": operation,
            "body": body,
            "content_type": "text/xml; charset=UTF-8",
        },
    )
    try:
        for flags in (("--debug",), ("--debug", "--json")):
            done = _cli(config, *flags, *command)
            assert done.returncode != 0, done.stdout
            _assert_clean(f"stdout of {command}", done.stdout)
            _assert_clean(f"stderr of {command}", done.stderr)
            if command[0] != "licence":  # a batch command lists failures without detail
                assert "request_id" in done.stdout + done.stderr  # the debug detail shown
    finally:
        _clear(url)
    _assert_clean("the journal database", journal.read_bytes().decode("latin-1"))


def test_the_demo_at_debug_shows_no_credential_value(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mailadmin", "--debug", "demo", "--journal-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = done.stdout + done.stderr
    assert "debug:" in done.stderr
    # Every mock signs in with "secret"; no credential field may carry it in clear.
    leaks = re.findall(
        r"(?i)(?:password|secret|authToken|access_token|client_secret)\W{1,4}(?!\*\*\*)secret\b",
        text,
    )
    assert not leaks, leaks[:3]
    assert not re.search(r"(?i)bearer\s+(?!\*\*\*)[A-Za-z0-9._-]{12,}", text)
    for database in tmp_path.glob("*"):
        if database.is_file():
            raw = database.read_bytes().decode("latin-1")
            assert not re.search(r"(?i)password\W{1,4}secret\b", raw)


def test_mock_serve_binds_loopback_by_default():
    process = subprocess.Popen(
        [sys.executable, "-m", "mailadmin", "mock", "serve", "ox"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert line.startswith("listening on http://127.0.0.1:"), line

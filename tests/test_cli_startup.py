"""``mailadmin --help`` loads only what it prints: no event loop, models, HTTP or database
modules. Read-only commands start light too: no Alembic or Mako for the schema check of a
store already at the newest version, no CA bundle loaded for an ``http://`` endpoint, no
rich or pygments off a terminal. (What they cost is measured by benchmarks/run.py and
benchmarks/cli.py, not here.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailadmin.mock.serve import serve
from mailadmin.mock.server import MockServer
from mailadmin.reference.mock.platform import MemoryMock

NOT_FOR_HELP = ("asyncio", "pydantic", "httpx", "aiohttp", "sqlalchemy", "pluggy", "rich")


def test_help_imports_no_event_loop_models_http_or_database() -> None:
    script = (
        "import sys, json, contextlib, io\n"
        "from mailadmin.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    code = main(['--help'])\n"
        "assert code == 0 and 'Usage' in out.getvalue()\n"
        # A None entry is an import refused, not a module loaded (httpx's own CLI).
        "print(json.dumps(sorted(k for k, v in sys.modules.items() if v is not None)))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = set(json.loads(run.stdout.strip().splitlines()[-1]))
    assert not sorted(m for m in loaded if m.split(".")[0] in NOT_FOR_HELP)


READ_ONLY = ("count", "plans", "licence", "providers", "check")

#: Runs the CLI in process, counting CA bundle loads, and prints what was imported.
_PROBE = """
import contextlib, io, json, ssl, sys
loads = []
_load = ssl.SSLContext.load_verify_locations
def _probe(self, *args, **kwargs):
    loads.append(1)
    return _load(self, *args, **kwargs)
ssl.SSLContext.load_verify_locations = _probe
from mailadmin.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "out": out.getvalue(), "ca_loads": len(loads),
                  "modules": sorted(sys.modules)}))
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A one-tenant configuration over the memory mock on ``http://`` loopback, its store
    created (and brought to the newest version) by a first command."""
    folder = tmp_path_factory.mktemp("cli")
    with serve(MockServer(MemoryMock)) as url:
        path = folder / "mailadmin.toml"
        path.write_text(
            f"""
[journal]
url = "sqlite:///{folder / "mailadmin.sqlite"}"
[plans.mail]
[plans.sync]
[instances.mem]
provider = "memory"
endpoint = "{url}"
credentials = {{ username = "admin", secret = "secret" }}
plans.mail = {{ native = "basic" }}
plans.sync = {{ native = "standard" }}
[tenants."example.com"]
instance = "mem"
domains = ["example.com"]
"""
        )
        assert _probe(path, "count")["code"] == 0  # creates the store
        yield path


def _probe(config: Path, command: str, env: dict[str, str] | None = None) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, "--config", str(config), command],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=env,
    )
    found: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return found


@pytest.mark.parametrize("command", READ_ONLY)
def test_read_only_commands_load_no_alembic_no_ca_bundle_no_rich(
    config: Path, command: str
) -> None:
    found = _probe(config, command)
    assert found["code"] == 0, found["out"]
    modules = {str(m).split(".")[0] for m in found["modules"]}  # type: ignore[attr-defined]
    assert not modules & {"alembic", "mako"}
    assert not modules & {"rich", "pygments"}
    assert found["ca_loads"] == 0


def test_a_forced_terminal_still_draws_tables_with_rich(config: Path) -> None:
    env = {**os.environ, "FORCE_COLOR": "1"}
    found = _probe(config, "count", env)
    assert found["code"] == 0
    assert "rich" in {str(m).split(".")[0] for m in found["modules"]}  # type: ignore[attr-defined]
    assert "\t" not in str(found["out"])  # drawn, not tab-separated


#: Commands that neither write nor record anything (``count`` records the use it counted).
NO_STORE = ("plans", "licence", "check", "providers")


@pytest.mark.parametrize("command", NO_STORE)
def test_commands_that_store_nothing_never_open_the_store(config: Path, command: str) -> None:
    found = _probe(config, command)
    assert found["code"] == 0, found["out"]
    modules = {str(m).split(".")[0] for m in found["modules"]}  # type: ignore[attr-defined]
    assert "sqlalchemy" not in modules


def test_a_deferred_store_that_cannot_be_opened_is_a_configuration_fault(
    tmp_path: Path,
) -> None:
    from mailadmin import errors
    from mailadmin.store.journal import Journal

    journal = Journal.deferred(f"sqlite:///{tmp_path}/missing/folder/journal.sqlite")
    journal.close()  # never opened: nothing to close, nothing created
    assert not (tmp_path / "missing").exists()
    with pytest.raises(errors.ConfigurationError):
        journal.entries()


def test_a_deferred_store_opens_on_first_use(tmp_path: Path) -> None:
    from mailadmin.store.journal import Journal

    journal = Journal.deferred(f"sqlite:///{tmp_path}/journal.sqlite")
    assert not (tmp_path / "journal.sqlite").exists()
    assert journal.entries() == []
    assert type(journal) is Journal and (tmp_path / "journal.sqlite").exists()
    journal.close()

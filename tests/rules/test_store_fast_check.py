"""A store already at the newest version is recognised without Alembic (a read-only
command's start-up); any other store still goes through Alembic's upgrade."""

from __future__ import annotations

import json
import subprocess
import sys

from mailadmin.store.database import Database, _head_from_files

_OPEN = (
    "import json, sys\n"
    "from mailadmin.store.database import Database\n"
    "store = Database(sys.argv[1])\n"
    "store.engine\n"
    "print(json.dumps([store.found(), sorted(m for m in sys.modules if m.split('.')[0] in "
    "('alembic', 'mako'))]))\n"
)


def _open_elsewhere(url: str) -> tuple[str | None, list[str]]:
    run = subprocess.run(
        [sys.executable, "-c", _OPEN, url], capture_output=True, text=True, check=True, timeout=60
    )
    found, modules = json.loads(run.stdout.strip().splitlines()[-1])
    return found, modules


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    assert _head_from_files() == Database.head()


def test_a_store_at_the_newest_version_opens_without_alembic(store_url: str) -> None:
    Database(store_url).upgrade()
    found, modules = _open_elsewhere(store_url)
    assert found == Database.head()
    assert modules == []


def test_an_older_store_is_still_upgraded(store_url: str) -> None:
    store = Database(store_url, upgrade=False)
    store.upgrade("0005")
    store.close()
    found, modules = _open_elsewhere(store_url)
    assert found == "0005"  # what it was before this process upgraded it
    assert "alembic" in modules
    assert Database(store_url, upgrade=False).current() == Database.head()


def test_an_empty_store_is_created_by_alembic(store_url: str) -> None:
    found, modules = _open_elsewhere(store_url)
    assert found is None and "alembic" in modules
    assert Database(store_url, upgrade=False).current() == Database.head()

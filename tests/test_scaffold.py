"""``mailadmin new-plugin`` writes a plugin that installs and passes its own conformance suite."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mailadmin.cli.commands import cli
from mailadmin.contract import errors
from mailadmin.contract.capabilities import KNOWN_ADDONS
from mailadmin.scaffold import create_plugin, plugin_names
from mailadmin.testing.requirements import MARKER
from mailadmin.testing.suite import ConformanceSuite


def test_new_plugin_writes_a_distribution(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["new-plugin", "kerio", "--directory", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "mailadmin-kerio"
    assert f"created plugin in {root}" in result.output
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/mailadmin_kerio/__init__.py",
        "src/mailadmin_kerio/mock/__init__.py",
        "src/mailadmin_kerio/mock/handlers.py",
        "src/mailadmin_kerio/mock/platform.py",
        "src/mailadmin_kerio/mock/routes.py",
        "src/mailadmin_kerio/mock/state.py",
        "src/mailadmin_kerio/plugin.py",
        "src/mailadmin_kerio/provider.py",
        "src/mailadmin_kerio/py.typed",
        "src/mailadmin_kerio/settings.py",
        "tests/conftest.py",
        "tests/test_conformance.py",
    ]
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points.mailadmin]\nkerio = "mailadmin_kerio.plugin"' in pyproject
    assert 'name = "mailadmin-kerio"' in pyproject
    provider = (root / "src/mailadmin_kerio/provider.py").read_text()
    assert (
        "class KerioProvider(Provider[KerioSettings]):" in provider and 'name = "kerio"' in provider
    )
    assert "$" not in provider  # every placeholder was filled


def test_names_follow_the_plugin_name() -> None:
    names = plugin_names("google_workspace")
    assert names.distribution == "mailadmin-google-workspace"
    assert names.package == "mailadmin_google_workspace"
    assert (names.cls, names.title) == ("GoogleWorkspace", "Google Workspace")


@pytest.mark.parametrize(
    "bad", ["Kerio", "1mail", "my-plugin", "my plugin", "a__b", "trailing_", "class", "x" * 41, ""]
)
def test_a_bad_name_is_refused_with_a_clear_message(tmp_path: Path, bad: str) -> None:
    result = CliRunner().invoke(cli, ["new-plugin", bad, "--directory", str(tmp_path)])
    assert result.exit_code == 2
    assert "cannot name a plugin" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_builtin_provider_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(errors.ValidationError, match="built into mailadmin"):
        create_plugin("memory", tmp_path)


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    existing = tmp_path / "mailadmin-kerio"
    existing.mkdir()
    (existing / "mine.txt").write_text("keep me")
    result = CliRunner().invoke(cli, ["new-plugin", "kerio", "--directory", str(tmp_path)])
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert [p.name for p in existing.iterdir()] == ["mine.txt"]


def test_the_generated_plugin_installs_and_passes_its_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built with the installed hatchling into a private folder (no network, nothing added
    to the environment), then its own tests run in a fresh interpreter."""
    root = create_plugin("scaffold_check", tmp_path)
    site = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    install = subprocess.run(
        [*pip, "--no-build-isolation", "--target", str(site), str(root)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("MAILADMIN_LOAD_PLUGINS", None)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-rs", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]

    monkeypatch.syspath_prepend(str(site))
    try:
        provider = importlib.import_module("mailadmin_scaffold_check.provider")
        capabilities = provider.ScaffoldCheckProvider.capabilities
    finally:
        for module in [m for m in sys.modules if m.startswith("mailadmin_scaffold_check")]:
            del sys.modules[module]
    passed, skipped = _expected_outcomes(capabilities)
    summary = run.stdout.strip().splitlines()[-1]
    assert re.search(rf"\b{passed} passed, {skipped} skipped\b", summary), summary
    for reason in set(capabilities.unsupported.values()):
        assert re.search(rf"scaffold_check does not support \S+: {re.escape(reason)}", run.stdout)


def _expected_outcomes(capabilities: Any) -> tuple[int, int]:
    """How many tests of the whole kit pass and skip, in both modes, for these capabilities.

    Every test of ``ConformanceSuite`` runs once per parameter combination, twice (one per
    mode) when it talks to the mock; it is skipped when it requires an undeclared feature.
    The test of add-ons beyond the known ones skips when there are none.
    """
    passed = skipped = 0
    for name, function in inspect.getmembers(ConformanceSuite, inspect.isfunction):
        if not name.startswith("test_"):
            continue
        marks = getattr(function, "pytestmark", [])
        combos: list[dict[str, Any]] = [{}]
        for mark in (m for m in marks if m.name == "parametrize"):
            combos = [{**c, mark.args[0]: value} for c in combos for value in mark.args[1]]
        modes = 2 if "mailadmin_harness" in inspect.signature(function).parameters else 1
        required = [key for m in marks if m.name == MARKER for key in m.args]
        for combo in combos:
            keys = [key.format(**{k: str(v) for k, v in combo.items()}) for key in required]
            gap = any(not capabilities.supports(key) for key in keys)
            if name == "test_other_declared_addons":
                gap = not capabilities.addons - set(KNOWN_ADDONS)
            if gap:
                skipped += modes
            else:
                passed += modes
    return passed, skipped

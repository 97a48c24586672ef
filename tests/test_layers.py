"""The import rule: the core's layers form one line, and plugins reach the core through
``mailadmin.sdk``, ``mailadmin.mock`` and ``mailadmin.testing`` only.

Every import is walked, at module level, in functions and under ``TYPE_CHECKING`` alike:
a type-only import still ties the importer to the imported layer. ``docs/architecture.md``
shows the line and says why each exception below exists.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import mailadmin

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "src" / "mailadmin"
PLUGINS = ROOT / "plugins"

#: The line, bottom to top: a package imports only packages of a lower rank (and itself).
RANK = {
    "errors": 0,
    "models": 0,
    "wire": 1,
    "contract": 2,
    "store": 3,
    "rules": 4,
    "orchestration": 5,
    "reports": 6,
    "api": 7,
    "cli": 7,
    "worker": 7,
}
#: The vocabulary at the bottom imports nothing from the project.
VOCABULARY = {"errors", "models"}
#: The faces sit side by side: none imports another (see FACE_EXCEPTIONS).
FACES = {"api", "cli", "worker"}

#: Beside the line: each toolkit and the layers it may import (besides itself).
TOOLKITS: dict[str, set[str]] = {
    # What plugin authors import: the contract and the wire's building blocks.
    "sdk": {"errors", "models", "wire", "contract"},
    # The mock-server toolkit: it speaks the wire formats, it knows no business rule.
    "mock": {"errors", "models", "wire"},
    # The conformance kit drives a plugin through the whole core, as a host would.
    "testing": {"errors", "models", "wire", "contract", "store", "rules", "orchestration"}
    | {"sdk", "mock"},
    # ``mailadmin new-plugin``: writes a template, refuses names a built-in plugin uses.
    "scaffold": {"errors", "models", "contract"},
}
#: The reference plugin ships inside the core but is a plugin: it obeys the plugin rule.
PLUGIN_IMPORTS = {"sdk", "mock", "testing"}

#: Toolkits beside the line that layers may use: the registry hands out each plugin's mock
#: (``mailadmin mock serve``, the demo), and the CLI writes new plugins from the scaffold.
LINE_MAY_USE: dict[str, set[str]] = {
    "mock": {"orchestration", "api", "cli", "worker"},
    "scaffold": {"cli"},
}

#: (importer module, imported module) pairs that break the rule for a stated reason.
FACE_EXCEPTIONS = {
    # ``mailadmin serve`` starts the HTTP API and ``mailadmin keys`` manages its keys: the
    # shell is how the HTTP face is run and administered.
    ("mailadmin.cli.api", "mailadmin.api.server"),
    ("mailadmin.cli.api", "mailadmin.api.keys"),
    # ``mailadmin worker`` starts a worker and ``mailadmin runs prune`` trims finished runs:
    # the shell is how the worker face is run.
    ("mailadmin.cli.runs", "mailadmin.worker.engine"),
    ("mailadmin.cli.runs", "mailadmin.worker.prune"),
}
TOOLKIT_EXCEPTIONS = {
    # Finding a plugin's mock (or refusing a built-in plugin's name) means asking the
    # plugin registry, which lives in orchestration; nothing else of orchestration is used.
    ("mailadmin.mock.lookup", "mailadmin.orchestration.registry"),
    ("mailadmin.scaffold.create", "mailadmin.orchestration.registry"),
}

#: Removed by the pipeline/run-service work (issue 22, done beside this test): the
#: orchestration <-> rules <-> worker circle, and the faces that still own a run's journal
#: scope or read run storage directly. Empty this list once that work is merged.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()  # none: the layers form one line

#: The faces call orchestration only (the store is reached through it, e.g.
#: ``orchestration/storage.py``). What still reaches into ``store/`` directly:
FACES_INTO_STORE: set[tuple[str, str]] = set()  # none: through orchestration/storage.py


@dataclass(frozen=True)
class Import:
    """One import statement's target, resolved to a module path."""

    importer: str  # dotted module name, or a plugin file's path
    path: Path
    line: int
    target: str  # dotted module name


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _lazy_target(name: str) -> str:
    """What ``from mailadmin import name`` really imports."""
    if (CORE / name).is_dir() or (CORE / f"{name}.py").is_file():
        return f"mailadmin.{name}"
    lazy: dict[str, str] = getattr(mailadmin, "_LAZY", {})
    if name in lazy:
        return lazy[name]
    return "mailadmin"  # package metadata such as __version__


def _imports(path: Path, importer: str) -> Iterator[Import]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(importer, path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node, importer, is_package)
            if module == "mailadmin":
                for alias in node.names:
                    yield Import(importer, path, node.lineno, _lazy_target(alias.name))
            else:
                yield Import(importer, path, node.lineno, module)


def _core_imports() -> Iterator[Import]:
    for path in sorted(CORE.rglob("*.py")):
        yield from _imports(path, _module_name(path, CORE.parent))


def _plugin_imports() -> Iterator[Import]:
    for path in sorted(PLUGINS.glob("*/src/**/*.py")) + sorted(PLUGINS.glob("*/tests/**/*.py")):
        yield from _imports(path, str(path.relative_to(ROOT)))


def _package(module: str) -> str:
    """``mailadmin.wire.transport`` -> ``wire``; the package itself -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _core_problem(found: Import) -> str | None:
    """Why this core import breaks the rule, or None."""
    if found.target.split(".")[0] != "mailadmin":
        return None  # the standard library and third parties
    source, target = _package(found.importer), _package(found.target)
    pair = (found.importer, found.target)
    if source == target or target == "" or pair in KNOWN_VIOLATIONS:
        return None
    if source in VOCABULARY:
        return f"{source} is the bottom vocabulary: it imports nothing from the project"
    if source == "reference":
        return None if target in PLUGIN_IMPORTS else "a plugin imports sdk, mock, testing only"
    if source == "" or source == "__main__":
        # The package's lazy public names and ``python -m mailadmin``: the top of everything.
        return None
    if source in TOOLKITS:
        if target in TOOLKITS[source] or pair in TOOLKIT_EXCEPTIONS:
            return None
        return f"{source} may import {sorted(TOOLKITS[source])} only"
    if source not in RANK:
        return f"{source} is in no layer: add it to the line or beside it"
    if target in RANK:
        if source in FACES and target in FACES:
            return None if pair in FACE_EXCEPTIONS else "faces do not import each other"
        if RANK[target] < RANK[source]:
            return None
        return f"{source} (rank {RANK[source]}) imports {target} (rank {RANK[target]})"
    if source in LINE_MAY_USE.get(target, set()):
        return None
    return f"{source} may not import the {target} toolkit"


def _plugin_problem(found: Import) -> str | None:
    top = found.target.split(".")[0]
    if top != "mailadmin":
        return None  # the plugin's own package, the standard library, third parties
    return None if _package(found.target) in PLUGIN_IMPORTS else "plugins import sdk, mock, testing"


def _report(problems: list[tuple[Import, str]]) -> str:
    return "\n".join(f"{i.path}:{i.line}: {i.importer} -> {i.target}: {why}" for i, why in problems)


def test_every_core_import_goes_down_the_line() -> None:
    problems = [(i, why) for i in _core_imports() if (why := _core_problem(i)) is not None]
    assert not problems, "\n" + _report(problems)


def test_plugins_import_only_the_sdk_the_mock_toolkit_and_the_conformance_kit() -> None:
    imports = list(_plugin_imports())
    assert len({i.path for i in imports}) > 30  # the walk found the plugins' files
    problems = [(i, why) for i in imports if (why := _plugin_problem(i)) is not None]
    assert not problems, "\n" + _report(problems)


def test_a_plugin_made_from_the_template_imports_only_the_public_modules(
    tmp_path: Path,
) -> None:
    from mailadmin.scaffold import create_plugin

    plugin = create_plugin("kerio", tmp_path)
    imports = [i for path in sorted(plugin.rglob("*.py")) for i in _imports(path, str(path))]
    assert any(i.target == "mailadmin.sdk" for i in imports)
    problems = [(i, why) for i in imports if (why := _plugin_problem(i)) is not None]
    assert not problems, "\n" + _report(problems)


def test_the_faces_reach_the_store_only_where_listed() -> None:
    into_store = [
        i
        for i in _core_imports()
        if _package(i.importer) in FACES and _package(i.target) == "store"
        if (i.importer, i.target) not in FACES_INTO_STORE
    ]
    assert not into_store, "\n" + _report([(i, "go through orchestration") for i in into_store])


def test_each_known_violation_still_exists() -> None:
    """An entry of the allow-lists that no longer matches an import is dropped, so the
    lists only ever shrink."""
    seen = {(i.importer, i.target) for i in _core_imports()}
    listed = KNOWN_VIOLATIONS | FACE_EXCEPTIONS | TOOLKIT_EXCEPTIONS | FACES_INTO_STORE
    stale = listed - seen
    assert not stale, sorted(stale)


@pytest.mark.parametrize(
    ("importer", "target", "allowed"),
    [
        ("mailadmin.contract.provider", "mailadmin.wire.transport", True),
        ("mailadmin.wire.transport", "mailadmin.contract.settings", False),
        ("mailadmin.errors", "mailadmin.models", False),
        ("mailadmin.rules.policies", "mailadmin.orchestration.config", False),
        ("mailadmin.api.app", "mailadmin.cli.root", False),
        ("mailadmin.mock.state", "mailadmin.contract.provider", False),
        ("mailadmin.sdk", "mailadmin.wire.soap", True),
        ("mailadmin.reference.demo", "mailadmin.cli.demo", False),
    ],
)
def test_the_rule_itself(importer: str, target: str, allowed: bool) -> None:
    found = Import(importer, CORE, 1, target)
    assert (_core_problem(found) is None) is allowed

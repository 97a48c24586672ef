"""The bulk-run sequence exists once, and the run service sits where the layers say.

The sequence (journal a run's plan, send its items inside the run's journal scope, finish
it) is the run service's alone (``orchestration/runs.py``): no face (CLI, HTTP API,
workers) and no other module of the core holds a copy. The walk reads the source, so a
lazy import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import mailadmin

SRC = Path(mailadmin.__file__).parent
RUN_SERVICE = "orchestration/runs.py"
#: The journal's scope of a run and the journal operations that plan and finish one.
SEQUENCE = ("run_scope", "run_planned", "run_finished")
#: Faces: nothing below them imports them.
FACES = ("mailadmin.worker", "mailadmin.api", "mailadmin.cli")
#: rules/ modules reaching up into orchestration/: none (the gate, which holds the
#: orchestrator, lives in orchestration/; rules/sales.py takes a port).
RULES_REACHING_UP: set[str] = set()


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _names(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr
        elif isinstance(node, ast.ImportFrom):
            yield from (alias.name for alias in node.names)


def _imports(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_the_bulk_run_sequence_is_written_once() -> None:
    users = {
        (module, name)
        for module, tree in _modules()
        for name in _names(tree)
        if name in SEQUENCE and not module.startswith("store/")
    }
    assert users == {(RUN_SERVICE, name) for name in SEQUENCE}


def test_orchestration_rules_and_store_import_no_face() -> None:
    found = [
        (module, name)
        for module, tree in _modules()
        if module.split("/")[0] in ("orchestration", "rules", "store")
        for name in _imports(tree)
        if name.startswith(FACES)
    ]
    assert found == []


def test_rules_and_store_do_not_reach_up_into_orchestration() -> None:
    found = [
        (module, name)
        for module, tree in _modules()
        if module.split("/")[0] in ("rules", "store") and module not in RULES_REACHING_UP
        for name in _imports(tree)
        if name.startswith(("mailadmin.orchestration", *FACES))
        or (module.startswith("store/") and name.startswith("mailadmin.rules"))
    ]
    assert found == []


def test_the_orchestrator_satisfies_the_sales_port() -> None:
    """rules/sales.py asks for a SalesPort; the orchestrator is one, structurally."""
    import inspect

    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.rules.sales import SalesPort

    wanted = {
        name
        for name, _ in inspect.getmembers(SalesPort)
        if not name.startswith("_") and name in SalesPort.__dict__
    }
    assert wanted == {
        "tenancy",
        "acting",
        "holds_limit",
        "apply_addon",
        "count_as_system",
        "addon_value",
    }
    assert all(hasattr(Orchestrator, name) for name in wanted)

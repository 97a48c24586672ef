"""The blocking facade is generated: one blocking twin per public coroutine method of
``Orchestrator``, with its signature and docstring, and nothing else."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from mailadmin.orchestration import sync
from mailadmin.orchestration.orchestrator import Orchestrator
from mailadmin.orchestration.sync import TWIN_OF, SyncOrchestrator, blocking_twins

# What the facade holds besides the twins: the passed-through attributes the orchestrator
# sets on itself (not visible on its class), and the facade's own end.
_INSTANCE_ATTRIBUTES = {"config", "journal", "registry", "rules"}
_OWN = {"close"}


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_every_public_coroutine_method_has_a_blocking_twin_of_the_same_shape() -> None:
    coroutines = blocking_twins()
    assert {"set_plan", "count_all", "resume", "aclose"} <= set(coroutines)
    for name, method in coroutines.items():
        twin = getattr(SyncOrchestrator, name)
        assert not inspect.iscoroutinefunction(twin), name
        assert getattr(twin, TWIN_OF) is method, name
        if name == "aclose":  # written by hand: it also stops the facade's loop
            continue
        assert inspect.signature(twin) == inspect.signature(method), name
        assert twin.__doc__ == method.__doc__ and twin.__doc__, name


def test_the_facade_has_nothing_but_twins_and_what_the_orchestrator_knows() -> None:
    twins = {n for n in _public(SyncOrchestrator) if hasattr(getattr(SyncOrchestrator, n), TWIN_OF)}
    assert twins == set(blocking_twins())
    plain = {
        name
        for name, member in inspect.getmembers(Orchestrator)
        if not name.startswith("_") and not inspect.iscoroutinefunction(member)
    }
    assert _public(SyncOrchestrator) - twins == (plain | _INSTANCE_ATTRIBUTES | _OWN)


def test_the_type_checker_sees_every_generated_twin() -> None:
    """Each generated twin is declared for mypy as ``name = _Blocking(Orchestrator.name)``;
    a coroutine method added to the orchestrator needs that one line here."""
    tree = ast.parse(Path(sync.__file__).read_text(encoding="utf-8"))
    [facade] = [
        n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "SyncOrchestrator"
    ]
    declared = {
        target.id
        for node in ast.walk(facade)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "_Blocking"
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert declared == set(blocking_twins()) - {"aclose"}  # aclose is written by hand

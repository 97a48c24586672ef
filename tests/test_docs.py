"""docs/plugin-authors.md documents every hook, every public model and every field.

Adding a hook, a model or a field without documenting it fails here.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from mailadmin.contract import capabilities, hookspecs, models, settings
from mailadmin.contract.provider import CallInfo
from mailadmin.testing.target import ConformanceTarget

DOC = Path(__file__).resolve().parents[1] / "docs" / "plugin-authors.md"


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _sections(text: str) -> dict[str, str]:
    """Heading title -> the text up to the next heading of the same or a higher level
    (fenced code does not end a section)."""
    sections: dict[str, str] = {}
    open_: list[tuple[int, str, list[str]]] = []
    fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else re.match(r"^(#+) (.*)$", line)
        if heading:
            level = len(heading[1])
            while open_ and open_[-1][0] >= level:
                _, title, body = open_.pop()
                sections[title] = "\n".join(body)
            open_.append((level, heading[2].strip(), []))
        for _, _, body in open_:
            body.append(line)
    for _, title, body in open_:
        sections[title] = "\n".join(body)
    return sections


def _hookspecs() -> list[Any]:
    return [
        function
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("mailadmin_") and hasattr(function, "mailadmin_spec")
    ]


def test_there_are_hooks_to_document() -> None:
    assert {f.__name__ for f in _hookspecs()} >= {
        "mailadmin_register_providers",
        "mailadmin_before_call",
    }


@pytest.mark.parametrize("hook", _hookspecs(), ids=lambda f: f.__name__)
def test_every_hook_is_documented_with_its_signature(hook: Any) -> None:
    sections = _sections(_text())
    assert hook.__name__ in sections, f"no '### {hook.__name__}' heading"
    signature = f"{hook.__name__}({', '.join(inspect.signature(hook).parameters)})"
    assert f"`{signature}`" in sections[hook.__name__]
    for parameter in inspect.signature(hook).parameters:
        assert f"`{parameter}`" in sections[hook.__name__]


def _members(obj: Any) -> list[str]:
    """What a reader must find in an object's section: fields, computed fields, enum
    values, tuple fields or the values of a constant."""
    if isinstance(obj, type) and issubclass(obj, enum.Enum):
        return [str(member.value) for member in obj]
    if hasattr(obj, "model_fields"):
        return [*obj.model_fields, *getattr(obj, "model_computed_fields", {})]
    if isinstance(obj, type) and hasattr(obj, "_fields"):
        return list(obj._fields)
    if dataclasses.is_dataclass(obj):
        return [f.name for f in dataclasses.fields(obj)]
    return sorted(str(value) for value in obj)


_PUBLIC = [
    *((module, name) for module in (models, capabilities, settings) for name in module.__all__),
]


@pytest.mark.parametrize(("module", "name"), _PUBLIC, ids=[n for _, n in _PUBLIC])
def test_every_public_model_and_field_is_documented(module: Any, name: str) -> None:
    sections = _sections(_text())
    assert name in sections, f"no heading for {module.__name__}.{name}"
    missing = [m for m in _members(getattr(module, name)) if f"`{m}`" not in sections[name]]
    assert not missing, f"{name}: undocumented {', '.join(missing)}"


@pytest.mark.parametrize("obj", [CallInfo, ConformanceTarget], ids=lambda o: o.__name__)
def test_what_hooks_and_the_kit_take_is_documented(obj: type) -> None:
    sections = _sections(_text())
    assert obj.__name__ in sections
    missing = [m for m in _members(obj) if f"`{m}`" not in sections[obj.__name__]]
    assert not missing, f"{obj.__name__}: undocumented {', '.join(missing)}"


_BLOCK = re.compile(
    r"(?:<!-- (?:needs: (?P<needs>[^>]*?)|(?P<run>run)) -->\n)?```python\n(?P<code>.*?)```", re.S
)


def _examples() -> list[tuple[str, str]]:
    """Every Python example: (what it needs that may not be in the tree yet, its code)."""
    return [(m["needs"] or "", m["code"]) for m in _BLOCK.finditer(_text())]


def _runnable() -> list[tuple[int, str]]:
    """The examples marked ``<!-- run -->``: (line in the page, code), in page order."""
    text = _text()
    return [
        (text.count("\n", 0, m.start("code")) + 1, m["code"])
        for m in _BLOCK.finditer(text)
        if m["run"]
    ]


def _present(need: str) -> bool:
    """``module`` or ``module:Object.attribute`` exists in this tree."""
    import importlib

    module, _, path = need.partition(":")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError:
        return False
    for part in filter(None, path.split(".")):
        fields = {**getattr(obj, "__dataclass_fields__", {}), **getattr(obj, "model_fields", {})}
        if not hasattr(obj, part) and part not in fields:
            return False
        obj = getattr(obj, part, None)
    return True


def test_there_are_examples() -> None:
    assert len(_examples()) >= 15
    assert len(_runnable()) >= 7


def _imported(tree: Any) -> dict[str, Any]:
    """Every name an example imports from mailadmin, resolved (asserting it exists)."""
    import ast
    import importlib

    found: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mailadmin":
            module = importlib.import_module(str(node.module))
            for alias in node.names:
                assert hasattr(module, alias.name) or _present(f"{node.module}.{alias.name}"), (
                    f"the docs import {alias.name} from {node.module}, which has no such name"
                )
                found[alias.asname or alias.name] = getattr(module, alias.name, None)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "mailadmin":
                    importlib.import_module(alias.name)
    return found


def _check_calls(tree: Any, names: dict[str, Any]) -> None:
    """Each call of an imported SDK function or class binds to its real signature, so an
    example written against a guessed signature fails even where it does not run."""
    import ast

    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            target = names.get(func.id)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner = names.get(func.value.id)  # odata.page(...)
            if inspect.ismodule(owner):
                assert hasattr(owner, func.attr), f"{owner.__name__} has no {func.attr}"
            target = getattr(owner, func.attr, None)
        else:
            continue
        if target is None or not callable(target):
            continue
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            continue
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):
            continue
        try:
            signature.bind(*node.args, **{k.arg: k.value for k in node.keywords if k.arg})
        except TypeError as exc:
            raise AssertionError(
                f"line {node.lineno} of an example: {ast.unparse(node)[:80]}: {exc}"
            ) from None


@pytest.mark.parametrize(
    ("needs", "code"), _examples(), ids=[f"example-{i}" for i in range(len(_examples()))]
)
def test_every_python_example_compiles_and_its_mailadmin_calls_bind(needs: str, code: str) -> None:
    import ast

    tree = compile(code, str(DOC), "exec", flags=ast.PyCF_ONLY_AST)
    missing = [need for need in needs.split() if not _present(need)]
    if missing:
        pytest.skip(f"the example needs {', '.join(missing)}, not in this tree yet")
    _check_calls(tree, _imported(tree))


def test_the_runnable_examples_run_in_order_against_in_process_mocks() -> None:
    """Later examples use what earlier ones defined (the mock, the imports), as a reader
    who pastes them one after the other would."""
    namespace: dict[str, Any] = {"__name__": "plugin_authors_examples"}
    for line, code in _runnable():
        try:
            exec(compile(code, f"{DOC.name}:{line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"the example at {DOC.name} line {line} fails: {exc!r}") from exc


def test_the_page_starts_with_a_quick_start_and_lists_each_setting_once() -> None:
    text = _text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[0] == "## Quick start (ten minutes)"
    settings = _sections(text)["ProviderSettings"]
    fields = re.findall(r"^- `(\w+)`:", settings, re.M)
    assert len(fields) == len(set(fields)), f"a setting is listed twice: {fields}"
    for needed in (
        "ApiKeyAuth",
        "Reply(",
        "the first declared route that matches wins",
        "MailboxRef(tenant=",
    ):
        assert needed in text, f"the page does not show {needed}"

"""Tests declare the provider features they need; unsupported ones become skips with reasons.

::

    @requires("list_mailboxes")
    async def test_lists(self, mailadmin_harness): ...

    @pytest.mark.parametrize("kind", list(MailboxKind))
    @requires("create_mailbox:{kind}")          # filled from the test's parameters
    async def test_creates(self, mailadmin_harness, kind): ...

Keys are those of :meth:`mailadmin.contract.capabilities.Capabilities.features`:
``"list_mailboxes"``, ``"create_mailbox:room"``, ``"addon:storage_gb"``. When the provider
does not declare a key, the test is skipped and the skip carries the provider's own reason
from ``Capabilities.unsupported``. A declared feature is never skipped: if it does not
work, the test fails.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from mailadmin.contract.capabilities import Operation
from mailadmin.contract.models import MailboxKind

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["MARKER", "feature_keys", "proven_features", "requires"]

#: The marker :func:`requires` sets.
MARKER = "mailadmin_capability"

_KIND_SCOPED = (Operation.CREATE_MAILBOX.value, Operation.DELETE_MAILBOX.value)
_PLACEHOLDER = re.compile(r"^\{[A-Za-z_][A-Za-z0-9_]*\}$")
_ADDON = re.compile(r"^addon:([a-z0-9][a-z0-9_\-]*|\{[A-Za-z_][A-Za-z0-9_]*\})$")


def requires(*keys: str) -> pytest.MarkDecorator:
    """Mark a test as needing every one of ``keys``; ``{param}`` is filled from parameters.

    A key that is not a feature key raises ``ValueError`` at once, so a typo cannot
    silently skip a test.
    """
    for key in keys:
        _check_key(key)
    mark: pytest.MarkDecorator = getattr(pytest.mark, MARKER)(*keys)
    return mark


def feature_keys(item: pytest.Item) -> list[str]:
    """The feature keys a collected test requires, with parameters filled in."""
    params: Mapping[str, object] = getattr(getattr(item, "callspec", None), "params", {})
    keys: list[str] = []
    for marker in item.iter_markers(MARKER):
        for key in marker.args:
            keys.append(str(key).format(**{k: str(v) for k, v in params.items()}))
    return keys


def proven_features(suite: type) -> set[str]:
    """Every feature key some test of ``suite`` requires, parameters filled in: what a
    passing run of the suite proves beyond the required operations."""
    import inspect

    keys: set[str] = set()
    for name, function in inspect.getmembers(suite, inspect.isfunction):
        if not name.startswith("test_"):
            continue
        marks = getattr(function, "pytestmark", [])
        combos: list[dict[str, str]] = [{}]
        for mark in (m for m in marks if m.name == "parametrize"):
            argname, values = mark.args[0], mark.args[1]
            combos = [{**c, argname: str(v)} for c in combos for v in values]
        for mark in (m for m in marks if m.name == MARKER):
            keys |= {str(key).format(**combo) for key in mark.args for combo in combos}
    return keys


def _check_key(key: str) -> None:
    if not isinstance(key, str):
        raise ValueError(f"a feature key is text, not {key!r}")
    if key in {op.value for op in Operation}:
        return
    head, sep, tail = key.partition(":")
    kinds = {kind.value for kind in MailboxKind}
    if sep and head in _KIND_SCOPED and (tail in kinds or _PLACEHOLDER.match(tail)):
        return
    if _ADDON.match(key):
        return
    raise ValueError(
        f"{key!r} is not a feature key: use an operation ('list_mailboxes'), "
        "'create_mailbox:<kind>', 'delete_mailbox:<kind>' or 'addon:<name>'"
    )

"""``--fields a,b.c``: keep only some fields of a command's JSON output, for scripts.

A document's *records* are the elements of the document when it is a list; else the
document itself when every name is one of its own keys (``runs show ID --fields
state,total``); else the elements of its one list of objects (``items``, ``entries``,
``mailboxes``...). Each record keeps only the named fields; a dotted name reaches into an
object (``value.total``) and keeps its path. The wrapping key stays, so a filtered
document has the shape of the full one: ``{"items": [{"key": ..., "value": {"total": 5}}]}``.
A name that no record holds is refused with the fields that exist.
"""

from __future__ import annotations

from typing import Any

__all__ = ["parse_fields", "select_fields"]


def parse_fields(text: str) -> list[str]:
    """``"key, value.total"`` -> ``["key", "value.total"]``; ValueError when empty."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names or any(not part for name in names for part in name.split(".")):
        raise ValueError(f"--fields takes field names separated by commas, not '{text}'")
    return list(dict.fromkeys(names))


def select_fields(document: Any, fields: list[str]) -> Any:
    """The document with only ``fields`` of each record (see the module docstring)."""
    if isinstance(document, list):
        return _records(document, fields)
    if isinstance(document, dict):
        lists = [k for k, v in document.items() if isinstance(v, list) and _objects(v)]
        heads = {f.split(".", 1)[0] for f in fields}
        # Names that are all the document's own keys select from the document itself.
        if len(lists) == 1 and not heads <= set(document):
            return {lists[0]: _records(document[lists[0]], fields)}
        return _records([document], fields)[0]
    return document


def _objects(values: list[Any]) -> bool:
    return all(isinstance(v, dict) for v in values)


def _records(records: list[Any], fields: list[str]) -> list[Any]:
    missing = [f for f in fields if records and not any(_has(r, f) for r in records)]
    if missing:
        known = sorted({k for r in records if isinstance(r, dict) for k in r})
        raise ValueError(
            f"--fields: no field {', '.join(repr(m) for m in missing)} here; "
            f"fields: {', '.join(known) or 'none'} (a dotted name reaches inside one)"
        )
    return [_select(r, fields) for r in records]


def _has(record: Any, field: str) -> bool:
    for part in field.split("."):
        if record is None:
            return True  # a null object (no error, no value) holds the name as null
        if not isinstance(record, dict) or part not in record:
            return False
        record = record[part]
    return True


def _select(record: Any, fields: list[str]) -> Any:
    if not isinstance(record, dict):
        return record
    kept: dict[str, Any] = {}
    for field in fields:
        head, _, rest = field.partition(".")
        if head not in record:
            continue
        if not rest:
            kept[head] = record[head]
        elif isinstance(record[head], dict):
            inner = _select(record[head], [rest])
            kept[head] = {**kept.get(head, {}), **inner} if isinstance(inner, dict) else inner
        elif record[head] is None:
            kept.setdefault(head, None)
    return kept

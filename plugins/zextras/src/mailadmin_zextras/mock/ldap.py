"""LDAP search filters (RFC 4515) as ``SearchDirectoryRequest`` takes them in ``query``.

The mock evaluates them against its entries the way the directory would: attribute names
and values compare case-insensitively, ``(attr=*)`` tests presence, ``*`` in a value is a
substring match, ``>=`` and ``<=`` compare numbers when both sides are numbers.

::

    matches = parse("(&(objectClass=zimbraAccount)(!(zimbraIsSystemAccount=*)))")
    matches({"objectclass": ["zimbraAccount"]})   # True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

__all__ = ["FilterError", "Matcher", "parse"]

#: ``matcher(attributes)``: attribute names in lower case -> their values.
Matcher = Callable[[Mapping[str, Sequence[str]]], bool]


class FilterError(ValueError):
    """The text is not an LDAP filter; the message says where."""


def parse(text: str) -> Matcher:
    """A matcher for the filter ``text``; a bare ``attr=value`` is accepted as in zmprov."""
    text = text.strip()
    if not text:
        return lambda _attrs: True
    if not text.startswith("("):
        text = f"({text})"
    matcher, end = _parse(text, 0)
    if end != len(text):
        raise FilterError(f"unexpected text after position {end}")
    return matcher


def _parse(text: str, pos: int) -> tuple[Matcher, int]:
    if pos >= len(text) or text[pos] != "(":
        raise FilterError(f"expected '(' at position {pos}")
    pos += 1
    if pos >= len(text):
        raise FilterError("unterminated filter")
    head = text[pos]
    if head in "&|":
        parts: list[Matcher] = []
        pos += 1
        while pos < len(text) and text[pos] == "(":
            part, pos = _parse(text, pos)
            parts.append(part)
        pos = _close(text, pos)
        if head == "&":
            return (lambda attrs: all(p(attrs) for p in parts)), pos
        return (lambda attrs: any(p(attrs) for p in parts)), pos
    if head == "!":
        inner, pos = _parse(text, pos + 1)
        pos = _close(text, pos)
        return (lambda attrs: not inner(attrs)), pos
    end = text.find(")", pos)
    if end < 0:
        raise FilterError("unterminated filter")
    return _item(text[pos:end]), end + 1


def _close(text: str, pos: int) -> int:
    if pos >= len(text) or text[pos] != ")":
        raise FilterError(f"expected ')' at position {pos}")
    return pos + 1


def _item(item: str) -> Matcher:
    for op in (">=", "<=", "~=", "="):
        name, sep, value = item.partition(op)
        if sep:
            break
    else:
        raise FilterError(f"'{item}' has no comparison")
    key = name.strip().lower()
    if not key:
        raise FilterError(f"'{item}' names no attribute")
    # A literal "*" is written \2a, so wildcards are found before unescaping.
    if op == "=" and value == "*":
        return lambda attrs: bool(attrs.get(key))
    if op == "=" and "*" in value:
        pieces = [_unescape(p).lower() for p in value.split("*")]
        return lambda attrs: any(_substring(v.lower(), pieces) for v in attrs.get(key, ()))
    wanted = _unescape(value)
    if op in (">=", "<="):
        sign = 1 if op == ">=" else -1
        return lambda attrs: any(sign * _compare(v, wanted) >= 0 for v in attrs.get(key, ()))
    low = wanted.lower()
    return lambda attrs: any(v.lower() == low for v in attrs.get(key, ()))


def _substring(value: str, pieces: list[str]) -> bool:
    first, *middle, last = pieces
    if not value.startswith(first):
        return False
    pos = len(first)
    for piece in middle:
        found = value.find(piece, pos)
        if found < 0:
            return False
        pos = found + len(piece)
    return value.endswith(last) and len(value) - len(last) >= pos


def _compare(value: str, wanted: str) -> int:
    try:
        a, b = int(value), int(wanted)
    except ValueError:
        a2, b2 = value.lower(), wanted.lower()
        return (a2 > b2) - (a2 < b2)
    return (a > b) - (a < b)


def _unescape(value: str) -> str:
    # RFC 4515 escapes a special character as a backslash and two hex digits.
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "\\":
            code = value[i + 1 : i + 3]
            if len(code) != 2:
                raise FilterError(f"bad escape in '{value}'")
            try:
                out.append(chr(int(code, 16)))
            except ValueError as exc:
                raise FilterError(f"bad escape in '{value}'") from exc
            i += 3
        else:
            out.append(value[i])
            i += 1
    return "".join(out)

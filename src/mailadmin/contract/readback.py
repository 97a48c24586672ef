"""Checks on values read back from a platform, before a write is built on them.

A provider reads the current state, then writes. A platform that answers garbage (a plan
name with control characters, a 50 MB name, a quota of 10**30) must not have that garbage
compared, reported, journalled or written back: it is refused as a
:class:`~mailadmin.errors.ProtocolError` and nothing is sent. ::

    current = native_name(text, what="access combination", source=self.instance,
                          known=self.settings.access_combinations)
    quota = bounded_int(text, what="quota", source=self.instance, minimum=-1)

:meth:`Provider.change() <mailadmin.contract.provider.Provider.change>` runs
:func:`check_read_value` on every ``before`` it is given, so a plugin on the change pattern
gets the generic check for free; the functions here add what only the plugin knows (the
catalogue of native names, the range of a number).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from typing import Any

from mailadmin import errors

__all__ = ["MAX_TEXT", "bounded_int", "check_read_value", "native_name"]

#: Longest text value accepted from a platform where a name or short value is expected.
MAX_TEXT = 1024
#: What a native plan name looks like on the platforms we know (OX access combinations,
#: Zimbra COS names, Microsoft SKU part numbers).
_NATIVE = re.compile(r"^[\w][\w .:@+-]{0,254}$")
_BIGGEST = 10**15  # larger than any count or size in MB a platform reports


def native_name(
    value: str | None,
    *,
    what: str,
    source: str,
    known: Collection[str] | None = None,
) -> str:
    """``value`` when it is a plausible native name (and one of ``known`` when given).

    Refused: ``None`` or empty, control or invisible characters, more than 255
    characters, characters outside letters, digits and ``_ .:@+-``, a name not in
    ``known``. ``what`` names the value in the message (``"access combination"``);
    ``source`` is the instance name.
    """
    if value is None or not _NATIVE.match(value) or _invisible(value):
        raise _refused(source, what, value)
    if known is not None and value not in known:
        raise _refused(source, what, value, unknown=True)
    return value


def bounded_int(
    value: str | int | None,
    *,
    what: str,
    source: str,
    minimum: int = 0,
    maximum: int = _BIGGEST,
) -> int:
    """``value`` (text or number) as an ``int`` within ``minimum``..``maximum``."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and len(value) <= 20:
        text = value.strip()
        if re.fullmatch(r"[+-]?\d{1,19}", text):
            number = int(text)
    if number is None or not minimum <= number <= maximum:
        raise _refused(source, what, value)
    return number


def check_read_value(value: Any, *, what: str, source: str) -> None:
    """Refuse a value no platform should report: text longer than :data:`MAX_TEXT` or
    holding control characters, a number beyond 10**15 or not finite. Other values
    (``None``, validated models) pass."""
    if isinstance(value, str):
        if len(value) > MAX_TEXT or _control(value):
            raise _refused(source, what, value)
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if abs(value) > _BIGGEST:
            raise _refused(source, what, value)
    elif isinstance(value, float) and (value != value or abs(value) > _BIGGEST):
        raise _refused(source, what, value)


def _control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


def _invisible(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf") for c in text)


def _refused(
    source: str, what: str, value: object, *, unknown: bool = False
) -> errors.ProtocolError:
    kind = "an unknown" if unknown else "an unusable"
    return errors.ProtocolError(
        f"{source} reported {kind} {what}; nothing was changed",
        debug={"what": what, "value": repr(value)[:200]},
    )

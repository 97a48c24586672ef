"""Exchange size values: ``"50 GB (53,687,091,200 bytes)"``, ``"Unlimited"``, ``"40GB"``, bytes.

Exchange answers quotas as a display string whose exact byte count sits in parentheses
(reference 1.5); it accepts integer bytes or a number with a unit on input (2.3). Both
directions live here so the provider and the mock agree. ``None`` stands for unlimited.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation

__all__ = ["UNITS", "format_size", "parse_size"]

#: Binary multipliers Exchange uses for ``B``/``KB``/``MB``/``GB``/``TB``.
UNITS: dict[str, int] = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}

_BYTES_IN_PARENS = re.compile(r"\(([\d,]+)\s*bytes\)", re.IGNORECASE)
_WITH_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)?\s*$", re.IGNORECASE)


def parse_size(value: object) -> int | None:
    """Bytes of an Exchange size value; ``None`` for ``"Unlimited"`` (any case).

    Accepts the display form (the bytes in parentheses win, as CIPP reads them), a number
    with an optional unit (``"40GB"``, ``"1.5 GB"``) and integer bytes. Raises
    ``ValueError`` for anything else.
    """
    if value is None:
        raise ValueError("a size is missing")
    if isinstance(value, bool):
        raise ValueError(f"not a size: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a size cannot be negative: {value}")
        return value
    if not isinstance(value, str):
        raise ValueError(f"not a size: {value!r}")
    text = value.strip()
    if text.lower() == "unlimited":
        return None
    found = _BYTES_IN_PARENS.search(text)
    if found:
        return int(found.group(1).replace(",", ""))
    match = _WITH_UNIT.match(text)
    if not match:
        raise ValueError(f"not a size: {value!r}")
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the regex allows only digits
        raise ValueError(f"not a size: {value!r}") from None
    unit = (match.group(2) or "B").upper()
    return int(number * UNITS[unit])


@functools.lru_cache(maxsize=1024)
def format_size(size: int | None) -> str:
    """The display form Exchange answers with: ``"2 GB (2,147,483,648 bytes)"``.

    The unit is the largest one the value reaches, with at most three decimals (trailing
    zeros dropped); ``None`` is ``"Unlimited"``.
    """
    if size is None:
        return "Unlimited"
    unit = "B"
    for name in ("TB", "GB", "MB", "KB"):
        if size >= UNITS[name]:
            unit = name
            break
    amount = Decimal(size) / UNITS[unit]
    shown = f"{amount:.3f}".rstrip("0").rstrip(".") if unit != "B" else str(size)
    return f"{shown} {unit} ({size:,} bytes)"

"""Whole numbers typed on the command line: ASCII digits only.

Python's ``int()`` (and so click's ``INT`` and ``IntRange``) reads any Unicode decimal
digit: ``int("١٢")`` is 12. A quantity that prints as something else than it means has
no place in a command that sells or sets limits, so quantities are read here instead.
"""

from __future__ import annotations

from typing import Any

import click

__all__ = ["WholeNumber", "ascii_whole"]


def ascii_whole(text: str, *, signed: bool = False) -> int | None:
    """``text`` as a whole number when it is written with the digits 0-9 only (and, when
    ``signed``, an optional leading ``-``), else None."""
    text = text.strip()
    digits = text[1:] if signed and text.startswith("-") else text
    if not digits or not (digits.isascii() and digits.isdigit()):
        return None
    return int(text)


class WholeNumber(click.ParamType[int]):
    """A whole number from ``low`` to ``high`` (``None``: no upper end), in ASCII digits."""

    name = "integer"

    def __init__(self, low: int = 0, high: int | None = None) -> None:
        self.low = low
        self.high = high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number: int | None = value
        else:
            number = ascii_whole(str(value), signed=True)  # "-1" is out of range, not garbage
        if number is None:
            self.fail(f"'{value}' is not a whole number written with the digits 0-9", param, ctx)
        if number < self.low or (self.high is not None and number > self.high):
            bounds = f"{self.low}<=x<={self.high}" if self.high is not None else f"x>={self.low}"
            self.fail(f"{number} is not in the range {bounds}", param, ctx)
        return number

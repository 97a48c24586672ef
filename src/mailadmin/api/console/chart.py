"""The bar chart of licensed against used seats per platform, drawn as inline SVG.

Only geometry is computed here; the template writes the SVG (escaped like any text), so
the page needs no script and no asset to show it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailadmin.reports.licences import LicenceRow

__all__ = ["Bar", "Chart", "seats_chart"]

#: Drawing units: the width, the room kept right of the longest bar for its value, one
#: bar's height, the platform's name line above its bars, the gap between platforms.
_WIDTH = 460
_VALUE = 110
_BAR = 16
_NAME = 18
_GAP = 12


@dataclass(frozen=True)
class Bar:
    """One bar: ``kind`` is ``licensed`` or ``used``; ``over`` when used passes licensed."""

    platform: str
    kind: str
    value: int
    x: int
    y: int
    width: int
    over: bool


@dataclass(frozen=True)
class Chart:
    """What the template draws: the platforms' names (with the ``y`` of their baseline),
    the bars, the size of the drawing, the scale's top."""

    names: list[tuple[str, int]]
    bars: list[Bar]
    width: int
    height: int
    top: int


def seats_chart(rows: Iterable[LicenceRow]) -> Chart:
    """Licensed and used seats summed per platform (instances whose licence could not be
    read, or that have no seat limit, count for what they report)."""
    totals: dict[str, list[int]] = {}
    for row in rows:
        pair = totals.setdefault(row.platform, [0, 0])
        pair[0] += row.licensed or 0
        pair[1] += row.used or 0
    top = max([1, *(max(pair) for pair in totals.values())])
    scale = (_WIDTH - _VALUE) / top
    names: list[tuple[str, int]] = []
    bars: list[Bar] = []
    y = 0
    for platform in sorted(totals):
        licensed, used = totals[platform]
        names.append((platform, y + _NAME - 5))
        y += _NAME
        for kind, value in (("licensed", licensed), ("used", used)):
            width = max(1, round(value * scale)) if value else 0
            over = kind == "used" and used > licensed
            bars.append(Bar(platform, kind, value, 0, y, width, over))
            y += _BAR + 2
        y += _GAP
    return Chart(names=names, bars=bars, width=_WIDTH, height=max(y, _GAP), top=top)

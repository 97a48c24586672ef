"""The ``set-plan --file`` format: CSV with the header ``address,plan``.

The file is UTF-8 (a byte-order mark is tolerated and dropped). The first line is the
header ``address,plan``; every other line is one change, ``anna@example.com,sync``. Blank
lines, lines with another number of columns, empty fields and an address given twice are
errors that name the line; the whole file is checked before anything is sent.
"""

from __future__ import annotations

import csv
import io

from mailadmin.contract import errors

__all__ = ["FORMAT_HELP", "read_plan_file"]

#: The format as ``--help`` and the docs state it.
FORMAT_HELP = (
    "CSV, UTF-8, first line the header 'address,plan', then one 'address,plan' per line "
    "(e.g. 'anna@example.com,sync'); blank lines, other column counts and repeated "
    "addresses are refused before anything is sent"
)

_MAX_PROBLEMS = 10


def read_plan_file(data: bytes, name: str) -> list[tuple[str, str]]:
    """The ``(address, plan)`` changes of a plan file, or a ``ValidationError`` naming
    every faulty line (up to ten)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise errors.ValidationError(f"{name}: line {line} is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[list[str]] = []
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as exc:
        # A field past the csv module's limit (131,072 characters) or a stray NUL: a bad
        # file, said so with its line, not an unexpected failure.
        limit = csv.field_size_limit()
        why = (
            f"a field is longer than {limit:,} characters"
            if "field larger" in str(exc)
            else "it is not valid CSV"
        )
        raise errors.ValidationError(
            f"{name}: line {reader.line_num}: {why}; nothing was sent"
        ) from None
    if not rows:
        raise errors.ValidationError(
            f"{name} is empty; expected the header 'address,plan'; nothing was sent"
        )
    header = [cell.strip().lower() for cell in rows[0]]
    problems: list[str] = []
    if header != ["address", "plan"]:
        problems.append("line 1: the first line must be the header 'address,plan'")
    changes: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            problems.append(f"line {number} is blank")
            continue
        if len(cells) != 2:
            problems.append(
                f"line {number} has {len(cells)} column{'s' if len(cells) != 1 else ''}; "
                "expected 2 (address,plan)"
            )
            continue
        address, plan = cells
        if not address or not plan:
            problems.append(f"line {number}: the {'address' if not address else 'plan'} is empty")
            continue
        first = seen.get(address.lower())
        if first is not None:
            problems.append(f"line {number} repeats {address} from line {first}")
            continue
        seen[address.lower()] = number
        changes.append((address, plan))
    if not problems and not changes:
        problems.append("it holds the header but no change")
    if problems:
        more = len(problems) - _MAX_PROBLEMS
        shown = problems[:_MAX_PROBLEMS] + ([f"{more} more"] if more > 0 else [])
        raise errors.ValidationError(f"{name}: nothing was sent: " + "; ".join(shown))
    return changes

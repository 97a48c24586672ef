"""How the CLI prints: rich tables and progress for people, JSON for machines, safe errors.

On a terminal, tables are drawn by rich. Off a terminal (a pipe, a file, a test runner)
they are plain: the title on its own line, then one tab-separated line per record, with no
box drawing, no padding and no wrapping, so ``grep`` and ``cut -f`` work on them. Every
value is escaped before it reaches rich, since user and platform text may hold ``[...]``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from typing import Any

from mailadmin.contract import errors

__all__ = ["EXIT_INTERRUPTED", "EXIT_OK", "EXIT_OVER_USE", "Output", "exit_code_for"]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_POLICY = 3
EXIT_PROVIDER = 4
EXIT_OVER_USE = 5
EXIT_INTERRUPTED = 130


def exit_code_for(error: BaseException) -> int:
    """The process exit code that tells this kind of failure apart."""
    if isinstance(error, errors.PolicyDenied):
        return EXIT_POLICY
    # An operation the platform has no form for is a request that cannot be made (nothing
    # was sent), like a bad argument.
    if isinstance(error, errors.ConfigurationError | errors.ValidationError):
        return EXIT_USAGE
    if isinstance(error, errors.UnsupportedOperation):
        return EXIT_USAGE
    if isinstance(error, errors.MailadminError):
        return EXIT_PROVIDER
    return EXIT_UNEXPECTED


class Output:
    """Prints results as tables (default) or one JSON document (``--json``)."""

    def __init__(self, *, as_json: bool, debug: bool = False) -> None:
        self.as_json = as_json
        self.debug = debug
        #: ``--fields``: the JSON output keeps only these fields of each record.
        self.fields: list[str] | None = None
        self._console: Any = None
        self._errors: Any = None

    @property
    def console(self) -> Any:
        """The rich console on stdout."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(soft_wrap=True)
        return self._console

    @property
    def stderr(self) -> Any:
        """The rich console on stderr (errors, progress)."""
        if self._errors is None:
            from rich.console import Console

            # soft_wrap: an error line is one line, however long; the terminal wraps it.
            self._errors = Console(stderr=True, soft_wrap=True)
        return self._errors

    @property
    def plain(self) -> bool:
        """True when stdout is not a terminal: tables are printed as plain lines."""
        if self._console is None and not _may_be_terminal():
            # Decided without rich: importing it (about 70 modules with pygments) was a
            # large share of a scripted command's start-up, only to print tab-separated
            # lines. Whatever could make rich see a terminal asks rich, as before.
            return True
        return not self.console.is_terminal

    def json(self, data: Any) -> None:
        """Print one JSON document on stdout, only the ``--fields`` asked for if any."""
        document = _plain(data)
        if self.fields:
            from mailadmin.cli.fields import select_fields

            try:
                document = select_fields(document, self.fields)
            except ValueError as exc:
                raise errors.ValidationError(str(exc)) from None
        self._write(document)

    def _write(self, document: Any) -> None:
        sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
        sys.stdout.flush()

    def table(
        self,
        title: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        notes: Sequence[str] = (),
        *,
        wrap: Sequence[str] = (),
    ) -> None:
        """Print a table for people (plain tab-separated lines off a terminal), then any
        notes that explain it.

        On a terminal only the ``wrap`` columns (default: the last one) may wrap; every
        other value is printed whole, never cut to ``insta…``. Tables are chosen to fit 80
        columns; wide detail belongs in ``show`` commands and ``--json``.
        """
        if self.plain:
            lines = [title.strip(), "\t".join(columns)]
            lines += ["\t".join(_flat(_cell(v)) for v in row).rstrip() for row in rows]
            lines += [note.rstrip() for note in notes]
            sys.stdout.write("\n".join(lines) + "\n\n")
            sys.stdout.flush()
            return
        from rich import box
        from rich.markup import escape
        from rich.table import Table

        table = Table(
            title=escape(title),
            title_justify="left",
            title_style="bold",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            collapse_padding=True,
        )
        free = set(wrap) or {columns[-1]} if columns else set()
        cells = [[_cell(v) for v in row] for row in rows]
        needed = 0
        for index, column in enumerate(columns):
            values = [row[index] for row in cells if index < len(row)]
            # Whole values (ids, names, numbers, dates) are never cut to "insta…": a column
            # is at least as wide as its longest value, or its longest word if it wraps.
            words = [w for v in [*values, column] for w in (v.split() or [""])]
            longest = max([len(v) for v in values] or [0])
            widest = max(len(w) for w in words)
            least = min(widest, 16) if column in free else max(longest, widest)
            needed += least + 2  # the padding between columns
            table.add_column(
                escape(column), overflow="fold", no_wrap=column not in free, min_width=least
            )
        for row in cells:
            table.add_row(*(escape(v) for v in row))
        # Too wide for the terminal: drawn wider (the terminal wraps the lines) rather
        # than with columns dropped, which is what rich does to fit.
        width = self.console.width
        try:
            self.console.width = max(needed, width)
            self.console.print(table)
        finally:
            self.console.width = width
        for note in notes:
            self.console.print(note, markup=False, highlight=False)

    def line(self, text: str, *, style: str | None = None) -> None:
        """Print one line of plain text for people (nothing in JSON mode); never markup."""
        if self.as_json:
            return
        if self.plain:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            return
        self.console.print(text, style=style, markup=False, highlight=False)

    def note(self, text: str) -> None:
        """Print a remark for people on stderr, also in JSON mode (stdout stays JSON)."""
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def error(self, error: BaseException) -> int:
        """Print a user-safe error and return the exit code.

        In JSON mode the error is a JSON document on stdout (``{"error": {...}}``), so a
        caller that reads stdout gets JSON for every outcome; otherwise one line on stderr.
        """
        code = exit_code_for(error)
        if isinstance(error, errors.MailadminError):
            payload: dict[str, Any] = {"error": {**error.to_dict(), "exit_code": code}}
            if self.debug and error.debug:
                payload["error"]["debug"] = error.debug
        else:
            payload = {
                "error": {
                    "code": "unexpected",
                    "message": "An unexpected error occurred",
                    "exit_code": code,
                }
            }
        if self.as_json:
            self._write(_plain(payload))  # an error is never cut down by --fields
            return code
        self.usage_error(payload["error"]["message"])
        if "debug" in payload["error"]:
            sys.stderr.write(json.dumps(payload["error"]["debug"], indent=2, default=str) + "\n")
        return code

    def usage_error(self, message: str, code: str = "usage") -> None:
        """Print a usage or other error message: one unwrapped line on stderr (or JSON)."""
        if self.as_json:
            self._write({"error": {"code": code, "message": message, "exit_code": EXIT_USAGE}})
            return
        if self.stderr.is_terminal:
            from rich.markup import escape

            self.stderr.print(f"[bold red]Error:[/] {escape(message)}", highlight=False)
        else:
            sys.stderr.write(f"Error: {message}\n")
            sys.stderr.flush()

    @contextmanager
    def progress(self, label: str, total: int) -> Iterator[Callable[[int, int, str], None]]:
        """A progress bar on stderr for long work; silent in JSON mode or off a terminal."""
        if self.as_json or total < 2 or not self.stderr.is_terminal:
            yield lambda done, total, key: None
            return
        from rich.markup import escape
        from rich.progress import Progress

        with Progress(console=self.stderr, transient=True) as bar:
            task = bar.add_task(escape(label), total=total)
            yield lambda done, total, key: bar.update(
                task, completed=done, description=escape(f"{label} {key}")
            )


def _may_be_terminal() -> bool:
    """False only when rich would surely not see a terminal on stdout: no setting that
    forces one (``FORCE_COLOR``, ``TTY_COMPATIBLE``) and stdout not a TTY."""
    import os

    if os.environ.get("TTY_COMPATIBLE") or os.environ.get("FORCE_COLOR") is not None:
        return True
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # replaced, or closed: rich says no terminal too
        return False


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    if isinstance(value, dict):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if value is None:
        return ""
    return str(value)


def _flat(text: str) -> str:
    # One record per line and one field per tab: a value must hold neither.
    return " ".join(text.replace("\t", " ").splitlines())

"""How the CLI prints: rich tables and progress for people, JSON for machines, safe errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum
from typing import Any

from mailadmin.contract import errors

__all__ = ["EXIT_OK", "Output", "exit_code_for"]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_POLICY = 3
EXIT_PROVIDER = 4


def exit_code_for(error: BaseException) -> int:
    """The process exit code that tells this kind of failure apart."""
    if isinstance(error, errors.PolicyDenied):
        return EXIT_POLICY
    if isinstance(error, errors.ConfigurationError | errors.ValidationError):
        return EXIT_USAGE
    if isinstance(error, errors.MailadminError):
        return EXIT_PROVIDER
    return EXIT_UNEXPECTED


class Output:
    """Prints results as tables (default) or one JSON document (``--json``)."""

    def __init__(self, *, as_json: bool, debug: bool = False) -> None:
        self.as_json = as_json
        self.debug = debug
        self._console: Any = None
        self._errors: Any = None

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(soft_wrap=False)
            if not self._console.is_terminal:
                # Piped output has no width to follow; 80 columns would truncate cells.
                self._console.width = 160
        return self._console

    @property
    def stderr(self) -> Any:
        if self._errors is None:
            from rich.console import Console

            self._errors = Console(stderr=True)
        return self._errors

    def json(self, data: Any) -> None:
        """Print one JSON document on stdout."""
        sys.stdout.write(json.dumps(_plain(data), indent=2, sort_keys=True, default=str) + "\n")

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Print a table for people."""
        from rich.table import Table

        table = Table(title=title, title_justify="left", title_style="bold")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        self.console.print(table)

    def line(self, text: str) -> None:
        """Print one line for people (nothing in JSON mode)."""
        if not self.as_json:
            self.console.print(text, highlight=False)

    def error(self, error: BaseException) -> int:
        """Print a user-safe error on stderr and return the exit code."""
        code = exit_code_for(error)
        if isinstance(error, errors.MailadminError):
            payload: dict[str, Any] = {"error": error.to_dict()}
            if self.debug and error.debug:
                payload["error"]["debug"] = error.debug
        else:
            payload = {"error": {"code": "unexpected", "message": "An unexpected error occurred"}}
        if self.as_json:
            sys.stderr.write(json.dumps(payload, default=str) + "\n")
        else:
            self.stderr.print(f"[bold red]Error:[/] {payload['error']['message']}", highlight=False)
            if "debug" in payload["error"]:
                self.stderr.print(payload["error"]["debug"], highlight=False)
        return code

    @contextmanager
    def progress(self, label: str, total: int) -> Iterator[Callable[[int, int, str], None]]:
        """A progress bar on stderr for long work; silent in JSON mode or off a terminal."""
        if self.as_json or total < 2 or not self.stderr.is_terminal:
            yield lambda done, total, key: None
            return
        from rich.progress import Progress

        with Progress(console=self.stderr, transient=True) as bar:
            task = bar.add_task(label, total=total)
            yield lambda done, total, key: bar.update(
                task, completed=done, description=f"{label} {key}"
            )


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
    return value


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if value is None:
        return ""
    return str(value)

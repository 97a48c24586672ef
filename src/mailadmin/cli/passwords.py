"""Reading a mailbox password on the command line, never from a plain argument.

A value on the command line lands in the shell's history and in every process listing, so
there is no ``--password VALUE``: the password is typed at a prompt that does not echo
(asked twice), or read from standard input (``--password-stdin``) or from the first line
of a file (``--password-file``). It is handed on as a ``SecretStr``, which prints masked.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import SecretStr

__all__ = ["password_options", "read_password"]

F = TypeVar("F", bound=Callable[..., Any])


def password_options(function: F) -> F:
    """``--password-stdin`` and ``--password-file FILE`` (a prompt is the third way)."""
    from_file = click.option(
        "--password-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Read the password from the first line of FILE.",
    )
    from_stdin = click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of standard input.",
    )
    return from_stdin(from_file(function))


def read_password(stdin: bool, file: Path | None, *, ask: bool) -> SecretStr | None:
    """The password from standard input, a file or (``ask``) a prompt without echo;
    ``None`` when none is asked for. Refused with a usage error (exit 2) when empty, when
    two sources are named, or when a prompt is needed and there is no terminal."""
    if stdin and file is not None:
        raise click.UsageError("Give the password one way: --password-stdin or --password-file")
    if stdin:
        return _one_line(sys.stdin.readline(), "standard input")
    if file is not None:
        try:
            with file.open(encoding="utf-8") as handle:
                return _one_line(handle.readline(), f"the file {file}")
        except (OSError, UnicodeDecodeError):
            raise click.UsageError(f"The password file {file} cannot be read") from None
    if not ask:
        return None
    if not sys.stdin.isatty():
        raise click.UsageError(
            "No terminal to ask for the password on: use --password-stdin or --password-file"
        )
    typed = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return _one_line(str(typed), "the prompt")


def _one_line(text: str, source: str) -> SecretStr:
    password = text.rstrip("\r\n")
    if not password:
        raise click.UsageError(f"The password read from {source} is empty")
    return SecretStr(password)

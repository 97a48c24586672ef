"""One cmdlet statement read from script text, for ``Invoke-Expression`` in the mock.

Only ``Verb-Noun -Name value -Switch -Name:$false`` with literal values (bare words,
quoted strings, numbers, ``$true``/``$false``/``$null``) is read; anything else (pipes,
variables, sub-expressions, several statements) is refused the way a no-language
runspace refuses it. The mock never evaluates script.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["ScriptError", "parse_statement"]

_NO_LANGUAGE = (
    "The syntax is not supported by this runspace. This can occur if the runspace is in "
    "no-language mode."
)
_TOKEN = re.compile(
    r"""\s*(?:
        '(?P<single>(?:[^']|'')*)'
      | "(?P<double>[^"$`]*)"
      | (?P<word>[^\s'"|;()${}@`]+(?::\$(?:true|false|null))?)
      | (?P<variable>\$(?:true|false|null))
    )(?=\s|$)""",
    re.VERBOSE | re.IGNORECASE,
)
_LITERALS: dict[str, Any] = {"$true": True, "$false": False, "$null": None}


class ScriptError(ValueError):
    """Script text the mock does not run."""


def parse_statement(script: str) -> tuple[str, dict[str, Any]]:
    """The cmdlet and its named parameters (a positional value binds ``Identity``)."""
    tokens: list[tuple[str, Any]] = []
    position = 0
    text = script.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ScriptError(_NO_LANGUAGE)
        position = match.end()
        if match.group("single") is not None:
            tokens.append(("value", match.group("single").replace("''", "'")))
        elif match.group("double") is not None:
            tokens.append(("value", match.group("double")))
        elif match.group("variable") is not None:
            tokens.append(("value", _LITERALS[match.group("variable").lower()]))
        else:
            tokens.append(("word", match.group("word")))
    if not tokens or tokens[0][0] != "word" or "-" not in tokens[0][1][1:]:
        raise ScriptError(_NO_LANGUAGE)
    cmdlet = tokens[0][1]
    parameters: dict[str, Any] = {}
    index = 1
    while index < len(tokens):
        kind, value = tokens[index]
        if kind == "word" and value.startswith("-"):
            name, _, literal = value[1:].partition(":")
            if literal:
                parameters[name] = _LITERALS[literal.lower()]
                index += 1
            elif index + 1 < len(tokens) and not _is_name(tokens[index + 1]):
                parameters[name] = _value(tokens[index + 1])
                index += 2
            else:
                parameters[name] = True
                index += 1
        elif "Identity" not in parameters:
            parameters["Identity"] = _value((kind, value))
            index += 1
        else:
            raise ScriptError(_NO_LANGUAGE)
    return cmdlet, parameters


def _is_name(token: tuple[str, Any]) -> bool:
    return token[0] == "word" and str(token[1]).startswith("-")


def _value(token: tuple[str, Any]) -> Any:
    kind, value = token
    if kind == "word" and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value

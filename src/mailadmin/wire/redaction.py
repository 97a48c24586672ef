"""Remove secrets from text before it reaches a log line or an error's debug detail.

Two kinds of rule apply. Known secrets (the configured credentials, tokens obtained at run
time) are replaced wherever they appear, also in their URL-, XML- and JSON-escaped forms.
Fields that by their name hold a secret (``password``, ``secret``, ``token``, API keys) are
masked in JSON, XML/SOAP, form bodies, query strings and header lines even when the value is
not known in advance, such as the password of a new mailbox.
"""

from __future__ import annotations

import html
import json
import logging
import re
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import quote, quote_plus

__all__ = [
    "MASK",
    "RedactingFilter",
    "Redactor",
    "Redacts",
    "is_sensitive_header",
    "redact_all",
    "redact_debug",
    "redact_fields",
]

#: What a redacted value is replaced with.
MASK = "***"

# A field whose name contains one of these words holds a secret.
_WORDS = (
    r"(?:passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key|credential|authorization"
    r"|session(?:[_-]?id)?)"
)
_NAME = rf"[\w.:-]*{_WORDS}[\w.:-]*"
# The text of an XML element, CDATA sections included.
_TEXT = r"(?:<!\[CDATA\[[\s\S]*?\]\]>|[^<])*"

_SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-csrf-token",
    }
)
_SENSITIVE_HEADER_WORDS = re.compile(r"token|secret|password|api-?key|auth|session", re.I)

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # JSON: "password": "value" (also cut off at the end of the text: "password": "hunt)
    (
        re.compile(rf'("{_NAME}"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.I),
        rf'\1"{MASK}"',
    ),
    # JSON: "password": 1234 (non-string scalars)
    (
        re.compile(rf'("{_NAME}"\s*:\s*)(?!["{{\[\s])[^,}}\]\s]+', re.I),
        rf'\1"{MASK}"',
    ),
    # Zimbra JSON element text: "authToken": {"_content": "value"} or [{"_content": "value"}]
    (
        re.compile(
            rf'("{_NAME}"\s*:\s*\[?\s*\{{\s*"_content"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.I
        ),
        rf'\1"{MASK}"',
    ),
    # Zimbra JSON attribute pairs: {"n": "userPassword", "_content": "value"}
    (
        re.compile(
            rf'("n"\s*:\s*"{_NAME}"\s*,\s*"_content"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.I
        ),
        rf'\1"{MASK}"',
    ),
    # XML element named for a secret: <password>value</password>, <ns:authToken>...</ns:authToken>
    (
        re.compile(rf"(<({_NAME})(?:\s[^>]*)?>){_TEXT}(</\2\s*>)", re.I),
        rf"\1{MASK}\3",
    ),
    # XML element named for a secret, cut off at the end of the text: <password>hunt
    (
        re.compile(rf"(<({_NAME})(?:\s[^>]*)?>)(?:<!\[CDATA\[[\s\S]*|[^<]*)\Z", re.I),
        rf"\1{MASK}",
    ),
    # XML element whose name attribute names a secret: <a n="userPassword">value</a>
    (
        re.compile(
            rf"(<([\w.:-]+)\s[^>]*\b(?:n|name|key)\s*=\s*[\"']{_NAME}[\"'][^>]*>){_TEXT}(</\2\s*>)",
            re.I,
        ),
        rf"\1{MASK}\3",
    ),
    # XML attribute or key="value" pair named for a secret: password="value"
    (
        re.compile(rf"(\b{_NAME}\s*=\s*)(\"[^\"]*(?:\"|\Z)|'[^']*(?:'|\Z))", re.I),
        rf'\1"{MASK}"',
    ),
    # Query strings and form bodies: ?password=value&...
    (
        re.compile(rf"((?:^|[?&;\s])(?:[\w.-]*{_WORDS}[\w.-]*)=)[^&#;\s\"'<]+", re.I),
        rf"\1{MASK}",
    ),
    # Header lines in free text: "Authorization: Basic abc", "Cookie: a=b"
    (
        re.compile(
            r"(\b(?:proxy-)?authorization|\bcookie|\bset-cookie|\bx-api-key|\bx-auth-token)"
            r"(\s*[:=]\s*)[^\r\n,}\]]+",
            re.I,
        ),
        rf"\1\2{MASK}",
    ),
    # Bare bearer or basic credentials
    (
        re.compile(r"\b(Bearer|Basic)\s+(?=[\w.~+/=-]*[0-9=+/])[A-Za-z0-9._~+/=-]{8,}"),
        rf"\1 {MASK}",
    ),
)


def redact_fields(text: str) -> str:
    """Mask every value that by its field name holds a secret (no known secrets needed)."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def is_sensitive_header(name: str) -> bool:
    """True for headers whose value is a credential (``Authorization``, ``Cookie``, ...)."""
    lowered = name.lower()
    return lowered in _SENSITIVE_HEADERS or bool(_SENSITIVE_HEADER_WORDS.search(lowered))


class Redacts(Protocol):
    """Anything that masks secrets in text: a :class:`Redactor`, or a transport (its own)."""

    def redact(self, text: str) -> str:
        """``text`` with every secret this object knows masked."""
        ...


class Redactor:
    """Masks known secrets and secret-named fields in text, URLs and headers.

    ``Redactor(["s3cret"]).redact("login?password=s3cret")`` gives
    ``"login?password=***"``. Secrets can be added later (a session token, say).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)
        _LIVE.add(self)

    def add(self, *secrets: str) -> None:
        """Also mask these values from now on (empty strings are ignored)."""
        fresh = {s for s in secrets if s and s not in self._secrets}
        if not fresh:
            return
        self._secrets |= fresh
        variants = {v for s in self._secrets for v in _variants(s) if v}
        # Longest first, so a secret that contains another is masked whole.
        alternation = "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True))
        self._pattern = re.compile(alternation)

    def redact(self, text: str) -> str:
        """``text`` with every known secret and every secret-named field masked."""
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return redact_fields(text)

    def redact_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """A copy of ``headers`` with credential headers masked and secrets removed."""
        return {
            name: MASK if is_sensitive_header(name) else self.redact(value)
            for name, value in headers.items()
        }


def _variants(secret: str) -> tuple[str, ...]:
    """The forms a secret takes on the wire: raw, URL-encoded, XML- and JSON-escaped."""
    return (
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        html.escape(secret, quote=False),
        html.escape(secret, quote=True),
        json.dumps(secret)[1:-1],
    )


# Every redactor alive in the process, so a log filter can mask the secrets of every
# instance without being told them (weak: a closed provider's secrets are dropped).
_LIVE: weakref.WeakSet[Redactor] = weakref.WeakSet()


def redact_all(text: str) -> str:
    """``text`` with the known secrets of every live :class:`Redactor` and every
    secret-named field masked."""
    for redactor in list(_LIVE):
        if redactor._pattern is not None:
            text = redactor._pattern.sub(MASK, text)
    return redact_fields(text)


def redact_debug(value: Any, redact: Callable[[str], str] = redact_all) -> Any:
    """A copy of an error's ``debug`` detail (dicts, lists, text) with every text redacted.

    Keys are kept; values that are not text, numbers or containers become their redacted
    ``str()``, so nothing unredacted (an element, an exception) is carried along.
    """
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {k: redact_debug(v, redact) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_debug(v, redact) for v in value]
    return redact(str(value))


class RedactingFilter(logging.Filter):
    """A handler filter that masks every known secret in the formatted message.

    The CLI puts it on its handlers; an application adds it to its own
    (``handler.addFilter(RedactingFilter())``) so provider code that logs platform text
    cannot leak a configured password or a session token.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it as it does
            return True
        clean = redact_all(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True

"""What the library logs, as a person at the CLI sees it.

The transport logs every failed attempt and every retry at WARNING, with structured fields
for log collectors. At a terminal that is one line per attempt naming library classes; here
each instance's connection failure becomes one plain line (host, what failed, that it is
retried), printed once. ``--debug`` shows every record as it is.
"""

from __future__ import annotations

import logging
import sys
from urllib.parse import urlsplit

from mailadmin.wire.redaction import RedactingFilter

__all__ = ["install"]

_PLAIN = {
    "refused": "connection refused",
    "connect": "could not connect",
    "timeout": "no answer in time",
    "broken": "connection broken off",
}


class _PlainWarnings(logging.Handler):
    """One plain line per instance and kind of failure; other warnings as their message."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._seen: set[tuple[str, str]] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            provider = getattr(record, "provider", None)
            failure = getattr(record, "failure", None)
            if provider is not None and getattr(record, "retry_in", None) is not None:
                return  # the first failure line already said it is retried
            if provider is not None and failure is not None:
                key = (str(provider), str(failure))
                if key in self._seen:
                    return
                self._seen.add(key)
                host = urlsplit(str(getattr(record, "url", ""))).netloc or "the platform"
                what = _PLAIN.get(str(failure), str(failure))
                text = f"warning: {provider}: {host}: {what}; retrying where safe"
            else:
                text = f"warning: {record.getMessage()}"
            sys.stderr.write(text + "\n")
        except Exception:  # a log line must never break a command
            self.handleError(record)


class _Everything(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"{record.levelname.lower()}: {record.name}: {record.getMessage()}\n")


def install(logger: logging.Logger, *, debug: bool) -> None:
    """Route ``logger``'s records to stderr: plain warnings, or everything with debug."""
    for old in list(logger.handlers):
        if isinstance(old, _PlainWarnings | _Everything):
            logger.removeHandler(old)
    if debug:
        handler: logging.Handler = _Everything(logging.DEBUG)
        logger.setLevel(logging.DEBUG)
    else:
        handler = _PlainWarnings()
    # Whatever a plugin logs passes the redactor of every instance's secrets.
    handler.addFilter(RedactingFilter())
    # With a handler here, Python's last-resort handler (which prints every warning with
    # its raw message) stays silent; an application's own root handlers still get them.
    logger.addHandler(handler)

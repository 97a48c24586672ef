"""Log records as one JSON object a line (``[telemetry] json_logs = true``), each with the
id of the HTTP request it belongs to, for log collectors that index fields."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

__all__ = ["REQUEST_ID", "JsonFormatter", "use_json_logs"]

#: The id of the HTTP request being answered (set by the API's request-id layer).
REQUEST_ID: ContextVar[str | None] = ContextVar("mailadmin_request_id", default=None)

#: Attributes every LogRecord has: the rest were passed as ``extra=`` and are kept.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", ...extra}`` per record;
    ``http_request_id`` too when the record has an id of its own (a platform call's)."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        answering = REQUEST_ID.get()
        request_id = getattr(record, "request_id", None) or answering
        if request_id:
            document["request_id"] = request_id
        if answering and answering != request_id:
            # A platform call's record has its own id; the HTTP request's goes beside it.
            document["http_request_id"] = answering
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in document:
                document[key] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def use_json_logs(*names: str) -> None:
    """Give the handlers of these loggers (the root logger when none) the JSON format."""
    for name in names or ("",):
        for handler in logging.getLogger(name or None).handlers:
            handler.setFormatter(JsonFormatter())

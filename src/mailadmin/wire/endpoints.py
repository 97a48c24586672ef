"""What an endpoint is: the rules of its base URL and the default limits of a call to it.

These belong to the wire (the transport applies them); provider settings read their
defaults from here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "endpoint_url_problem",
]

# Interactive defaults: a platform that hangs is reported within about 25 seconds.
#: Seconds for each connect, read, write or pool wait.
DEFAULT_TIMEOUT = 10.0
#: Extra attempts of reads and idempotent writes.
DEFAULT_RETRIES = 3
#: Seconds one call may take in all, across its retries.
DEFAULT_DEADLINE = 25.0
#: The largest decoded answer read (4 MiB).
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024


def endpoint_url_problem(url: str) -> str:
    """Why ``url`` cannot be an endpoint's base URL (``""`` when it can).

    A base URL is absolute, ``http`` or ``https``, names a host and has no query or fragment.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as exc:
        return f"{url!r} is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return f"{url!r} must start with http:// or https://"
    if not parts.hostname:
        return f"{url!r} names no host"
    if parts.query or parts.fragment:
        return f"{url!r} must not carry a query or fragment"
    return ""

"""Routes: which handler answers which address, declared once per platform.

``Route("PUT", "/tenants/{tenant}/mailboxes/{address}/plan", handlers.change_plan,
write=True)`` sends a matching request to ``change_plan(request, state)`` with
``request.path_params == {"tenant": ..., "address": ...}``. Several routes may share an
address and differ by ``operation`` (SOAP: the body element's name), which the platform
extracts with :meth:`MockPlatform.operation_of`.

A platform with several hosts (a token host, an admin API, Graph) names a host key per
route: ``Route("GET", "/v1.0/subscribedSkus", handlers.skus, host="graph")``, and maps real
host names to those keys in :attr:`MockPlatform.hosts`. How a request is matched:

- to a host listed in ``MockPlatform.hosts``: only routes of that host key, or without a
  host, can answer it;
- to any other host (the loopback address of ``mailadmin mock serve``, the in-process
  ``http://mock.invalid``): the host is not known, so every route can answer and the path
  alone decides (the first route declared wins). Give each host's routes paths that
  differ, as real platforms' do, and one loopback server serves them all.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from mailadmin.mock.request import MockRequest

__all__ = ["Handler", "Route"]

#: ``handler(request, state) -> httpx.Response`` (or an awaitable of one). ``state`` is the
#: platform's own :class:`~mailadmin.mock.state.MockState` subclass.
Handler = Callable[[MockRequest, Any], httpx.Response | Awaitable[httpx.Response]]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::path)?\}")


@dataclass(frozen=True)
class Route:
    """One address of a mock platform.

    ``method``: ``"GET"``; ``path``: a template such as ``"/tenants/{tenant}"`` matched
    against the decoded request path (``{name:path}`` also matches slashes);
    ``handler``: see :data:`Handler`;
    ``operation``: narrows the route to requests whose operation key is this value;
    ``write``: the route changes state (tests assert that dry runs send none);
    ``name``: how recordings, faults and respx call the route (default: ``operation``,
    else ``"METHOD path"``);
    ``host``: the host key (see :attr:`MockPlatform.hosts`) this route belongs to;
    ``None`` answers on every host.
    """

    method: str
    path: str
    handler: Handler
    operation: str | None = None
    write: bool = False
    name: str = ""
    host: str | None = field(default=None, kw_only=True)
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", self.method.upper())
        if not self.path.startswith("/"):
            raise ValueError(f"route path must start with '/': {self.path!r}")
        if not self.name:
            object.__setattr__(self, "name", self.operation or f"{self.method} {self.path}")
        object.__setattr__(self, "regex", re.compile(_template_regex(self.path)))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when ``method`` and ``path`` match this route, else ``None``."""
        if method.upper() != self.method:
            return None
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        return dict(found.groupdict())

    def serves(self, host_key: str | None) -> bool:
        """True when this route may answer a request to ``host_key`` (``None``: unknown)."""
        return self.host is None or host_key is None or self.host == host_key


def _template_regex(template: str) -> str:
    parts: list[str] = []
    last = 0
    for found in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[last : found.start()]))
        greedy = found.group(0).endswith(":path}")
        parts.append(f"(?P<{found.group(1)}>{'.+' if greedy else '[^/]+'})")
        last = found.end()
    parts.append(re.escape(template[last:]))
    return "".join(parts)

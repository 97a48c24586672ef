"""What a request must pass before any of its body is read: an API key, a client not
throttled for refused keys, and a body no larger than ``[api] max_body_bytes``.

FastAPI reads and parses a body before it resolves a route's dependencies, so checking the
key in a dependency let anyone make the service read (and parse) a body of any size.
This ASGI layer sits outside the application: it authenticates from the headers alone
(``401`` without touching the body), answers ``429`` with ``Retry-After`` to a client
whose keys were refused ``auth_failures`` times within ``auth_window_seconds``, refuses a
declared ``Content-Length`` past the cap at once (``413``) and counts a chunked body as it
arrives, refusing it as soon as it passes the cap. A read-only key calling anything but
``GET`` or ``HEAD`` is refused here (``403``, code ``read_only``), once for every route,
before any of the request runs. What it let through it hands on, with the authenticated
key for the route's dependency (no second look-up).

The operator console (``/console``, :mod:`mailadmin.api.console`) passes the same checks
with the key of its session cookie: a browser without one (or with a revoked key) is sent
to the sign-in page instead of answered ``401``, and the sign-in form itself is throttled
and capped like any request (its route counts a refused key on the same throttle).
"""

from __future__ import annotations

import asyncio
import math
import re
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from mailadmin.api.problems import problem_response

if TYPE_CHECKING:
    from mailadmin.orchestration.config import ApiConfig

__all__ = ["PUBLIC_PATHS", "PUBLIC_PREFIX", "Admission", "AuthThrottle"]

#: The console's own paths: its cookie stands for the bearer header (see the module docs).
CONSOLE = "/console"
#: Console paths answered without a key: the sign-in form and the console's assets.
_CONSOLE_PUBLIC = frozenset({"/console/sign-in"})
_CONSOLE_ASSETS = "/console/static/"
#: The one write a read-only key may make: the console's sign-out (it drops a cookie only).
_CONSOLE_SIGN_OUT = "/console/sign-out"
#: The methods a read-only key may call.
_READS = frozenset({"GET", "HEAD"})
#: The session cookie holding the console's key (HttpOnly, SameSite=Strict, /console only).
CONSOLE_COOKIE = "mailadmin_console"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths answered without an API key (health checks, the API's own description).
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)
#: Paths under it are answered without a key too (the docs pages' packaged assets).
PUBLIC_PREFIX = "/docs/assets/"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: Clients whose refusals are remembered at once (the oldest are forgotten past it).
_MAX_CLIENTS = 10_000


def _console(path: str) -> bool:
    return path == CONSOLE or path.startswith(CONSOLE + "/")


def _console_public(path: str) -> bool:
    asset = path.startswith(_CONSOLE_ASSETS) and "/" not in path[len(_CONSOLE_ASSETS) :]
    return path in _CONSOLE_PUBLIC or (asset and ".." not in path)


def _public(path: str) -> bool:
    # One file name under the prefix, never a path that climbs out of it.
    asset = path.startswith(PUBLIC_PREFIX) and "/" not in path[len(PUBLIC_PREFIX) :]
    return path in PUBLIC_PATHS or (asset and ".." not in path)


class AuthThrottle:
    """Refused API keys per client address within a sliding window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str, limit: int, window: float) -> int:
        """Seconds the client must wait (0: not throttled)."""
        failures = self._failures.get(client)
        if not failures:
            return 0
        now = self._clock()
        while failures and failures[0] <= now - window:
            failures.popleft()
        if len(failures) < limit:
            return 0
        return max(1, math.ceil(failures[-limit] + window - now))

    def refused(self, client: str, window: float) -> None:
        """Count one refused key of ``client``."""
        failures = self._failures.pop(client, None) or deque()
        failures.append(self._clock())
        self._failures[client] = failures  # most recent last
        while len(self._failures) > _MAX_CLIENTS:
            self._failures.popitem(last=False)


class Admission:
    """The ASGI layer of the module docs, around the FastAPI application ``app``."""

    def __init__(self, app: App, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.throttle = AuthThrottle(clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        console = scope["type"] == "http" and _console(scope["path"])
        if scope["type"] != "http" or (not console and _public(scope["path"])):
            await self.app(scope, receive, send)
            return
        services = getattr(getattr(scope.get("app"), "state", None), "services", None)
        if services is None:  # not started yet: the application answers for itself
            await self.app(scope, receive, send)
            return
        limits: ApiConfig = services.orch.config.api
        headers = _headers(scope)
        client = (scope.get("client") or ("-", 0))[0]
        wait = self.throttle.retry_after(client, limits.auth_failures, limits.auth_window_seconds)
        if wait:
            await _refuse(
                scope, send, 429, "throttled",
                "Too many requests with an unknown API key from this address; try again later",
                {"Retry-After": str(wait)},
            )  # fmt: skip
            return
        token = _bearer(headers.get("authorization", ""))
        if console:
            # The sign-in route counts a refused key on this same throttle.
            scope.setdefault("state", {})["auth_throttle"] = self.throttle
            if token is None:
                token = _cookie(headers.get("cookie", ""), CONSOLE_COOKIE)
        key = None
        if console and _console_public(scope["path"]):
            pass  # the sign-in form and the assets: no key yet, the body still capped
        elif token is not None:
            key = await asyncio.to_thread(services.keys.authenticate, token)
        if key is None and console:
            if not _console_public(scope["path"]):
                if token is not None:  # a stale or forged cookie; no cookie is a first visit
                    self.throttle.refused(client, limits.auth_window_seconds)
                await _to_sign_in(scope, send, forget=token is not None)
                return
        elif key is None:
            self.throttle.refused(client, limits.auth_window_seconds)
            detail, challenge = (
                ("Send an API key: 'Authorization: Bearer <key>'", "Bearer")
                if token is None
                else ("The API key is unknown or revoked", 'Bearer error="invalid_token"')
            )
            await _refuse(
                scope, send, 401, "unauthenticated", detail, {"WWW-Authenticate": challenge}
            )
            return
        if key is not None:
            if _refused_write(key, scope):
                await _refuse(
                    scope, send, 403, "read_only",
                    f"This API key may only read (GET, HEAD); {scope['method']} is refused",
                    None,
                )  # fmt: skip
                return
            scope.setdefault("state", {})["api_key"] = key
        cap = limits.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            await _too_large(scope, send, cap)
            return
        if declared is None and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body
            return
        body = await _read_capped(receive, cap)
        if body is None:
            await _too_large(scope, send, cap)
            return
        await self.app(scope, _replay(body, receive), send)


def _refused_write(key: Any, scope: Scope) -> bool:
    """True for a read-only key calling anything but a read (the sign-out aside)."""
    if key.read_only is not True or scope.get("method", "GET") in _READS:
        return False
    path: str = scope["path"]
    return path != _CONSOLE_SIGN_OUT


async def _read_capped(receive: Receive, cap: int) -> bytes | None:
    """The body, read as it arrives; ``None`` as soon as it passes ``cap`` bytes (the
    rest is never read) or the client goes away."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return None
        parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: the client's disconnect

    return replayed


def _headers(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", [])
    }


def _cookie(header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` header, or None."""
    for part in header.split(";"):
        found, _, value = part.strip().partition("=")
        if found == name and value:
            return value
    return None


async def _to_sign_in(scope: Scope, send: Send, *, forget: bool) -> None:
    """Send a browser without a valid console key to the sign-in page (``303``); a
    refused cookie is dropped on the way."""
    headers = [(b"location", f"{CONSOLE}/sign-in".encode()), (b"cache-control", b"no-store")]
    if forget:
        expired = f"{CONSOLE_COOKIE}=; Path={CONSOLE}; Max-Age=0; HttpOnly; SameSite=Strict"
        headers.append((b"set-cookie", expired.encode("latin-1")))
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


def _bearer(value: str) -> str | None:
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def _too_large(scope: Scope, send: Send, cap: int) -> None:
    await _refuse(
        scope, send, 413, "too_large", f"The request body is larger than {cap} bytes", None
    )


async def _refuse(
    scope: Scope, send: Send, status: int, code: str, detail: str, headers: dict[str, str] | None
) -> None:
    given = _headers(scope).get("x-request-id", "")
    rid = given if _SANE_ID.match(given) else uuid.uuid4().hex
    response = problem_response(
        status,
        code,
        detail,
        instance=scope.get("path"),
        request_id=rid,
        headers={**(headers or {}), "X-Request-Id": rid, "Connection": "close"},
    )

    async def no_body() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, no_body, send)

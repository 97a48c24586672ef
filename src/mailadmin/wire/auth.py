"""Credentials with a lifecycle: login sessions and OAuth2 client-credentials tokens.

Both are ``httpx.Auth`` objects driven by httpx's async auth flow. Attach one to a
transport (``transport.set_auth(auth, endpoint="graph")``) or pass it per call
(``transport.request(..., auth=auth)``); either way it is bound to that transport, so its
logins go through the same HTTP transport (a mock serves them too), are logged redacted
and retried like any read, and are allowed during a dry run (a login changes nothing).

What both do, once for every plugin:

- obtain a token on first use and keep it until ``refresh_margin`` seconds before it
  expires; many concurrent calls share one login (50 first calls, 1 login);
- when the platform says the token expired (:meth:`SessionAuth.is_expired`: a 401 by
  default, or the fault code a plugin names), log in again once and resend the call once;
  a second rejection raises :class:`~mailadmin.errors.AuthenticationError`
  instead of looping;
- register every token and password with the transport's redactor.

A plugin with its own login subclasses :class:`SessionAuth`::

    class ZimbraSession(SessionAuth):
        async def login(self) -> Token:
            answer = await self.transport.request("POST", "/service/admin/soap", json=...,
                                                  write=False, auth=False, operation="auth")
            return self.token_for(value, lifetime=43200)
        def apply(self, request, token):          # the token goes into the body here
            return with_body(request, body_with_token(request.content, token.value))
        def is_expired(self, response):           # Zimbra answers expiry with a fault
            return b"service.AUTH_EXPIRED" in response.content
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from mailadmin import errors

if TYPE_CHECKING:
    from mailadmin.wire.transport import Transport

__all__ = [
    "ApiKeyAuth",
    "ClientCredentialsAuth",
    "SessionAuth",
    "Token",
    "with_body",
    "with_cookie",
]

log = logging.getLogger("mailadmin.wire.auth")

Clock = Callable[[], float]


@dataclass(frozen=True)
class Token:
    """A credential obtained at run time.

    ``value``: what goes on the wire (a bearer token, a session id); ``expires_at``: when
    it stops working, on the auth's clock (``time.monotonic`` unless injected), or
    ``None`` when only the platform can tell (kept until it is rejected).
    """

    value: str
    expires_at: float | None = None

    def __repr__(self) -> str:  # a token never shows in a repr or a traceback
        return f"Token(value='***', expires_at={self.expires_at!r})"


class ApiKeyAuth(httpx.Auth):
    """A fixed key in a header of every request, beside ``httpx.BasicAuth``.

    ``key``: the key (keep it in ``credentials.secret``, so every log and error masks it);
    ``header``: the header it goes in (``"X-API-Key"``, mailcow's; ``"Authorization"``);
    ``prefix``: put before the key (``"Bearer "``, ``"ApiKey "``)::

        key = self.settings.credentials.secret.get_secret_value()
        api = JsonClient(self.http, name=self.instance, errors=ERRORS,
                         auth=ApiKeyAuth(key, header="X-API-Key"))

    Nothing is fetched or renewed: a platform that issues keys with a lifetime needs a
    :class:`SessionAuth`.
    """

    def __init__(self, key: str, *, header: str = "X-API-Key", prefix: str = "") -> None:
        if not key:
            raise errors.ConfigurationError("the API key is empty")
        if not header or any(c in header for c in ":\r\n "):
            raise errors.ConfigurationError(f"{header!r} is not a header name")
        self.header = header
        self._value = prefix + key

    def auth_flow(self, request: httpx.Request) -> Any:
        """Set the header, then send."""
        request.headers[self.header] = self._value
        yield request

    def __repr__(self) -> str:  # the key never shows in a repr or a traceback
        return f"ApiKeyAuth(header={self.header!r}, key='***')"


class SessionAuth(httpx.Auth):
    """A login session: log in once, put the token on every request, renew on expiry.

    Subclasses implement :meth:`login` and, where the token does not go into an
    ``Authorization: Bearer`` header, :meth:`apply`; :meth:`is_expired` says how the
    platform reports an expired session (default: HTTP 401).

    ``secrets``: passwords and keys the login sends, masked in every log and error.
    ``refresh_margin``: seconds before ``Token.expires_at`` at which a new token is
    fetched (at most half the token's lifetime). ``clock``: the time source (tests inject
    one).
    """

    # The transport holds whole bodies in memory anyway; reading them lets apply() rewrite
    # a request body and is_expired() read a fault in the response.
    requires_request_body = True
    requires_response_body = True

    def __init__(
        self,
        *,
        secrets: Iterable[str] = (),
        refresh_margin: float = 60.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if refresh_margin < 0:
            raise errors.ConfigurationError("refresh_margin must be 0 or more seconds")
        self.refresh_margin = refresh_margin
        self.clock = clock
        self._secrets = [s for s in secrets if s]
        self._transport: Transport | None = None
        self._token: Token | None = None
        self._obtained_at = 0.0
        self._pending: asyncio.Task[Token] | None = None
        #: How many logins this session has made (tests and metrics read it).
        self.logins = 0

    # -- what a subclass provides ---------------------------------------------------------

    async def login(self) -> Token:
        """Obtain a fresh token; send requests with ``self.transport.request(...,
        auth=False)``. Raise a mailadmin error when the platform refuses."""
        raise NotImplementedError

    def apply(self, request: httpx.Request, token: Token) -> httpx.Request:
        """``request`` carrying ``token``; default ``Authorization: Bearer <token>``.

        May change ``request`` in place and return it, or return a new request (see
        :func:`with_body`, :func:`with_cookie`). It is called again with the original
        request when the call is resent after a renewal.
        """
        request.headers["Authorization"] = f"Bearer {token.value}"
        return request

    def is_expired(self, response: httpx.Response) -> bool:
        """True when ``response`` says the token is no longer valid (default: 401).

        The body has been read, so a platform fault code can be checked here.
        """
        return response.status_code == 401

    # -- for subclasses and plugins -------------------------------------------------------

    @property
    def transport(self) -> Transport:
        """The transport this session is bound to (its logins go through it)."""
        if self._transport is None:
            raise errors.ConfigurationError(
                f"{type(self).__name__} is not attached to a transport; use "
                "transport.set_auth(auth) or transport.request(..., auth=auth)"
            )
        return self._transport

    def bind(self, transport: Transport) -> None:
        """Send logins through ``transport`` and register the secrets with it."""
        if self._transport is transport:
            return
        self._transport = transport
        transport.add_secret(*self._secrets)
        if self._token is not None:
            transport.add_secret(self._token.value)

    def token_for(self, value: str, lifetime: float | None = None) -> Token:
        """A :class:`Token` valid for ``lifetime`` seconds from now (``None``: unknown)."""
        expires_at = None if lifetime is None else self.clock() + max(float(lifetime), 0.0)
        return Token(value, expires_at)

    def add_secret(self, *values: str) -> None:
        """Also mask these values (a password or key learnt after construction)."""
        fresh = [v for v in values if v]
        self._secrets.extend(fresh)
        if self._transport is not None:
            self._transport.add_secret(*fresh)

    def invalidate(self) -> None:
        """Forget the token; the next call logs in again."""
        self._token = None

    @property
    def token(self) -> Token | None:
        """The token in use, if any (expired or not)."""
        return self._token

    # -- the httpx flow -------------------------------------------------------------------

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Send ``request`` with a valid token; renew once and resend once on expiry."""
        # httpx's own flow reads the bodies for requires_*_body; this override must too.
        await request.aread()
        token = await self._obtain()
        response = yield self.apply(request, token)
        await response.aread()
        if not self.is_expired(response):
            return
        log.info("%s: the session expired; signing in again", self.transport.name)
        token = await self._obtain(rejected=token)
        response = yield self.apply(request, token)
        await response.aread()
        if self.is_expired(response):
            # Never loop: a token fresh from the login and refused at once will be again.
            if self._token is token:
                self._token = None
            raise errors.AuthenticationError(
                f"{self.transport.name} refused a freshly obtained session",
                debug={
                    "request": f"{request.method} {self.transport.redact(str(request.url))}",
                    "status": response.status_code,
                    "body": self.transport.redact(response.text)[:2000],
                },
            )

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        """Not supported: sessions log in through the async transport."""
        raise RuntimeError(f"{type(self).__name__} works with async clients only")

    # -- machinery ------------------------------------------------------------------------

    def _fresh(self, token: Token) -> bool:
        if token.expires_at is None:
            return True
        # A margin larger than half the lifetime would make a short-lived token stale the
        # moment it arrives, and every call would log in again.
        lifetime = token.expires_at - self._obtained_at
        margin = min(self.refresh_margin, max(lifetime, 0.0) / 2)
        return self.clock() < token.expires_at - margin

    async def _obtain(self, rejected: Token | None = None) -> Token:
        token = self._token
        if token is not None and token is not rejected and self._fresh(token):
            return token
        if rejected is not None and self._token is rejected:
            self._token = None
        loop = asyncio.get_running_loop()
        pending = self._pending
        if pending is not None and pending is asyncio.current_task():
            # The login's own request came back here: it would wait for itself forever.
            raise errors.ConfigurationError(
                f"{type(self).__name__}.login() must send its requests with auth=False"
            )
        # One login in flight per session and event loop; every caller awaits it.
        if pending is None or pending.done() or pending.get_loop() is not loop:
            pending = loop.create_task(self._login_once())
            pending.add_done_callback(self._login_done)
            self._pending = pending
        # shield: a caller cancelled while waiting must not cancel everyone's login.
        return await asyncio.shield(pending)

    async def _login_once(self) -> Token:
        self.logins += 1
        token = await self.login()
        if not isinstance(token, Token) or not token.value:
            raise errors.ProtocolError(f"{self.transport.name} sent an empty session token")
        self.transport.add_secret(token.value)
        self._obtained_at = self.clock()
        self._token = token
        return token

    def _login_done(self, task: asyncio.Task[Token]) -> None:
        if self._pending is task:
            self._pending = None
        if not task.cancelled():
            task.exception()  # retrieved: every awaiting caller got it already


class ClientCredentialsAuth(SessionAuth):
    """OAuth2 client credentials (RFC 6749 section 4.4), as Microsoft Entra ID serves them.

    ``token_url``: absolute, or relative to ``endpoint`` (``"/{tenant}/oauth2/v2.0/token"``
    on ``endpoint="login"``); ``scope``: what the token is for
    (``"https://graph.microsoft.com/.default"``). One object caches one token, so a
    plugin makes one per token URL and scope: per tenant and per API. ::

        graph = ClientCredentialsAuth(url, client_id, secret, "https://graph.microsoft.com/.default")
        transport.set_auth(graph, endpoint="graph")
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str,
        *,
        endpoint: str | None = None,
        refresh_margin: float = 300.0,
        clock: Clock = time.monotonic,
    ) -> None:
        super().__init__(secrets=[client_secret], refresh_margin=refresh_margin, clock=clock)
        self.token_url = token_url
        self.client_id = client_id
        self.scope = scope
        self.endpoint = endpoint
        self._client_secret = client_secret

    @property
    def cache_key(self) -> tuple[str, str]:
        """What the cached token belongs to: ``(token_url, scope)``."""
        return (self.token_url, self.scope)

    async def login(self) -> Token:
        """POST the client credentials as a form; read ``access_token`` and ``expires_in``."""
        transport = self.transport
        response = await transport.request(
            "POST",
            self.token_url,
            endpoint=self.endpoint,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._client_secret,
                "scope": self.scope,
            },
            headers={"Accept": "application/json"},
            write=False,
            idempotent=True,  # asking for a token twice is harmless
            auth=False,
            operation="oauth2_token",
        )
        body = _json_object(response)
        if response.status_code >= 400 or "access_token" not in body:
            raise _token_error(transport, response, body)
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise errors.ProtocolError(f"{transport.name} sent an empty access token")
        transport.add_secret(value)
        lifetime = _seconds(body.get("expires_in"))
        return self.token_for(value, lifetime)


# -- helpers for apply() ---------------------------------------------------------------------


def with_body(request: httpx.Request, content: bytes) -> httpx.Request:
    """A copy of ``request`` with another body (the headers follow its length)."""
    headers = httpx.Headers(request.headers)
    headers.pop("Content-Length", None)
    headers.pop("Transfer-Encoding", None)
    copy = httpx.Request(
        request.method,
        request.url,
        headers=headers,
        content=content,
        extensions=dict(request.extensions),
    )
    return copy


def with_cookie(request: httpx.Request, name: str, value: str) -> httpx.Request:
    """``request`` with the cookie ``name=value`` set (other cookies kept)."""
    kept = [
        part.strip()
        for part in request.headers.get("Cookie", "").split(";")
        if part.strip() and part.strip().partition("=")[0] != name
    ]
    request.headers["Cookie"] = "; ".join([*kept, f"{name}={value}"])
    return request


# -- private ---------------------------------------------------------------------------------

# Entra ID's OAuth2 error codes that mean "these credentials are wrong".
_REFUSED = frozenset({"invalid_client", "unauthorized_client", "invalid_grant", "access_denied"})


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _seconds(value: Any) -> float | None:
    # Entra ID's v1 endpoint sends expires_in as a string, v2 as a number.
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def _token_error(
    transport: Transport, response: httpx.Response, body: dict[str, Any]
) -> errors.MailadminError:
    from mailadmin.wire.responses import raise_for_status

    status = response.status_code
    code = str(body.get("error", ""))
    description = str(body.get("error_description", "")).split("\r\n")[0].split("\n")[0]
    debug = {
        "status": status,
        "error": code,
        "description": transport.redact(description),
        "error_codes": body.get("error_codes"),
    }
    if status == 429 or status >= 500 or (status < 400 and not code):
        if status < 400:
            return errors.ProtocolError(
                f"{transport.name} answered the token request without a token", debug=debug
            )
        try:
            raise_for_status(response, provider=transport.name, redactor=transport)
        except errors.MailadminError as exc:
            return exc
    if code in _REFUSED or status == 401:
        return errors.AuthenticationError(
            f"{transport.name} rejected the client credentials", debug=debug
        )
    return errors.ConfigurationError(
        f"{transport.name} refused the token request ({code or f'HTTP {status}'}); "
        "check the tenant, token URL and scope",
        debug=debug,
    )

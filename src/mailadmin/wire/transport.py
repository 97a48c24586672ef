"""The one HTTP transport every provider plugin talks through.

:class:`Transport` wraps an ``httpx.AsyncClient`` and adds what each plugin would otherwise
write again: timeouts and connection limits, a request id per call (``X-Request-Id``, the
same across the retries of that call), retries with backoff and jitter for idempotent calls,
refusal of writes during a dry run, and one log record per attempt with secrets redacted.
:meth:`Transport.stream` sends a call the same way and hands its answer over unread, to
be consumed a piece at a time (:class:`Streamed`) instead of held whole.
An instance may have several named endpoints (a token host, an admin API, Graph): each
request names the one its relative URL joins, and credentials (:mod:`mailadmin.wire.auth`)
can be attached per endpoint with :meth:`Transport.set_auth`.
:func:`~mailadmin.wire.responses.raise_for_status` (re-exported here) maps generic HTTP
statuses onto mailadmin's typed errors; dry runs live in :mod:`mailadmin.wire.dryrun`.

The HTTP transport under the client is a setting: ``"aiohttp"`` (the default, fast under
concurrency: requests are ``httpx.Request`` objects sent on an aiohttp session directly,
see :mod:`mailadmin.wire.direct`), ``"httpx"`` (httpx's own pool), or any
``httpx.AsyncBaseTransport`` such as ``httpx.MockTransport(respx_router.async_handler)`` or
``httpx.ASGITransport(app)`` in tests. httpx and aiohttp are imported on first use.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mailadmin import errors
from mailadmin.wire import direct
from mailadmin.wire import observe as _observe
from mailadmin.wire.adapters import send_writes_once, set_read_body, skip_idle_cookie_work
from mailadmin.wire.dryrun import DryRunViolation, dry_run_active, dry_run_scope
from mailadmin.wire.endpoints import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    endpoint_url_problem,
)
from mailadmin.wire.ids import new_id
from mailadmin.wire.limits import ACCEPT_ENCODING, iter_body, read_body
from mailadmin.wire.pacing import Pacer
from mailadmin.wire.redaction import Redactor
from mailadmin.wire.responses import (
    REDACTOR_EXTENSION,
    REQUEST_ID_HEADER,
    excerpt,
    parse_retry_after,
    raise_for_status,
)

if TYPE_CHECKING:
    import ssl

    import httpx
    from aiohttp import ClientSession, ClientTimeout
    from httpx_aiohttp import AiohttpTransport
    from tenacity import RetryCallState

__all__ = [
    "REQUEST_ID_HEADER",
    "RETRY_STATUSES",
    "Backend",
    "DryRunViolation",
    "Sleep",
    "Streamed",
    "Transport",
    "TransportSettings",
    "dry_run_active",
    "dry_run_scope",
    "parse_retry_after",
    "raise_for_status",
    "sent_once",
]

log = logging.getLogger("mailadmin.wire.transport")

#: Statuses after which an idempotent call is sent again.
RETRY_STATUSES = frozenset({429, 502, 503, 504})

#: The HTTP transports the settings can name.
Backend = Literal["aiohttp", "httpx"]
#: What the transport awaits between attempts (``asyncio.sleep`` unless injected).
Sleep = Callable[[float], Awaitable[None]]


class TransportSettings(Protocol):
    """What :meth:`Transport.from_settings` reads (a provider's settings have all of it)."""

    @property
    def endpoint(self) -> str | None: ...
    @property
    def endpoints(self) -> Mapping[str, str]: ...
    @property
    def transport(self) -> Backend: ...
    @property
    def timeout(self) -> float: ...
    @property
    def max_connections(self) -> int: ...
    @property
    def retries(self) -> int: ...
    @property
    def verify_tls(self) -> bool: ...
    @property
    def deadline(self) -> float: ...
    @property
    def max_response_bytes(self) -> int: ...
    def secrets(self) -> list[str]:
        """Every secret value the settings hold, for redaction."""
        ...


_MOCK_BASE_URL = "http://mock.invalid"
_BACKOFF_BASE = 0.5  # seconds before the first retry when the server gives no Retry-After


# -- the transport ---------------------------------------------------------------------------


class Transport:
    """An ``httpx.AsyncClient`` with retries, request ids, dry runs and redacted logs.

    ``base_url``: the platform endpoint; relative URLs of :meth:`request` join it.
    ``name``: the provider instance, used in messages and logs. ``backend``: ``"aiohttp"``,
    ``"httpx"`` or an ``httpx.AsyncBaseTransport``. ``timeout``: seconds for connect, read,
    write and pool waits. ``retries``: extra attempts of an idempotent call. ``secrets``:
    values masked in every log line and error. ``verify``: check TLS certificates.
    ``headers``: sent with every request. ``sleep``: awaited between attempts (tests
    inject a recorder; also settable later as ``transport.sleep``). ``deadline``: seconds
    one call may take in all, its retries and waits included (then ``Unavailable``).
    ``max_response_bytes``: the largest decoded answer read; a larger one is refused with
    a ``ProtocolError`` while it streams in, before it fills memory. ``max_retry_wait``:
    the longest ``Retry-After`` honoured; when the server asks for more, the response is
    returned at once. ``endpoints``: further named base URLs (``{"graph": "https://..."}``)
    that :meth:`request` joins relative URLs onto when called with ``endpoint="graph"``.

    The client is created on the first request, so a transport can be built outside an
    event loop.
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str = "provider",
        backend: Backend | httpx.AsyncBaseTransport = "aiohttp",
        timeout: float = DEFAULT_TIMEOUT,
        max_connections: int = 32,
        retries: int = DEFAULT_RETRIES,
        secrets: Sequence[str] = (),
        verify: bool = True,
        headers: Mapping[str, str] | None = None,
        sleep: Sleep | None = None,
        max_retry_wait: float = 30.0,
        endpoints: Mapping[str, str] | None = None,
        deadline: float = DEFAULT_DEADLINE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if isinstance(backend, str) and backend not in ("aiohttp", "httpx"):
            raise errors.ConfigurationError(
                f"Unknown HTTP transport '{backend}' for '{name}' (use 'aiohttp' or 'httpx')"
            )
        if retries < 0 or timeout <= 0 or max_connections < 1 or deadline <= 0:
            raise errors.ConfigurationError(
                f"Invalid transport limits for '{name}': retries must be 0 or more, "
                "timeout and deadline above 0 and max_connections at least 1"
            )
        if max_response_bytes < 1:
            raise errors.ConfigurationError(
                f"Invalid transport limits for '{name}': max_response_bytes must be above 0"
            )
        self.base_url = base_url
        self.name = name
        self.timeout = timeout
        self.max_connections = max_connections
        self.retries = retries
        self.verify = verify
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self.max_retry_wait = max_retry_wait
        #: Paces this instance's requests once the platform throttles (AIMD).
        self.pacer = Pacer()
        #: Awaited with the number of seconds to wait before a retry.
        self.sleep: Sleep = sleep or asyncio.sleep
        self._backend = backend
        self._headers = dict(headers or {})
        self._redactor = Redactor(secrets)
        self._client: httpx.AsyncClient | None = None
        self._aio: AiohttpTransport | None = None
        self._aio_timeout: ClientTimeout | None = None
        self._defaults: dict[str, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.endpoints: dict[str, str] = dict(endpoints or {})
        for endpoint_name, url in self.endpoints.items():
            problem = endpoint_url_problem(url)
            if problem:
                raise errors.ConfigurationError(
                    f"The endpoint '{endpoint_name}' of '{name}' is not usable: {problem}"
                )
        self._bases: dict[str, httpx.URL] = {}
        self._targets: dict[tuple[str | None, str], httpx.URL] = {}
        self._auths: dict[str | None, httpx.Auth] = {}
        if not verify:
            _warn_unverified(name)

    @classmethod
    def from_settings(
        cls,
        settings: TransportSettings,
        *,
        name: str,
        http: httpx.AsyncBaseTransport | None = None,
    ) -> Transport:
        """Build the transport a provider instance's settings describe.

        ``http`` replaces the configured backend (tests inject a mock); without it the
        settings must name an endpoint.
        """
        if settings.endpoint is None and http is None and not settings.endpoints:
            raise errors.ConfigurationError(f"No endpoint is configured for '{name}'")
        return cls(
            settings.endpoint or _MOCK_BASE_URL,
            name=name,
            backend=http if http is not None else settings.transport,
            timeout=settings.timeout,
            max_connections=settings.max_connections,
            retries=settings.retries,
            secrets=settings.secrets(),
            verify=settings.verify_tls,
            endpoints=settings.endpoints,
            deadline=settings.deadline,
            max_response_bytes=settings.max_response_bytes,
        )

    # -- public ----------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        write: bool,
        idempotent: bool | None = None,
        operation: str = "",
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        content: str | bytes | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        auth: httpx.Auth | tuple[str, str] | Literal[False] | None = None,
        endpoint: str | None = None,
    ) -> httpx.Response:
        """Send one call and return its response, whatever the HTTP status.

        ``write``: the call changes the platform; it is refused during a dry run
        (:class:`DryRunViolation`, nothing sent) and never retried unless ``idempotent``.
        ``idempotent``: defaults to ``not write``; reads and idempotent writes are retried on
        429/502/503/504 (honouring ``Retry-After``) and on connection errors and timeouts.
        ``operation`` labels the log records. ``endpoint``: the named endpoint a relative
        ``url`` joins (default: the transport's ``base_url``); an absolute ``url`` (a next
        link) is sent as it is. ``auth``: credentials for this call; by default those set
        with :meth:`set_auth` for ``endpoint`` (else for every endpoint); ``False`` sends
        none (a login request). The other arguments are httpx's.

        Raises :class:`~mailadmin.errors.Unavailable` when the platform cannot be reached
        after the retries or the call passes its ``deadline``, and
        :class:`~mailadmin.errors.ProtocolError` for an answer larger than
        ``max_response_bytes`` (the body is read here, capped, so ``response.content`` is
        ready).
        """
        import httpx

        client = self._get_client()
        session = self._direct_session()
        request, request_id = self._build(
            client,
            session is not None,
            method,
            url,
            endpoint=endpoint,
            write=write,
            operation=operation,
            headers=headers,
            params=params,
            content=content,
            json=json,
            data=data,
        )
        retry = (not write) if idempotent is None else idempotent
        auth_arg = self._auth_for(endpoint, auth)
        attempts = 0
        watching = _observe.observers()
        tokens = [o.started(self.name, operation, method) for o in watching] if watching else ()
        call_started = time.perf_counter() if watching else 0.0

        async def attempt() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            pacer = self.pacer
            if pacer.rate is not None:
                await pacer.wait()
            started = time.perf_counter()
            try:
                if session is not None:
                    assert self._aio_timeout is not None  # set with the session
                    response = await direct.send(
                        session,
                        request,
                        auth=_flow(auth_arg),
                        timeout=self._aio_timeout,
                        limit=self.max_response_bytes,
                        source=self.name,
                        cookies=client.cookies,
                    )
                else:
                    # Streamed, so the body is read under the size limit instead of whole.
                    response = await client.send(request, auth=auth_arg, stream=True)
                    await self._read_body(response, request, request_id)
            except errors.ProtocolError as exc:
                # Refused by the limits; sending again would not help.
                self._note_refusal(exc, request, request_id)
                raise
            except httpx.HTTPError as exc:
                self._log_attempt(request, operation, request_id, attempts, started, error=exc)
                raise
            except Exception as exc:
                mapped = _as_httpx_error(exc)
                if mapped is None:
                    raise
                self._log_attempt(request, operation, request_id, attempts, started, error=exc)
                raise mapped from exc
            pacer.answered(response.status_code == 429)
            self._log_attempt(request, operation, request_id, attempts, started, response)
            for observer in watching:
                observer.attempted(self.name, operation, response.status_code)
            return response

        status: int | None = None
        try:
            # One deadline for the whole call: a server dripping a byte per read timeout,
            # or retries with long waits, cannot keep it alive past it.
            async with asyncio.timeout(self.deadline):
                response = await self._attempts(attempt, retry, request, operation, request_id)
            status = response.status_code
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, request, request_id, attempts) from exc
        except TimeoutError as exc:
            raise self._past_deadline(request, request_id, attempts) from exc
        finally:
            if watching:
                seconds = time.perf_counter() - call_started
                outcome = _observe.outcome_of(status)
                for observer, token in zip(watching, tokens, strict=True):
                    observer.ended(token, self.name, operation, outcome, status, seconds, attempts)
        response.extensions[REDACTOR_EXTENSION] = self._redactor
        return response

    async def _attempts(
        self,
        attempt: Callable[[], Awaitable[httpx.Response]],
        retry: bool,
        request: httpx.Request,
        operation: str,
        request_id: str,
    ) -> httpx.Response:
        """Run ``attempt`` once, or under the retry policy when the call may be retried."""
        if retry and self.retries > 0:
            return await self._with_retries(attempt, request, operation, request_id)
        return await attempt()

    def _past_deadline(
        self, request: httpx.Request, request_id: str, attempts: int
    ) -> errors.Unavailable:
        return errors.Unavailable(
            f"{self.name} did not answer within the deadline of {self.deadline:g} s",
            debug={
                "request": f"{request.method} {self.redact(str(request.url))}",
                "request_id": request_id,
                "attempts": attempts,
                "deadline": self.deadline,
            },
        )

    def _build(
        self,
        client: httpx.AsyncClient,
        direct_send: bool,
        method: str,
        url: str,
        *,
        endpoint: str | None,
        write: bool,
        operation: str,
        headers: Mapping[str, str] | None,
        params: Any,
        content: str | bytes | None,
        json: Any,
        data: Mapping[str, Any] | None,
    ) -> tuple[httpx.Request, str]:
        """The request of a call and its id; refused here during a dry run if a write."""
        import httpx

        target = self._target(client, endpoint, url)
        try:
            if direct_send:
                request = direct.build_request(
                    method.upper(),
                    target,
                    defaults=self._defaults,
                    headers=headers,
                    params=params,
                    content=content,
                    json=json,
                    data=data,
                    cookies=client.cookies if getattr(client.cookies, "seen", True) else None,
                )
            else:
                request = client.build_request(
                    method.upper(),
                    target,
                    headers=headers,
                    params=params,
                    content=content,
                    json=json,
                    data=data,
                )
        except httpx.InvalidURL as exc:
            raise errors.ConfigurationError(
                f"The address of '{self.name}' is not a valid URL",
                debug={"url": self.redact(f"{self.base_url} + {url}"), "cause": str(exc)},
            ) from None
        request_id = request.headers.setdefault(REQUEST_ID_HEADER, new_id())
        if write and dry_run_active():
            self._refuse_write(request, operation, request_id)
        return request, request_id

    async def _read_body(
        self, response: httpx.Response, request: httpx.Request, request_id: str
    ) -> None:
        """Read the streamed body of ``response`` under the size limit into ``.content``."""
        try:
            body = await read_body(response, limit=self.max_response_bytes, source=self.name)
        except errors.ProtocolError as exc:
            exc.debug.setdefault("status", response.status_code)
            raise
        # What httpx's own aread() leaves behind, so .content, .text and .json() work.
        set_read_body(response, body)

    def _note_refusal(
        self, exc: errors.ProtocolError, request: httpx.Request, request_id: str
    ) -> None:
        """Add the call to the debug detail of an answer the limits refused, and log it."""
        from mailadmin.wire.limits import BodyTooLarge

        exc.debug.setdefault("request", f"{request.method} {self.redact(str(request.url))}")
        exc.debug.setdefault("request_id", request_id)
        if isinstance(exc, BodyTooLarge):
            log.warning(
                "%s %s: answer refused, larger than %d bytes (request %s)",
                request.method,
                self.redact(str(request.url)),
                exc.limit,
                request_id,
            )

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: str,
        *,
        write: bool,
        idempotent: bool | None = None,
        operation: str = "",
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        content: str | bytes | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        auth: httpx.Auth | tuple[str, str] | Literal[False] | None = None,
        endpoint: str | None = None,
    ) -> AsyncIterator[Streamed]:
        """Send one call like :meth:`request`, but hand its answer over unread::

            async with transport.stream("POST", "/soap", write=False, content=...) as answer:
                async for piece in answer.pieces():
                    parser.feed(piece)

        The arguments, dry-run refusal, request id, redacted logs and retries are
        :meth:`request`'s; a call is retried only before any of its body is handed over
        (connection errors, timeouts, 429/502/503/504), never after. An error answer
        (status 400 or above) is read whole, under ``max_response_bytes``, before it is
        handed over (``answer.response.content`` is ready). The ``deadline`` covers the
        whole block, the consuming of the body included (then ``Unavailable``); a broken
        connection while the body streams is ``Unavailable`` too.
        """
        import httpx

        client = self._get_client()
        # Through httpx's client: its streamed answers are read a piece at a time.
        request, request_id = self._build(
            client,
            False,
            method,
            url,
            endpoint=endpoint,
            write=write,
            operation=operation,
            headers=headers,
            params=params,
            content=content,
            json=json,
            data=data,
        )
        retry = (not write) if idempotent is None else idempotent
        auth_arg = self._auth_for(endpoint, auth)
        attempts = 0

        async def attempt() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            pacer = self.pacer
            if pacer.rate is not None:
                await pacer.wait()
            started = time.perf_counter()
            response: httpx.Response | None = None
            try:
                response = await client.send(request, auth=auth_arg, stream=True)
                pacer.answered(response.status_code == 429)
                if response.status_code >= 400:
                    # Small, and read by whoever maps it to an error (or retried).
                    await self._read_body(response, request, request_id)
            except errors.ProtocolError as exc:
                self._note_refusal(exc, request, request_id)
                raise
            except httpx.HTTPError as exc:
                self._log_attempt(request, operation, request_id, attempts, started, error=exc)
                raise
            except Exception as exc:
                if response is not None:
                    await response.aclose()
                mapped = _as_httpx_error(exc)
                if mapped is None:
                    raise
                self._log_attempt(request, operation, request_id, attempts, started, error=exc)
                raise mapped from exc
            self._log_attempt(request, operation, request_id, attempts, started, response)
            return response

        try:
            async with asyncio.timeout(self.deadline):
                response = await self._attempts(attempt, retry, request, operation, request_id)
                response.extensions[REDACTOR_EXTENSION] = self._redactor
                try:
                    yield Streamed(self, response, request_id)
                finally:
                    await response.aclose()
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, request, request_id, attempts) from exc
        except TimeoutError as exc:
            raise self._past_deadline(request, request_id, attempts) from exc

    def redact(self, text: str) -> str:
        """``text`` with this transport's secrets and every secret-named field masked."""
        return self._redactor.redact(text)

    def add_secret(self, *values: str) -> None:
        """Also mask these values from now on (a session id or token obtained at run time)."""
        self._redactor.add(*values)

    def set_auth(self, auth: httpx.Auth | None, *, endpoint: str | None = None) -> None:
        """Send every request to ``endpoint`` with ``auth`` (``None``: remove it).

        Without ``endpoint`` the credentials serve every endpoint that has none of its own.
        A :class:`~mailadmin.wire.auth.SessionAuth` is bound to this transport, so its
        logins go through it (same HTTP transport, logs, redaction).
        """
        if endpoint is not None:
            self._endpoint_base(endpoint)  # an unknown name fails now, not on first use
        if auth is None:
            self._auths.pop(endpoint, None)
            return
        self._bind(auth)
        self._auths[endpoint] = auth

    def endpoint_url(self, endpoint: str | None, url: str = "") -> str:
        """The absolute URL ``url`` stands for on ``endpoint`` (``None``: ``base_url``)."""
        if endpoint is None:
            import httpx

            return str(_join(httpx.URL(self.base_url), url))
        return str(self._endpoint_url(endpoint, url))

    async def aclose(self) -> None:
        """Close the connections. The transport opens new ones if used again."""
        client, self._client, self._loop = self._client, None, None
        self._aio = None
        if client is not None:
            await client.aclose()

    # -- machinery -------------------------------------------------------------------------

    def _endpoint_base(self, endpoint: str) -> httpx.URL:
        base = self._bases.get(endpoint)
        if base is None:
            if endpoint not in self.endpoints:
                known = ", ".join(sorted(self.endpoints)) or "none"
                raise errors.ConfigurationError(
                    f"'{self.name}' has no endpoint named '{endpoint}' (configured: {known})"
                )
            import httpx

            base = httpx.URL(self.endpoints[endpoint])
            self._bases[endpoint] = base
        return base

    def _target(self, client: httpx.AsyncClient, endpoint: str | None, url: str) -> httpx.URL:
        """The absolute URL of a call, remembered: a plugin sends the same few paths over
        and over, and parsing and joining them cost about a tenth of a request's CPU."""
        key = (endpoint, url)
        found = self._targets.get(key)
        if found is None:
            if endpoint is not None:
                found = self._endpoint_url(endpoint, url)
            else:
                import httpx

                try:
                    found = _joined(self.base_url, url)
                except httpx.InvalidURL as exc:
                    raise errors.ConfigurationError(
                        f"The address of '{self.name}' is not a valid URL",
                        debug={"url": self.redact(f"{self.base_url} + {url}"), "cause": str(exc)},
                    ) from None
            if len(self._targets) >= _TARGETS_KEPT:  # next links and per-item paths vary
                self._targets.clear()
            self._targets[key] = found
        return found

    def _endpoint_url(self, endpoint: str, url: str) -> httpx.URL:
        import httpx

        base = self._endpoint_base(endpoint)
        try:
            return _join(base, url)
        except httpx.InvalidURL as exc:
            raise errors.ConfigurationError(
                f"The address of '{self.name}' is not a valid URL",
                debug={"url": self.redact(f"{base} + {url}"), "cause": str(exc)},
            ) from None

    def _auth_for(
        self, endpoint: str | None, auth: httpx.Auth | tuple[str, str] | Literal[False] | None
    ) -> Any:
        import httpx

        if auth is False:
            return None  # httpx: no credentials at all, not even the client's defaults
        if auth is None:
            auth = self._auths.get(endpoint) if endpoint in self._auths else self._auths.get(None)
            return httpx.USE_CLIENT_DEFAULT if auth is None else auth
        self._bind(auth)
        return auth

    def _bind(self, auth: object) -> None:
        bind = getattr(auth, "bind", None)
        if callable(bind):
            bind(self)

    def _get_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # A client is bound to the loop it was made on (aiohttp sessions are), so a new
            # loop (asyncio.run per call in sync code) gets a new client.
            import httpx

            try:
                base_url = httpx.URL(self.base_url)
            except httpx.InvalidURL as exc:
                raise errors.ConfigurationError(
                    f"The address of '{self.name}' is not a valid URL",
                    debug={"url": self.redact(self.base_url), "cause": str(exc)},
                ) from None
            self._defaults = {
                "User-Agent": _user_agent(),
                # Only encodings read_body decodes with a bound (no brotli, no zstd).
                "Accept-Encoding": ACCEPT_ENCODING,
                **self._headers,
            }
            self._client = httpx.AsyncClient(
                base_url=base_url,
                transport=self._make_backend(),
                timeout=httpx.Timeout(self.timeout),
                headers=self._defaults,
                follow_redirects=False,
            )
            skip_idle_cookie_work(self._client)
            self._targets.clear()  # joined onto the old client's base
            self._loop = loop
        return self._client

    def _direct_session(self) -> ClientSession | None:
        """The aiohttp session requests go out on directly (:mod:`mailadmin.wire.direct`),
        shared with the httpx-aiohttp transport; ``None`` for the other backends."""
        backend = self._aio
        if backend is None:
            return None
        session = backend.client
        if session is None or callable(session):
            session = backend.client = backend.get_client()
        return session

    def _make_backend(self) -> httpx.AsyncBaseTransport:
        import httpx

        backend = self._backend
        limits = httpx.Limits(
            max_connections=self.max_connections, max_keepalive_connections=self.max_connections
        )
        if backend == "httpx":
            return httpx.AsyncHTTPTransport(verify=_tls_context(self.verify), limits=limits)
        if backend == "aiohttp":
            from aiohttp import ClientTimeout

            self._aio = _aiohttp_transport()(verify=_tls_context(self.verify), limits=limits)
            self._aio_timeout = ClientTimeout(
                sock_connect=self.timeout, sock_read=self.timeout, connect=self.timeout
            )
            return self._aio
        if isinstance(backend, httpx.AsyncBaseTransport):
            return backend
        handler = getattr(backend, "async_handler", None)
        if callable(handler):  # a respx router passed as it is
            return httpx.MockTransport(handler)
        raise errors.ConfigurationError(f"The HTTP transport given to '{self.name}' is not usable")

    async def _with_retries(
        self,
        attempt: Callable[[], Awaitable[httpx.Response]],
        request: httpx.Request,
        operation: str,
        request_id: str,
    ) -> httpx.Response:
        # The first attempt runs outside tenacity: nearly every call succeeds at once, and
        # setting up the retry loop costs a tenth of a call's client CPU. Only an outcome
        # worth retrying enters the loop, as its first attempt.
        first: httpx.Response | Exception
        try:
            first = await attempt()
        except Exception as exc:
            if not _is_retryable_error(exc):
                raise
            first = exc
        else:
            if not self._retry_response(first):
                return first
        replay = [first]

        async def first_then_again() -> httpx.Response:
            if replay:
                outcome = replay.pop()
                if isinstance(outcome, Exception):
                    raise outcome
                return outcome
            return await attempt()

        return await self._retrying(request, operation, request_id)(first_then_again)

    def _retry_response(self, response: httpx.Response) -> bool:
        """A retryable status, unless the server asks to wait longer than we would."""
        if response.status_code not in RETRY_STATUSES or (
            # A gateway's 502/504 may come after the platform applied the write.
            _SENT_ONCE.get() and response.status_code in (502, 504)
        ):
            return False
        asked = parse_retry_after(response.headers.get("Retry-After"))
        return asked is None or asked <= self.max_retry_wait

    def _retrying(
        self, request: httpx.Request, operation: str, request_id: str
    ) -> Callable[[Callable[[], Awaitable[httpx.Response]]], Awaitable[httpx.Response]]:
        from tenacity import AsyncRetrying, stop_after_attempt

        def should_retry(state: RetryCallState) -> bool:
            outcome = state.outcome
            if outcome is None:
                return False
            if outcome.failed:
                return _is_retryable_error(outcome.exception())
            return self._retry_response(outcome.result())

        def wait(state: RetryCallState) -> float:
            outcome = state.outcome
            if outcome is not None and not outcome.failed:
                response: httpx.Response = outcome.result()
                asked = parse_retry_after(response.headers.get("Retry-After"))
                if asked is not None:
                    return asked
            delay = min(self.max_retry_wait, _BACKOFF_BASE * 2.0 ** (state.attempt_number - 1))
            return delay + random.uniform(0, delay / 2)

        def before_sleep(state: RetryCallState) -> None:
            seconds = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "%s %s: retrying in %.2f s (attempt %d, request %s)",
                request.method,
                self.redact(str(request.url)),
                seconds,
                state.attempt_number,
                request_id,
                extra=self._log_fields(
                    request,
                    operation,
                    request_id,
                    attempt=state.attempt_number,
                    retry_in=seconds,
                ),
            )

        def give_up(state: RetryCallState) -> Any:
            # The last response goes back to the caller (raise_for_status makes it an
            # error); the last exception propagates.
            assert state.outcome is not None
            return state.outcome.result()

        retrying = AsyncRetrying(
            sleep=self.sleep,
            stop=stop_after_attempt(self.retries + 1),
            wait=wait,
            retry=should_retry,
            before_sleep=before_sleep,
            retry_error_callback=give_up,
        )
        return retrying

    def _refuse_write(self, request: httpx.Request, operation: str, request_id: str) -> None:
        line = f"{request.method} {self.redact(str(request.url))}"
        log.info(
            "refused during a dry run: %s (request %s)",
            line,
            request_id,
            extra=self._log_fields(request, operation, request_id),
        )
        raise DryRunViolation(
            f"{self.name} tried to send a change during a dry run; nothing was sent",
            debug={"request": line, "operation": operation, "request_id": request_id},
        )

    def _transport_error(
        self, exc: Exception, request: httpx.Request, request_id: str, attempts: int
    ) -> errors.MailadminError:
        import httpx

        debug = {
            "request": f"{request.method} {self.redact(str(request.url))}",
            "request_id": request_id,
            "attempts": attempts,
            "cause": self.redact(f"{type(exc).__name__}: {exc}"),
        }
        if isinstance(exc, httpx.UnsupportedProtocol):
            return errors.ConfigurationError(
                f"The address of '{self.name}' must start with http:// or https://", debug=debug
            )
        if isinstance(exc, httpx.DecodingError):
            return errors.ProtocolError(
                f"{self.name} sent an answer that could not be decoded", debug=debug
            )
        kind = _failure_kind(exc)
        if kind == "timeout":
            return errors.Unavailable(f"{self.name} did not answer in time", debug=debug)
        if kind == "connect":
            return errors.Unavailable(f"{self.name} could not be reached", debug=debug)
        return errors.Unavailable(f"{self.name} broke off the connection", debug=debug)

    def _log_fields(
        self, request: httpx.Request, operation: str, request_id: str, **more: Any
    ) -> dict[str, Any]:
        """The structured fields every transport log record carries (URL redacted)."""
        return {
            "request_id": request_id,
            "provider": self.name,
            "operation": operation,
            "method": request.method,
            "url": self.redact(str(request.url)),
            **more,
        }

    def _log_attempt(
        self,
        request: httpx.Request,
        operation: str,
        request_id: str,
        attempt: int,
        started: float,
        response: httpx.Response | None = None,
        error: Exception | None = None,
    ) -> None:
        if not log.isEnabledFor(logging.WARNING if error is not None else logging.INFO):
            return
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        status = response.status_code if response is not None else None
        extra = self._log_fields(
            request, operation, request_id, status=status, elapsed_ms=elapsed_ms, attempt=attempt
        )
        url = extra["url"]
        if error is not None:
            log.warning(
                "%s %s failed after %.0f ms (attempt %d, request %s): %s",
                request.method,
                url,
                elapsed_ms,
                attempt,
                request_id,
                self.redact(f"{type(error).__name__}: {error}"),
                extra={**extra, "failure": _failure_label(error)},
            )
        else:
            log.info(
                "%s %s -> %s in %.0f ms (attempt %d, request %s)",
                request.method,
                url,
                status,
                elapsed_ms,
                attempt,
                request_id,
                extra=extra,
            )
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "request %s headers=%s body=%s",
                request_id,
                self._redactor.redact_headers(request.headers),
                excerpt(self.redact(_body_text(request))),
                extra=extra,
            )
            if response is not None:
                log.debug(
                    "response %s headers=%s body=%s",
                    request_id,
                    self._redactor.redact_headers(response.headers),
                    excerpt(self.redact(_response_text(response))),
                    extra=extra,
                )


class Streamed:
    """An answer from :meth:`Transport.stream`, its body not yet read.

    ``response``: the ``httpx.Response`` (status, headers; ``content`` only for an error
    answer, which is read whole). :meth:`pieces` yields the decoded body as it arrives;
    :meth:`read` returns it whole. Either applies the transport's ``max_response_bytes``
    and content-encoding rules and turns a broken connection into ``Unavailable``.
    """

    def __init__(self, transport: Transport, response: httpx.Response, request_id: str) -> None:
        self.transport = transport
        self.response = response
        self.request_id = request_id

    @property
    def status_code(self) -> int:
        """The HTTP status of the answer."""
        return self.response.status_code

    async def pieces(self) -> AsyncIterator[bytes]:
        """The decoded body, a piece at a time as it arrives (each at most 64 KiB after
        decompression, or as the network delivered it)."""
        transport, response = self.transport, self.response
        try:
            async for piece in iter_body(
                response, limit=transport.max_response_bytes, source=transport.name
            ):
                yield piece
        except errors.ProtocolError as exc:
            exc.debug.setdefault("status", response.status_code)
            transport._note_refusal(exc, response.request, self.request_id)
            raise
        except Exception as exc:
            mapped = _as_httpx_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def read(self) -> bytes:
        """The whole decoded body (also left in ``response.content``)."""
        if not self.response.is_stream_consumed:
            set_read_body(self.response, b"".join([piece async for piece in self.pieces()]))
        return self.response.content


# -- private ---------------------------------------------------------------------------------


#: How many joined call URLs a transport keeps.
_TARGETS_KEPT = 256


@cache
def _tls_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per process and setting: loading the CA bundle costs about 25 ms,
    which every new transport (every new Orchestrator) paid again before. A verifying
    context loads it on its first TLS connection only (:mod:`mailadmin.wire.tls`), so a
    command against ``http://`` endpoints never does."""
    if verify:
        from mailadmin.wire.tls import DeferredTrustContext

        return DeferredTrustContext()
    import httpx

    return httpx.create_ssl_context(verify=False)


_WARNED_UNVERIFIED: set[str] = set()


def _warn_unverified(name: str) -> None:
    """Warn once per instance that its TLS certificates are not checked."""
    if name in _WARNED_UNVERIFIED:
        return
    _WARNED_UNVERIFIED.add(name)
    log.warning(
        "%s: TLS certificate verification is off (verify_tls = false); "
        "anyone on the path can read its credentials",
        name,
        extra={"provider": name},
    )


@cache
def _aiohttp_transport() -> type[AiohttpTransport]:
    """The httpx-aiohttp transport, with aiohttp's own silent resend switched off.

    aiohttp sends a PUT or DELETE again by itself when the connection drops; only the
    transport's retry policy may decide that, so a non-idempotent write is sent once.
    """
    from httpx_aiohttp import AiohttpTransport as Base

    class _SendOnce(Base):
        def get_client(self) -> ClientSession:
            return send_writes_once(super().get_client())

    return _SendOnce


def _flow(auth: Any) -> httpx.Auth | None:
    """The ``httpx.Auth`` a call's resolved credentials stand for (``None``: none); what
    ``httpx.AsyncClient`` does with its ``auth`` argument."""
    import httpx

    if auth is None or auth is httpx.USE_CLIENT_DEFAULT:
        return None  # the client itself never carries credentials here
    if isinstance(auth, httpx.Auth):
        return auth
    if isinstance(auth, tuple):
        return httpx.BasicAuth(*auth)
    raise errors.ConfigurationError("The credentials given for a call are not usable")


def _as_httpx_error(exc: Exception) -> httpx.TransportError | None:
    """An aiohttp error that httpx-aiohttp lets through, as the httpx error it stands for."""
    import httpx

    aiohttp = sys.modules.get("aiohttp")
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(str(exc) or "timed out")
    if aiohttp is not None and isinstance(exc, aiohttp.ClientError):
        return httpx.RemoteProtocolError(str(exc) or type(exc).__name__)
    return None


def _failure_kind(exc: BaseException) -> Literal["timeout", "connect", "broken"]:
    """What went wrong, judged from the original aiohttp error where there is one.

    httpx-aiohttp maps every aiohttp connection error to ``ConnectTimeout``; the cause
    tells a refused connection and a dropped one from a real timeout.
    """
    import httpx

    aiohttp = sys.modules.get("aiohttp")
    cause = exc.__cause__
    if aiohttp is not None and isinstance(cause, aiohttp.ClientError | TimeoutError):
        exc = cause
        if isinstance(exc, aiohttp.ClientConnectorError) and not isinstance(exc, TimeoutError):
            return "connect"
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    return "broken"


def _failure_label(exc: BaseException) -> str:
    """A plain label for logs: ``refused`` when the peer refused, else the kind."""
    seen: BaseException | None = exc
    for _ in range(5):  # the cause chain is short; never loop on a cycle
        if seen is None:
            break
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return "refused"
        seen = seen.__cause__ or seen.__context__
    return _failure_kind(exc)


_SENT_ONCE: ContextVar[bool] = ContextVar("mailadmin_sent_once", default=False)


@contextmanager
def sent_once() -> Iterator[None]:
    """Within: a request is resent only when it surely never left (no connection); after a
    timeout or a dropped answer the caller reads the platform back instead, so a request
    landing late can never follow a newer write (``Provider.change`` opens this)."""
    token = _SENT_ONCE.set(True)
    try:
        yield
    finally:
        _SENT_ONCE.reset(token)


def _is_retryable_error(exc: BaseException | None) -> bool:
    """Connection failures, timeouts and dropped connections; not protocol misuse."""
    import httpx

    if _SENT_ONCE.get():
        return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)


@lru_cache(maxsize=1024)
def _joined(base: str, url: str) -> httpx.URL:
    """:func:`_join` of two strings, kept for the process: every new transport (every new
    Orchestrator) joins the same few paths onto the same bases again (httpx.URL objects
    are immutable, so one serves every transport)."""
    import httpx

    return _join(httpx.URL(base), url)


def _join(base: httpx.URL, url: str) -> httpx.URL:
    """``url`` joined onto ``base`` as httpx joins a client's ``base_url`` (the base path is
    kept: ``https://h/v1.0`` + ``users`` is ``https://h/v1.0/users``); absolute URLs pass."""
    import httpx

    target = httpx.URL(url)
    if target.is_absolute_url:
        return target
    path = base.raw_path if base.raw_path.endswith(b"/") else base.raw_path + b"/"
    return base.copy_with(raw_path=path + target.raw_path.lstrip(b"/"))


def _response_text(response: httpx.Response) -> str:
    import httpx

    try:
        return response.content.decode("utf-8", "replace")
    except httpx.ResponseNotRead:  # a streamed answer: read by its consumer
        return "<stream>"


def _body_text(request: httpx.Request) -> str:
    import httpx

    try:
        return request.content.decode("utf-8", "replace")
    except httpx.RequestNotRead:  # a streamed upload: not kept
        return "<stream>"


def _user_agent() -> str:
    from mailadmin import __version__

    return f"mailadmin/{__version__}"

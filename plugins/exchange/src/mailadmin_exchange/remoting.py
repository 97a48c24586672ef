"""Exchange Server's remote PowerShell through pypsrp: one runspace pool, cmdlets as data.

The on-premises mode's wire. A :class:`RemoteShell` opens one ``RunspacePool`` on the
``Microsoft.Exchange`` configuration the first time it is used and keeps it: every call
(and every concurrent item of a bulk run sharing the provider) runs its pipeline in that
pool, so a run of a thousand changes opens one shell. A command is a cmdlet name and its
parameters (``add_cmdlet`` / ``add_parameter``), never script text, so nothing a user
typed is ever parsed as PowerShell; Exchange's sessions are in no-language mode anyway.

pypsrp is synchronous: each pipeline runs in a worker thread (``asyncio.to_thread``) and
a lock keeps one pipeline at a time on the pool, which pypsrp's pool object expects.

Errors: an ERROR_RECORD (or a Failed pipeline) maps through the Online mode's
:data:`~mailadmin_exchange.wire.ADMIN_ERRORS` by the exception's class name, so both
modes raise the same typed errors for the same Exchange failure; the record's own text
stays in ``debug``. A shell the server dropped (WSManFault 2150858843) closes the pool
and is :class:`~mailadmin.sdk.errors.Unavailable` (the next call opens a new pool); the
throttling policy's concurrency limit is ``RateLimited``; a refused password is an
``AuthenticationError``. Credentials never appear in messages or debug.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mailadmin.sdk import errors
from mailadmin_exchange.wire import ADMIN_ERRORS, NO_CHANGE

__all__ = ["CONFIGURATION", "CmdletOutput", "RemoteShell"]

#: The session configuration of Exchange's management endpoint.
CONFIGURATION = "Microsoft.Exchange"
_SHELL_GONE = {2150858843, 2150858793}
#: The longest Retry-After a read waits out before retrying (seconds).
_LONGEST_WAIT = 30.0
_CATEGORY = re.compile(r"\[FailureCategory=Cmdlet-(\w+)\]")


@dataclass
class CmdletOutput:
    """What a cmdlet wrote: its objects' properties, and its warnings."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        """Exchange's "no settings ... have been modified" warning was among them."""
        return any(w.startswith(NO_CHANGE) for w in self.warnings)


class RemoteShell:
    """One runspace pool on an Exchange server, opened on first use and reused.

    ``server``/``port``/``path``/``ssl``: the endpoint (``https://SERVER/PowerShell``:
    port 443, ``ssl=True``); ``auth``: ``basic``, ``negotiate`` or ``kerberos`` as pypsrp
    supports them; ``cert_validation``: ``True``, ``False`` or a CA bundle path.
    """

    def __init__(
        self,
        *,
        server: str,
        username: str,
        password: str,
        port: int = 443,
        path: str = "PowerShell",
        ssl: bool = True,
        auth: str = "basic",
        cert_validation: bool | str = True,
        provider: str = "exchange",
        operation_timeout: int = 60,
        http: Any = None,
        retries: int = 2,
    ) -> None:
        self._connection = {
            "server": server,
            "port": port,
            "path": path.lstrip("/"),
            "ssl": ssl,
            "auth": auth,
            "username": username,
            "password": password,
            "cert_validation": cert_validation,
            "operation_timeout": operation_timeout,
            # Basic over plain http (a lab or the mock) cannot use message encryption;
            # over TLS pypsrp needs none, and Kerberos/Negotiate on http encrypt.
            "encryption": "never" if auth == "basic" else "auto",
        }
        self.provider = provider
        #: An httpx transport answering instead of the network (a mock's router).
        self._http = http
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pool: Any = None
        self._lock = threading.Lock()
        self._retry_after: float | None = None
        #: Retries of a read turned away with 429 (the instance's ``retries``).
        self.retries = retries
        #: Runspace pools opened by this instance (one unless the server dropped one).
        self.pools_opened = 0

    async def run(
        self, cmdlet: str, parameters: Mapping[str, Any] | None = None, *, subject: str = ""
    ) -> CmdletOutput:
        """Run one cmdlet with named parameters (``None`` as a value: a switch)."""
        self._loop = asyncio.get_running_loop()
        return await asyncio.to_thread(self._run, cmdlet, dict(parameters or {}), subject)

    async def close(self) -> None:
        """Close the pool (WS-Man Delete): an open session counts against the user's
        concurrency limit on the server until it expires."""
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._close)

    # -- in the worker thread ---------------------------------------------------------------

    def _run(self, cmdlet: str, parameters: dict[str, Any], subject: str) -> CmdletOutput:
        # A read is retried after a short 429 (nothing changed); a write never is here.
        attempts = 1 + (self.retries if cmdlet.lower().startswith("get-") else 0)
        for attempt in range(attempts):
            try:
                return self._attempt(cmdlet, parameters, subject)
            except errors.RateLimited as limited:
                wait = limited.retry_after
                if attempt + 1 >= attempts or wait is None or wait > _LONGEST_WAIT:
                    raise
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, cmdlet: str, parameters: dict[str, Any], subject: str) -> CmdletOutput:
        from pypsrp.exceptions import AuthenticationError, WinRMError, WSManFaultError
        from pypsrp.powershell import PowerShell

        with self._lock:
            try:
                pool = self._open()
                ps = PowerShell(pool)
                ps.add_cmdlet(cmdlet)
                for name, value in parameters.items():
                    if value is None:
                        ps.add_parameter(name)
                    else:
                        ps.add_parameter(name, value)
                objects = ps.invoke()
                ps.close()
            except AuthenticationError:
                self._pool = None
                raise errors.AuthenticationError(
                    f"{self.provider} refused the user name or password for remote PowerShell"
                ) from None
            except WSManFaultError as fault:
                raise self._fault(fault) from None
            except WinRMError as exc:
                code = getattr(exc, "code", None)
                if code == 429:
                    # The request was turned away before the shell saw it: the pool stays.
                    raise errors.RateLimited(
                        f"{self.provider} asks to slow down remote PowerShell requests",
                        retry_after=self._retry_after,
                        debug={"code": 429},
                    ) from None
                if code != 503:
                    self._pool = None
                raise errors.Unavailable(
                    f"{self.provider}: remote PowerShell failed; try again",
                    debug={"exception": type(exc).__name__},
                ) from None
            except OSError as exc:
                self._pool = None
                raise errors.Unavailable(
                    f"{self.provider} could not be reached for remote PowerShell",
                    debug={"exception": type(exc).__name__},
                ) from None
        if ps.streams.error:
            raise self._error(ps.streams.error[0], cmdlet, subject)
        return CmdletOutput(
            rows=[_row(o) for o in objects],
            warnings=[str(getattr(w, "message", w)) for w in ps.streams.warning],
        )

    def _open(self) -> Any:
        if self._pool is None:
            from pypsrp.powershell import RunspacePool
            from pypsrp.wsman import WSMan

            wsman = WSMan(**self._connection)
            # pypsrp builds its requests session lazily; built here to read Retry-After.
            http = wsman.transport
            http.session = http.session or http._build_session()
            http.session.hooks["response"].append(self._note)
            if self._http is not None:
                from mailadmin_exchange.bridge import mount

                mount(wsman, self._http, self._current_loop)
            pool = RunspacePool(wsman, configuration_name=CONFIGURATION)
            pool.open()
            self._pool = pool
            self.pools_opened += 1
        return self._pool

    def _note(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """Keep a 429's Retry-After (pypsrp's error carries only the status)."""
        if response.status_code == 429:
            try:
                self._retry_after = float(response.headers.get("Retry-After", ""))
            except ValueError:
                self._retry_after = None

    def _current_loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None  # set by run() and close() before the thread starts
        return self._loop

    def _close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            if pool is not None:
                # A dropped shell cannot be closed; it is gone anyway.
                with contextlib.suppress(Exception):
                    pool.close()

    def _fault(self, fault: Any) -> errors.MailadminError:
        reason = str(getattr(fault, "reason", "") or "")
        if getattr(fault, "code", None) in _SHELL_GONE:
            self._pool = None
            return errors.Unavailable(
                f"{self.provider} dropped the remote PowerShell session; try again",
                debug={"code": fault.code},
            )
        if "MaxConcurrency" in reason or "budget" in reason:
            return errors.RateLimited(
                f"{self.provider}: too many remote PowerShell sessions are open for this user",
                debug={"platform_message": reason[:300]},
            )
        self._pool = None
        return errors.Unavailable(
            f"{self.provider} refused the remote PowerShell request",
            debug={"code": getattr(fault, "code", None), "platform_message": reason[:300]},
        )

    def _error(self, record: Any, cmdlet: str, subject: str) -> errors.MailadminError:
        found = _CATEGORY.search(str(getattr(record, "fq_error", "") or ""))
        code = found.group(1) if found else str(getattr(record, "reason", "") or "") or None
        return ADMIN_ERRORS.error_for_code(
            code,
            provider=self.provider,
            subject=subject or cmdlet,
            status=400,
            debug={"cmdlet": cmdlet, "platform_message": str(record)[:300]},
        )


def _row(value: Any) -> dict[str, Any]:
    from pypsrp.complex_objects import GenericComplexObject

    if isinstance(value, GenericComplexObject):
        return {**value.extended_properties, **value.adapted_properties}
    return {"value": value}

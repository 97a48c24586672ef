"""The SDK blocks this plugin uses, in one place.

Until the core's ``mailadmin.sdk`` offers them, minimal stand-ins with the planned names
live here (``SDK-PLAN.md``): OAuth2 client credentials as an ``httpx.Auth``, next-link
paging by re-posting the same body, and the change pattern. Each stand-in is replaced by
the core's block as it lands; nothing else in the plugin knows which one it gets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from mailadmin.contract import errors
from mailadmin.contract.models import ChangeResult, Outcome
from mailadmin.wire.dryrun import dry_run_active

__all__ = ["Change", "ClientCredentialsAuth", "apply_change", "next_link_pages"]

T = TypeVar("T")


class ClientCredentialsAuth(httpx.Auth):
    """OAuth2 client credentials: one token per token URL and scope, cached until shortly
    before expiry, refreshed once (and the call resent once) on a 401.

    ``on_token`` receives every token obtained (the transport registers it for redaction);
    ``on_refusal`` turns a refused token answer into an error.
    """

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str,
        *,
        refresh_margin: float = 300.0,
        on_token: Callable[[str], None] | None = None,
        on_refusal: Callable[[httpx.Response], Exception] | None = None,
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self.refresh_margin = refresh_margin
        self._on_token = on_token
        self._on_refusal = on_refusal
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("ClientCredentialsAuth works with httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = self._valid()
        if token is None:
            async with self._lock:
                token = self._valid()
                if token is None:
                    answer = yield self._token_request()
                    await answer.aread()
                    token = self._accept(answer)
                    if token is None:
                        return  # the token endpoint's own answer goes back to the caller
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        await response.aread()
        if response.status_code != 401:
            return
        async with self._lock:
            if self._token == token:  # nobody refreshed it meanwhile
                self._token = None
                answer = yield self._token_request()
                await answer.aread()
                fresh = self._accept(answer)
                if fresh is None:
                    return
            token = self._token or token
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _valid(self) -> str | None:
        if self._token and time.monotonic() < self._expires_at - self.refresh_margin:
            return self._token
        return None

    def _token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self._secret,
                "scope": self.scope,
            },
        )

    def _accept(self, answer: httpx.Response) -> str | None:
        if answer.status_code == 429 or answer.status_code >= 500:
            return None
        if answer.status_code != 200:
            if self._on_refusal is not None:
                raise self._on_refusal(answer)
            raise errors.AuthenticationError("the token endpoint refused the credentials")
        try:
            data = answer.json()
            token = str(data["access_token"])
            lifetime = float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise errors.ProtocolError("the token endpoint sent an unreadable answer") from None
        if self._on_token is not None:
            self._on_token(token)
        self._token = token
        self._expires_at = time.monotonic() + lifetime
        return token


async def next_link_pages(
    fetch: Callable[[str | None], Awaitable[tuple[T, str | None]]],
) -> AsyncIterator[T]:
    """Yield pages one at a time: ``fetch(None)`` is the first, ``fetch(link)`` the next
    (the caller re-posts the same body to the link). Only one page is held at a time."""
    page, link = await fetch(None)
    yield page
    seen: set[str] = set()
    while link:
        if link in seen:
            raise errors.ProtocolError("the platform sent the same next link twice")
        seen.add(link)
        page, link = await fetch(link)
        yield page


@dataclass(frozen=True)
class Change(Generic[T]):
    """A write as data: ``before`` (what is there), ``after`` (the target), ``apply``
    (sends the write; not called when nothing changes or during a dry run)."""

    subject: str
    before: T | None
    after: T | None
    apply: Callable[[], Awaitable[Any]]
    note: str = ""
    same: bool | None = None

    @property
    def needed(self) -> bool:
        """True when the platform does not hold the target yet."""
        return (not self.same) if self.same is not None else self.before != self.after


async def apply_change(operation: str, change: Change[T]) -> ChangeResult[T]:
    """The result of a change: ``unchanged`` (nothing sent), a dry run (nothing sent) or
    applied; ``dry_run`` is true exactly when the call is a dry run."""
    dry = dry_run_active()
    if not change.needed:
        outcome = Outcome.UNCHANGED
    else:
        if not dry:
            await change.apply()
        outcome = Outcome.CHANGED
    return ChangeResult[T](
        operation=operation,
        subject=change.subject,
        outcome=outcome,
        before=change.before,
        after=change.after,
        dry_run=dry,
    )

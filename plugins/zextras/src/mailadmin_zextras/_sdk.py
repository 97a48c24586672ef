"""TEMPORARY stand-ins for SDK blocks not yet on main (SDK-PLAN.md names), in one spot.

Each name here is replaced by the real import from ``mailadmin.sdk`` as soon as it lands;
this module is then deleted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from mailadmin.contract import errors
from mailadmin.contract.models import ChangeResult, Outcome
from mailadmin.wire.dryrun import dry_run_active
from mailadmin.wire.responses import raise_for_status

# -- wire.jsonapi (sdk-contract) ---------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ErrorRule:
    error: type[errors.MailadminError]
    message: str
    status: int | None = None
    code: str | None = None


class ErrorTable:
    def __init__(
        self, rules: Iterable[ErrorRule] = (), *, code: Callable[[Any], str | None]
    ) -> None:
        self.rules = tuple(rules)
        self.read_code = code

    def raise_for(
        self, response: httpx.Response, *, provider: str, subject: str, redactor: Any
    ) -> None:
        try:
            body = response.json()
        except ValueError:
            body = None
        code = self.read_code(body)
        matching = [
            r
            for r in self.rules
            if (r.status is None or r.status == response.status_code)
            and (r.code is None or r.code == code)
        ]
        best = [r for r in matching if r.code is not None] or matching
        if not best:
            raise_for_status(response, provider=provider, redactor=redactor)
            return
        debug = {
            "code": code,
            "status": response.status_code,
            "body": redactor.redact(response.text[:2000]),
        }
        raise best[0].error(
            best[0].message.format(provider=provider, subject=subject or "the request"), debug=debug
        )


class JsonClient:
    def __init__(self, transport: Any, *, name: str, errors: ErrorTable, auth: Any = None) -> None:
        self.transport = transport
        self.name = name
        self.errors = errors
        self.auth = auth

    async def post(
        self,
        url: str,
        *,
        json: Any = None,
        write: bool = True,
        idempotent: bool | None = None,
        operation: str = "",
        subject: str = "",
    ) -> Any:
        response = await self.transport.request(
            "POST",
            url,
            json=json,
            write=write,
            idempotent=idempotent,
            operation=operation,
            auth=self.auth,
        )
        if response.status_code >= 400:
            self.errors.raise_for(
                response, provider=self.name, subject=subject, redactor=self.transport
            )
        try:
            return response.json()
        except ValueError:
            raise errors.ProtocolError(
                f"{self.name} sent an answer that could not be read"
            ) from None


# -- contract.change (sdk-contract) ------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class Change(Generic[T]):
    subject: str
    before: T | None
    after: T | None
    apply: Callable[[], Awaitable[Any]]
    note: str = ""
    same: bool | None = None


async def apply_change(operation: str, change: Change[T]) -> ChangeResult[T]:
    dry = dry_run_active()
    same = change.same if change.same is not None else change.before == change.after
    if same:
        outcome = Outcome.UNCHANGED
    elif dry:
        outcome = Outcome.CHANGED
    else:
        await change.apply()
        outcome = Outcome.CHANGED
    return ChangeResult(
        operation=operation,
        subject=change.subject,
        outcome=outcome,
        before=change.before,
        after=change.after,
        dry_run=dry,
    )

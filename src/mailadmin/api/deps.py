"""What every route shares: the services, the calling identity, idempotent writes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from mailadmin.api.idempotency import IdempotencyStore, Stored, fingerprint
from mailadmin.api.problems import from_error, problem_response
from mailadmin.contract import errors
from mailadmin.rules.identities import Identity, acting_scope

if TYPE_CHECKING:
    from mailadmin.api.keys import ApiKey, ApiKeys
    from mailadmin.api.runs import RunManager
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = [
    "ApiError",
    "Caller",
    "CallerDep",
    "DryRun",
    "Services",
    "ServicesDep",
    "api_error_response",
    "bind_run",
    "get_caller",
    "idempotent",
    "json_response",
]


@dataclass
class Services:
    """The long-lived parts of the service, built once at start-up."""

    orch: Orchestrator
    keys: ApiKeys
    idempotency: IdempotencyStore
    runs: RunManager
    #: ``/metrics``: the process's Prometheus metrics (None without prometheus-client).
    metrics: Any = None


class ApiError(Exception):
    """A refusal of the HTTP layer itself (no key, a bad Idempotency-Key...)."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers


@dataclass(frozen=True)
class Caller:
    """Who is calling: the API key and the acting identity it is bound to."""

    key: ApiKey
    identity: Identity


async def get_services(request: Request) -> Services:
    """The services of the running application."""
    # async: FastAPI runs a plain-def dependency in its thread pool, a thread hop per use
    # (two to four per request) for an attribute read.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
_bearer = HTTPBearer(auto_error=False, description="An API key: `mailadmin keys create`")


async def get_caller(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """Authenticate the API key; every route but the health checks needs one. The
    admission layer (:mod:`mailadmin.api.admission`) has checked it before the body was
    read; it is looked up here only where that layer did not run."""
    key: ApiKey | None = getattr(request.state, "api_key", None)
    if key is None:
        if credentials is None:
            raise ApiError(
                401,
                "unauthenticated",
                "Send an API key: 'Authorization: Bearer <key>'",
                {"WWW-Authenticate": "Bearer"},
            )
        key = await asyncio.to_thread(services.keys.authenticate, credentials.credentials)
    if key is None:
        raise ApiError(
            401,
            "unauthenticated",
            "The API key is unknown or revoked",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    identity = Identity.parse(key.identity)
    request.state.identity = str(identity)
    request.state.key_id = key.id
    if services.keys.touch_due(key.id):  # at most once per key per interval, not per request
        await asyncio.to_thread(services.keys.touch, key.id)
    return Caller(key=key, identity=identity)


CallerDep = Annotated[Caller, Depends(get_caller)]
DryRun = Annotated[
    bool, Query(description="Check everything and report what would change; send no write.")
]

#: Longest Idempotency-Key accepted (the column's size).
_MAX_KEY = 255


def json_response(
    value: BaseModel | list[Any] | dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSON answer of a model (or a list of models)."""
    from fastapi.encoders import jsonable_encoder

    return JSONResponse(jsonable_encoder(value), status_code=status, headers=headers)


async def idempotent(
    request: Request,
    services: Services,
    caller: Caller,
    work: Callable[[], Awaitable[Response]],
) -> Response:
    """Run a write as the caller, honouring ``Idempotency-Key``.

    A repeat of a finished request gets the first answer (``Idempotent-Replayed: true``);
    the same key with another method, path, query or body is ``409``; so is a repeat
    while the first is still at work. Answers of 2xx and 4xx are kept; a 5xx is not (the
    same request may succeed later).
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return await _as_caller(request, caller, work)
    key = key.strip()
    if not key or len(key) > _MAX_KEY or not key.isprintable():
        raise ApiError(
            400, "idempotency_key", f"Idempotency-Key must be 1 to {_MAX_KEY} printable characters"
        )
    body = await request.body()
    print_ = fingerprint(request.method, request.url.path, request.url.query, body)
    claim = await asyncio.to_thread(services.idempotency.claim, caller.key.id, key, print_)
    if claim.state == "mismatch":
        raise ApiError(
            409,
            "idempotency_mismatch",
            "This Idempotency-Key was used with another request; use a new key",
        )
    if claim.state == "running":
        raise ApiError(
            409,
            "idempotency_in_progress",
            "The first request with this Idempotency-Key is still running; try again shortly",
            {"Retry-After": "1"},
        )
    if claim.stored is not None:
        stored = claim.stored
        return Response(
            stored.body,
            status_code=stored.status,
            headers={**stored.headers, "Idempotent-Replayed": "true"},
        )
    token = _CLAIM.set((services.idempotency, caller.key.id, key))
    try:
        response = await _as_caller(request, caller, work)
    except BaseException:
        await asyncio.to_thread(services.idempotency.release, caller.key.id, key)
        raise
    finally:
        _CLAIM.reset(token)
    if response.status_code >= 500:
        await asyncio.to_thread(services.idempotency.release, caller.key.id, key)
        return response
    kept = {
        name: value
        for name, value in response.headers.items()
        if name.lower() in ("content-type", "location")
    }
    answer = Stored(status=response.status_code, body=bytes(response.body), headers=kept)
    await asyncio.to_thread(services.idempotency.complete, caller.key.id, key, answer)
    return response


#: The Idempotency-Key claimed by the request being worked (store, API key id, key).
_CLAIM: ContextVar[tuple[IdempotencyStore, str, str] | None] = ContextVar(
    "mailadmin_api_claim", default=None
)


async def bind_run(run_id: str) -> None:
    """Note the run a request just started on its Idempotency-Key claim, if it has one,
    so a restart that settles the run also settles the key (issue 29.8)."""
    claim = _CLAIM.get()
    if claim is not None:
        store, key_id, key = claim
        await asyncio.to_thread(store.attach_run, key_id, key, run_id)


async def without_key(
    request: Request, caller: Caller, work: Callable[[], Awaitable[Response]]
) -> Response:
    """Run a write as the caller without keeping anything of the request under an
    ``Idempotency-Key`` (a fingerprint of a body holding a password would be a hash of
    it). Only for writes a repeat cannot harm."""
    return await _as_caller(request, caller, work)


async def _as_caller(
    request: Request, caller: Caller, work: Callable[[], Awaitable[Response]]
) -> Response:
    # Typed errors become the answer here (not in the app's handler) so they are kept
    # under the Idempotency-Key like any other answer.
    try:
        with acting_scope(caller.identity):
            return await work()
    except errors.MailadminError as exc:
        return from_error(
            exc, instance=request.url.path, request_id=getattr(request.state, "request_id", None)
        )


def api_error_response(request: Request, exc: ApiError) -> JSONResponse:
    """The problem answer of an :class:`ApiError`."""
    return problem_response(
        exc.status,
        exc.code,
        exc.detail,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        headers=exc.headers,
    )

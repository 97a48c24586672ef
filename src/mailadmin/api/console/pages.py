"""The console's pages: runs, the journal, the reports, the tenants.

Every page reads through the services the HTTP API uses (the run manager of
:mod:`mailadmin.api.runs`, the orchestrator's journal, the report builders) as the
signed-in key's identity; cancel and resume call the same run manager and orchestrator
methods as ``POST /v1/runs/{id}/cancel`` and ``mailadmin journal resume``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mailadmin.api.admission import CONSOLE
from mailadmin.api.console import session
from mailadmin.api.console.chart import seats_chart
from mailadmin.api.deps import ApiError, Caller, CallerDep, ServicesDep
from mailadmin.api.routes.reports import sees_subject
from mailadmin.api.runs import Run, visible_to
from mailadmin.contract import errors
from mailadmin.rules.identities import IdentityKind, acting_scope

__all__ = ["router"]

router = APIRouter(prefix=CONSOLE, include_in_schema=False)

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("mailadmin.api.console", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
#: Nothing of the page comes from elsewhere; no inline script or style runs.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Cache-Control": "no-store",
    # same-origin, not no-referrer: with no-referrer a browser posts "Origin: null", which
    # the sign-in must refuse (a page of another site can send it too).
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
_JOURNAL_FILTERS = ("subject", "operation", "status", "outcome", "run")
_STATUSES = ("started", "done", "failed", "refused")
_OUTCOMES = ("changed", "unchanged", "accepted", "partial", "failed", "unknown")
_ENDED = ("succeeded", "failed", "cancelled")


def _render(
    request: Request, name: str, caller: Caller | None, status: int = 200, **context: Any
) -> HTMLResponse:
    page = _TEMPLATES.get_template(name).render(
        base=CONSOLE,
        caller=caller,
        identity=str(caller.identity) if caller else "",
        may_act=session.may_act(caller) if caller else False,
        token=session.form_token(request) if caller else "",
        **context,
    )
    return HTMLResponse(page, status_code=status, headers=_HEADERS)


def _refused(request: Request, caller: Caller, exc: Exception) -> HTMLResponse:
    """A refusal as a page: the user-safe message of a typed error, never more."""
    if isinstance(exc, ApiError):
        status, message = exc.status, exc.detail
    else:
        assert isinstance(exc, errors.MailadminError)
        status, message = _status_of(exc), exc.message
    return _render(request, "refused.html", caller, status=status, message=message)


def _status_of(exc: errors.MailadminError) -> int:
    if isinstance(exc, errors.NotFoundError):
        return 404
    if isinstance(exc, errors.PolicyDenied):
        return 403
    if isinstance(exc, errors.ValidationError):
        return 422
    return 502


def _see_other(path: str) -> RedirectResponse:
    return RedirectResponse(f"{CONSOLE}{path}", status_code=303, headers=_HEADERS)


# -- signing in and out ------------------------------------------------------------------------


@router.get("")
@router.get("/")
async def home() -> Response:
    """The console starts at the runs."""
    return _see_other("/runs")


@router.get("/sign-in")
async def sign_in_form(request: Request) -> Response:
    """The sign-in form: one field, the API key."""
    return _render(request, "sign_in.html", None, error="")


@router.post("/sign-in")
async def sign_in(request: Request, services: ServicesDep) -> Response:
    """Check the key as the API does; keep it in the session cookie, never in a URL. A
    sign-in posted from another site's page is refused (it would sign the browser in to
    a key of that site's choosing)."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        error = "Sign in from the console's own page"
        return _render(request, "sign_in.html", None, status=403, error=error)
    body = (await request.body()).decode("utf-8", errors="replace")
    presented = (parse_qs(body).get("key") or [""])[0].strip()
    key = await asyncio.to_thread(services.keys.authenticate, presented) if presented else None
    if key is None:
        throttle = getattr(request.state, "auth_throttle", None)
        if throttle is not None:
            client = request.client.host if request.client else "-"
            throttle.refused(client, services.orch.config.api.auth_window_seconds)
        error = "That key is unknown or revoked" if presented else "Enter an API key"
        return _render(request, "sign_in.html", None, status=401, error=error)
    response = _see_other("/runs")
    session.keep(response, request, presented)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, caller: CallerDep) -> Response:
    """Forget the session's key."""
    try:
        await session.form(request)
    except ApiError as exc:
        return _refused(request, caller, exc)
    response = _see_other("/sign-in")
    session.forget(response)
    return response


# -- runs --------------------------------------------------------------------------------------


@router.get("/runs")
async def runs(request: Request, services: ServicesDep, caller: CallerDep) -> Response:
    """The newest runs (the caller's; every run for the site admin)."""
    mine = None if session.is_site_admin(caller) else str(caller.identity)
    found = await asyncio.to_thread(services.runs.list, mine, 50)
    total = await asyncio.to_thread(services.runs.count, mine)
    return _render(request, "runs.html", caller, runs=found, total=total, nav="runs")


async def _run(services: ServicesDep, caller: Caller, run_id: str) -> Run:
    found = await asyncio.to_thread(services.runs.get, run_id)
    if found is None or not visible_to(caller.identity, found):
        raise errors.NotFoundError(f"No run '{run_id}'")
    return found


@router.get("/runs/{run_id}")
async def run(
    request: Request, services: ServicesDep, caller: CallerDep, run_id: str, part: str = ""
) -> Response:
    """A run with its progress, its failures and its items; ``?part=live`` is the part
    the page's script fetches again while the run works."""
    try:
        found = await _run(services, caller, run_id)
    except errors.MailadminError as exc:
        return _refused(request, caller, exc)
    name = "run_live.html" if part == "live" else "run.html"
    failures = [item for item in found.items if item.state == "failed"]
    ended = found.state in _ENDED
    return _render(request, name, caller, run=found, failures=failures, ended=ended, nav="runs")


@router.post("/runs/{run_id}/cancel")
async def cancel_run(
    request: Request, services: ServicesDep, caller: CallerDep, run_id: str
) -> Response:
    """Cancel the run (the run manager's cancel, as ``POST /v1/runs/{id}/cancel``)."""
    try:
        await session.form(request)
        session.require_act(caller, "cancel runs")
        await _run(services, caller, run_id)
        await services.runs.cancel(run_id)
    except (ApiError, errors.MailadminError) as exc:
        return _refused(request, caller, exc)
    return _see_other(f"/runs/{run_id}")


@router.get("/runs/{run_id}/items/{position}")
async def run_item(
    request: Request, services: ServicesDep, caller: CallerDep, run_id: str, position: int
) -> Response:
    """One item of a run: its result, or why it failed."""
    try:
        found = await _run(services, caller, run_id)
        item = next((i for i in found.items if i.position == position), None)
        if item is None:
            raise errors.NotFoundError(f"Run '{run_id}' has no item {position}")
    except errors.MailadminError as exc:
        return _refused(request, caller, exc)
    return _render(request, "item.html", caller, run=found, item=item, nav="runs")


# -- the journal -------------------------------------------------------------------------------


def _journal(services: ServicesDep) -> Any:
    if services.orch.journal is None:
        raise errors.ConfigurationError("The journal is off in the configuration ([journal] url)")
    return services.orch.journal


@router.get("/journal")
async def journal(request: Request, services: ServicesDep, caller: CallerDep) -> Response:
    """The journal, newest first, with the filters of ``mailadmin journal list``."""
    query = request.query_params
    filters = {name: (query.get(name) or "").strip() or None for name in _JOURNAL_FILTERS}
    if filters["status"] not in (None, *_STATUSES):
        filters["status"] = None
    if filters["outcome"] not in (None, *_OUTCOMES):
        filters["outcome"] = None
    open_only = query.get("open") == "1"
    try:
        store = _journal(services)
    except errors.MailadminError as exc:
        return _refused(request, caller, exc)
    entries = await asyncio.to_thread(store.entries, 500, open_only=open_only, **filters)
    identity = caller.identity
    with acting_scope(identity):
        shown = [
            e for e in entries if sees_subject(services, identity.kind, identity.name, e.subject)
        ][:100]
    return _render(
        request,
        "journal.html",
        caller,
        entries=shown,
        filters={k: v or "" for k, v in filters.items()},
        open_only=open_only,
        statuses=_STATUSES,
        outcomes=_OUTCOMES,
        nav="journal",
    )


async def _entry(services: ServicesDep, caller: Caller, entry_id: int) -> Any:
    store = _journal(services)
    entry = await asyncio.to_thread(store.get, entry_id)
    identity = caller.identity
    with acting_scope(identity):
        seen = entry is not None and sees_subject(
            services, identity.kind, identity.name, entry.subject
        )
    if not seen:
        raise errors.NotFoundError(f"No journal record {entry_id}")
    return entry


@router.get("/journal/{entry_id}")
async def journal_entry(
    request: Request, services: ServicesDep, caller: CallerDep, entry_id: int
) -> Response:
    """One journal record; an open one can be resumed (the site admin's)."""
    try:
        entry = await _entry(services, caller, entry_id)
    except errors.MailadminError as exc:
        return _refused(request, caller, exc)
    resumable = entry.open and session.is_site_admin(caller) and session.may_act(caller)
    return _render(request, "entry.html", caller, entry=entry, resumable=resumable, nav="journal")


@router.post("/journal/{entry_id}/resume")
async def resume_entry(
    request: Request, services: ServicesDep, caller: CallerDep, entry_id: int
) -> Response:
    """Settle one open row from the platform's current state (the orchestrator's
    ``resume_entry``, what ``mailadmin journal resume`` does per row)."""
    try:
        await session.form(request)
        session.require_act(caller, "resume journal records")
        if not session.is_site_admin(caller):
            raise errors.PolicyDenied(
                f"{caller.identity} may not resume journal records", reason="not_permitted"
            )
        entry = await _entry(services, caller, entry_id)
        if not entry.open:
            raise errors.ValidationError(f"Journal record {entry_id} is settled already")
        with acting_scope(caller.identity):
            await services.orch.resume_entry(entry)
    except (ApiError, errors.MailadminError) as exc:
        return _refused(request, caller, exc)
    return _see_other(f"/journal/{entry_id}")


# -- reports and tenants -----------------------------------------------------------------------


@router.get("/reports")
async def reports(request: Request, services: ServicesDep, caller: CallerDep) -> Response:
    """Usage, licences and renewals, over-use and non-compliance marked, and the chart
    of licensed against used seats per platform."""
    from mailadmin.reports import licences, renewals, usage

    orch = services.orch
    refusals: dict[str, str] = {}

    async def build(name: str, builder: Any) -> list[Any]:
        try:
            with acting_scope(caller.identity):
                rows: list[Any] = await builder(orch)
            return rows
        except errors.MailadminError as exc:
            refusals[name] = exc.message
            return []

    usage_rows = await build("usage", usage.build)
    licence_rows = await build("licences", licences.build)
    renewal_rows = await build("renewals", renewals.build)
    return _render(
        request,
        "reports.html",
        caller,
        usage=usage_rows,
        licences=licence_rows,
        renewals=renewal_rows,
        refusals=refusals,
        chart=seats_chart(licence_rows) if licence_rows else None,
        nav="reports",
    )


@router.get("/tenants")
async def tenants(request: Request, services: ServicesDep, caller: CallerDep) -> Response:
    """The tenants the key reaches, their owner, allocations against use, and whether
    they are suspended (as the journal last recorded it)."""
    from mailadmin.reports import usage

    orch = services.orch
    identity = caller.identity
    try:
        if identity.kind is IdentityKind.MAILBOX_USER:
            raise errors.PolicyDenied(f"{identity} may not list tenants", reason="not_permitted")
        with acting_scope(identity):
            names = [name for name in orch.tenants if orch.rules.reachable(name)]
            rows = await usage.build(orch)
    except errors.MailadminError as exc:
        return _refused(request, caller, exc)
    suspended = await asyncio.to_thread(_suspensions, services, names)
    tenancy = orch.rules.tenancy
    listed = [
        {
            "name": name,
            "instance": orch.config.instance_of(name),
            "reseller": tenancy.owner_of(name),
            "suspended": suspended.get(name),
            "rows": [r for r in rows if r.level == "customer" and r.subscription == name],
        }
        for name in names
    ]
    return _render(request, "tenants.html", caller, tenants=listed, nav="tenants")


def _suspensions(services: ServicesDep, names: list[str]) -> dict[str, bool]:
    """Per tenant, whether its last settled suspend or resume suspended it (tenants
    never suspended or resumed through mailadmin are left out: not known)."""
    journal = services.orch.journal
    if journal is None:
        return {}
    newest: dict[str, tuple[int, bool]] = {}
    for operation in ("suspend_tenant", "resume_tenant"):
        for entry in journal.entries(1000, operation=operation, status="done"):
            if entry.dry_run or entry.outcome not in ("changed", "unchanged"):
                continue
            name = entry.subject.split(" ", 1)[0].strip().lower()
            if name in names and entry.id > newest.get(name, (0, False))[0]:
                newest[name] = (entry.id, operation == "suspend_tenant")
    return {name: suspended for name, (_, suspended) in newest.items()}

"""``mailadmin webhooks``: register endpoints for events, list and remove them, their
deliveries and replaying one (the rules of ``/v1/webhooks``; docs/operations.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from mailadmin.cli.business import _site_admin_only, with_orchestrator
from mailadmin.cli.listing import DEFAULT_LIMIT, cut, limit_options
from mailadmin.cli.root import (
    _global_options,
    _Group,
    _State,
    cli,
    confirm_removal,
    pass_state,
    yes_option,
)

if TYPE_CHECKING:
    from mailadmin.orchestration.events import Delivery, Webhook, Webhooks
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__: list[str] = []


def _hooks(orch: Orchestrator) -> Webhooks:
    from mailadmin.orchestration.events import Webhooks

    return Webhooks(orch.rules.store)


def _plain(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "url": hook.url,
        "events": list(hook.kinds),
        "label": hook.label,
        "created": hook.created.isoformat(),
        "removed": hook.removed.isoformat() if hook.removed else None,
    }


def _delivery(found: Delivery) -> dict[str, Any]:
    return {
        "id": found.id,
        "webhook_id": found.webhook_id,
        "event": found.event,
        "type": found.kind,
        "state": found.state,
        "attempts": found.attempts,
        "due": found.due.isoformat(),
        "status": found.status,
        "error": found.error,
        "delivered": found.delivered.isoformat() if found.delivered else None,
    }


@cli.group(cls=_Group)
@_global_options
def webhooks() -> None:
    """Webhook endpoints for events: add (secret shown once), list, remove, deliveries, replay."""


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--event",
    "kinds",
    multiple=True,
    help="An event kind to deliver (repeatable; default: every kind): run.finished, "
    "run.item_failed, usage.over_use, licence.non_compliant, licence.expiring, "
    "tenant.suspended, tenant.resumed, journal.open_row.",
)
@click.option("--label", default="", help="A note to tell endpoints apart.")
@_global_options
@pass_state
def webhooks_add(state: _State, url: str, kinds: tuple[str, ...], label: str) -> None:
    """Deliver events to URL, signed; the signing secret is shown this once.

    \b
    Example:
      mailadmin webhooks add https://panel.example.net/hooks --event run.finished
    """

    def work(orch: Orchestrator) -> tuple[Webhook, str]:
        _site_admin_only(orch, "register webhooks")
        return _hooks(orch).add(url, kinds, label)

    hook, secret = with_orchestrator(state, work)
    if state.output.as_json:
        state.output.json(_plain(hook) | {"secret": secret})
        return
    state.output.line(secret)
    click.echo(
        f"webhook {hook.id} for {hook.url} registered; its signing secret (above) is "
        "shown this once, keep it safe",
        err=True,
    )


@webhooks.command("list")
@limit_options
@_global_options
@pass_state
def webhooks_list(state: _State, limit: int = DEFAULT_LIMIT, show_all: bool = False) -> None:
    """Registered endpoints (never a secret): id, URL, events, label, created.

    \b
    Example:
      mailadmin webhooks list --json
    """

    def work(orch: Orchestrator) -> list[Webhook]:
        _site_admin_only(orch, "list webhooks")
        return _hooks(orch).list()

    every = with_orchestrator(state, work)
    found, note = cut(every, limit, show_all, "webhooks (oldest first)")
    if state.output.as_json:
        state.output.json({"webhooks": [_plain(h) for h in found], "total": len(every)})
        if note:
            state.output.note(note)
        return
    state.output.table(
        "Webhooks",
        ["id", "url", "events", "label", "created"],
        [
            [h.id, h.url, ",".join(h.kinds) or "all", h.label, h.created.strftime("%Y-%m-%d %H:%M")]
            for h in found
        ],
        [note] if note else [],
    )


@webhooks.command("remove")
@click.argument("hook_id")
@yes_option
@_global_options
@pass_state
def webhooks_remove(state: _State, hook_id: str, yes: bool) -> None:
    """Deliver nothing more to webhook HOOK_ID; its pending deliveries end failed.

    \b
    Example:
      mailadmin webhooks remove 3f9c2a1b7d4e5f60 --yes
    """
    confirm_removal(f"Remove the webhook {hook_id.strip()}? Nothing more is delivered to it.", yes)

    def work(orch: Orchestrator) -> Webhook:
        _site_admin_only(orch, "remove webhooks")
        return _hooks(orch).remove(hook_id)

    removed = with_orchestrator(state, work)
    if state.output.as_json:
        state.output.json(_plain(removed))
    else:
        state.output.line(f"webhook {removed.id} ({removed.url}) removed")


@webhooks.command("deliveries")
@click.argument("hook_id", required=False)
@click.option(
    "--state",
    "wanted",
    type=click.Choice(["pending", "delivered", "failed"]),
    default=None,
    help="Only deliveries in this state.",
)
@limit_options
@_global_options
@pass_state
def webhooks_deliveries(
    state: _State,
    hook_id: str | None,
    wanted: str | None,
    limit: int = DEFAULT_LIMIT,
    show_all: bool = False,
) -> None:
    """Deliveries (of webhook HOOK_ID): event, state, attempts, last answer.

    \b
    Example:
      mailadmin webhooks deliveries 3f9c2a1b7d4e5f60 --state failed
    """

    def work(orch: Orchestrator) -> list[Delivery]:
        _site_admin_only(orch, "list webhook deliveries")
        return _hooks(orch).deliveries(hook_id, state=wanted, limit=100_000)

    every = with_orchestrator(state, work)
    found, note = cut(every, limit, show_all, "deliveries (oldest first)")
    if state.output.as_json:
        state.output.json({"deliveries": [_delivery(d) for d in found], "total": len(every)})
        if note:
            state.output.note(note)
        return
    state.output.table(
        "Webhook deliveries",
        ["id", "webhook", "event", "type", "state", "attempts", "status", "error"],
        [
            [
                str(d.id),
                d.webhook_id,
                d.event,
                d.kind,
                d.state,
                str(d.attempts),
                str(d.status or ""),
                d.error or "",
            ]
            for d in found
        ],
        [note] if note else [],
    )


@webhooks.command("replay")
@click.argument("delivery_id", type=click.IntRange(min=1))
@_global_options
@pass_state
def webhooks_replay(state: _State, delivery_id: int) -> None:
    """Send delivery DELIVERY_ID again (due now, attempts counted afresh).

    \b
    Example:
      mailadmin webhooks replay 42
    """

    def work(orch: Orchestrator) -> Delivery:
        _site_admin_only(orch, "replay webhook deliveries")
        return _hooks(orch).replay(delivery_id)

    found = with_orchestrator(state, work)
    if state.output.as_json:
        state.output.json(_delivery(found))
    else:
        state.output.line(f"delivery {found.id} of {found.event} is due again")

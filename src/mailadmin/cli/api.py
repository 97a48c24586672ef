"""``mailadmin serve`` (the HTTP API) and ``mailadmin keys`` (its API keys).

Loaded by ``cli/root.py`` when one of these commands runs. FastAPI and uvicorn
come with the ``api`` extra; they are imported when ``serve`` runs, not before.
"""

from __future__ import annotations

import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mailadmin.cli.business import with_orchestrator
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
from mailadmin.contract import errors

if TYPE_CHECKING:
    from mailadmin.api.keys import ApiKey, NewKey
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["demo_service_config", "write_toml"]

_RETENTION_ENV = "MAILADMIN_API_IDEMPOTENCY_HOURS"


@cli.command("serve")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default)."
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0 picks a free one.",
)
@click.option(
    "--idempotency-hours",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help=f"How long answers of an Idempotency-Key are kept (default 24; ${_RETENTION_ENV}).",
)
@click.option(
    "--demo",
    "demo_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Serve every platform's demo mock on loopback too, and write their configuration "
    "(with reseller acme) to DIR/mailadmin.toml; the store lives in DIR.",
)
@_global_options
@pass_state
def serve(
    state: _State, host: str, port: int, idempotency_hours: float | None, demo_dir: str | None
) -> None:
    """Serve the HTTP API until stopped; prints 'listening on http://HOST:PORT'.

    \b
    Examples:
      mailadmin --config mailadmin.toml serve --port 8000
      mailadmin serve --demo ./demo --port 8000
    """
    try:
        from mailadmin.api.server import serve_forever
    except ImportError:
        raise errors.ConfigurationError(
            "The HTTP API needs its extra: pip install 'mailadmin[api]'"
        ) from None
    hours = idempotency_hours
    if hours is None:
        hours = float(os.environ.get(_RETENTION_ENV) or 24)
    retention = timedelta(hours=hours)
    if demo_dir is None:
        path = state.config_path or os.environ.get("MAILADMIN_CONFIG") or "mailadmin.toml"
        if not Path(path).exists():
            raise errors.ConfigurationError(
                f"No configuration file at {path}; pass --config FILE or set MAILADMIN_CONFIG"
            )
        serve_forever(Path(path), host=host, port=port, retention=retention)
        return
    from mailadmin.cli.demo import demo_config

    folder = Path(demo_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with demo_config(state.registry, folder) as (config, _scenarios, endpoints):
        target = folder / "mailadmin.toml"
        write_toml(target, demo_service_config(config, folder))
        for instance, url in endpoints.items():
            click.echo(f"mock {instance} listening on {url}", err=True)
        click.echo(f"configuration written to {target}", err=True)
        serve_forever(target, host=host, port=port, retention=retention)


def demo_service_config(config: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The demo's configuration with a reseller and customers to try the API with."""
    tenants = list(config["tenants"])
    data = dict(config)
    data["journal"] = {"url": f"sqlite:///{(folder / 'mailadmin.sqlite').resolve()}"}
    data["resellers"] = {
        "acme": {
            "prepaid": True,
            "may_oversell": True,
            "package": {"user_mailboxes": 500, "shared_mailboxes": 50},
        }
    }
    # acme sells the first two tenants (example.com on OX when every plugin is installed);
    # the others stay the host's own customers.
    data["customers"] = {
        name: {"reseller": "acme", "package": {"user_mailboxes": 50, "shared_mailboxes": 5}}
        for name in sorted(tenants, key=lambda t: (t != "example.com", t))[:2]
    }
    return data


def write_toml(path: Path, data: dict[str, Any]) -> None:
    """Write a configuration as TOML: one table per section, values as inline tables."""
    lines: list[str] = []
    for section, value in data.items():
        if not isinstance(value, dict):
            continue
        nested = all(isinstance(v, dict) for v in value.values()) and section != "journal"
        if nested:
            for name, table in value.items():
                lines.append(f"[{section}.{json.dumps(name)}]")
                lines += [f"{json.dumps(k)} = {_toml(v)}" for k, v in table.items()]
                lines.append("")
        else:
            lines.append(f"[{section}]")
            lines += [f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items() if v is not None]
            lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    # A JSON string is a valid TOML basic string (the same escapes).
    return json.dumps(str(value))


@cli.group(cls=_Group)
@_global_options
def keys() -> None:
    """API keys of the HTTP API: create (shown once), list, revoke."""


@keys.command("create")
@click.option(
    "--identity",
    required=True,
    help="The identity the key acts as: site-admin, reseller:NAME, customer:TENANT, "
    "mailbox:ADDRESS.",
)
@click.option("--label", default="", help="A note to tell keys apart (which panel uses it).")
@click.option(
    "--read-only", is_flag=True, help="The key may only read (GET, HEAD); other calls are 403."
)
@_global_options
@pass_state
def keys_create(state: _State, identity: str, label: str, read_only: bool) -> None:
    """Create an API key bound to IDENTITY; the key is shown this once, only its hash is kept.

    The site admin makes keys for anyone; with --as, a reseller for itself, its customers
    and their mailboxes, a customer admin for its own tenant and its mailboxes.

    \b
    Example:
      mailadmin keys create --identity reseller:acme --label whmcs
      mailadmin --as reseller:acme keys create --identity customer:a.test --read-only
    """
    from mailadmin.api.keys import ApiKeys, check_identity, check_manager, out_of_reach, reaches
    from mailadmin.rules.identities import Identity

    acting = Identity.parse(identity)

    def work(orch: Orchestrator) -> NewKey:
        caller = orch.rules.acting()
        check_manager(caller, "create API keys")
        if not reaches(orch, caller, acting):
            raise out_of_reach(caller, f"create API keys for {acting}")
        check_identity(orch, acting)
        return ApiKeys(orch.rules.store).create(acting, label, read_only=read_only)

    made = with_orchestrator(state, work)
    if state.output.as_json:
        state.output.json(made.model_dump(mode="json"))
        return
    state.output.line(made.key)
    click.echo(
        f"API key {made.id} for {made.identity} created; it is shown this once, keep it safe",
        err=True,
    )


@keys.command("list")
@limit_options
@_global_options
@pass_state
def keys_list(state: _State, limit: int = DEFAULT_LIMIT, show_all: bool = False) -> None:
    """The API keys you manage (never the secret): id, identity, label, read-only, created,
    last used, revoked. The site admin sees every key; with --as, a reseller or customer
    admin sees the keys within its reach.

    \b
    Example:
      mailadmin keys list --json
    """
    from mailadmin.api.keys import ApiKeys, check_manager, reaches
    from mailadmin.rules.identities import Identity

    def work(orch: Orchestrator) -> list[ApiKey]:
        caller = orch.rules.acting()
        check_manager(caller, "list API keys")
        every = ApiKeys(orch.rules.store).list()
        return [k for k in every if reaches(orch, caller, Identity.parse(k.identity))]

    every = with_orchestrator(state, work)
    found, note = cut(every, limit, show_all, "keys (oldest first)")
    if state.output.as_json:
        keys = [k.model_dump(mode="json") for k in found]
        state.output.json({"keys": keys, "total": len(every)})
        if note:
            state.output.note(note)
        return
    state.output.table(
        "API keys",
        ["id", "identity", "label", "read-only", "created", "last used", "revoked"],
        [
            [
                k.id,
                k.identity,
                k.label,
                "yes" if k.read_only else "",
                _when(k.created),
                _when(k.last_used),
                _when(k.revoked),
            ]
            for k in found
        ],
        [note] if note else [],
    )


@keys.command("revoke")
@click.argument("key_id")
@yes_option
@_global_options
@pass_state
def keys_revoke(state: _State, key_id: str, yes: bool) -> None:
    """Revoke API key KEY_ID (its id, as listed): refused from the next request on.

    Asks for confirmation on a terminal; scripts pass --yes. With --as, a reseller or
    customer admin revokes only keys within its reach (any other id is refused alike).

    \b
    Example:
      mailadmin keys revoke 3f9c2a1b7d4e --yes
    """
    from mailadmin.api.keys import ApiKeys, check_manager, out_of_reach, reaches
    from mailadmin.rules.identities import Identity, IdentityKind

    confirm_removal(
        f"Revoke the API key {key_id.strip()}? Whoever uses it is refused from then on.", yes
    )

    def work(orch: Orchestrator) -> ApiKey:
        caller = orch.rules.acting()
        check_manager(caller, "revoke API keys")
        store = ApiKeys(orch.rules.store)
        wanted = key_id.strip()
        if caller.kind is not IdentityKind.SITE_ADMIN:
            found = store.get(wanted)
            if found is None or not reaches(orch, caller, Identity.parse(found.identity)):
                raise out_of_reach(caller, f"revoke API key '{wanted}'")
        return store.revoke(wanted)

    revoked = with_orchestrator(state, work)
    if state.output.as_json:
        state.output.json(revoked.model_dump(mode="json"))
    else:
        state.output.line(f"API key {revoked.id} ({revoked.identity}) revoked")


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""

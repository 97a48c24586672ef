"""Isolation figures: every cross-boundary call, for every identity kind and operation, on
every platform, is refused before any request is sent, and journalled.

The tenancy: ``acme`` sells to the platform's demo tenant (``HOME``) and to ``SIBLING``;
``globex`` sells to ``OTHER``; ``HOSTS`` is the host's own customer. The identities are
``reseller:acme``, ``customer:HOME`` and ``mailbox:`` the demo's first user. Each call is
tried as a single call, as a dry run where it writes, and through the bulk forms; each
must end in ``PolicyDenied`` (``cross_boundary`` or ``not_permitted``) with no request in
the mock's recording and one ``refused`` journal row naming the identity.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from mailadmin.contract import errors
from mailadmin.contract.models import MailboxKind, NewMailbox
from mailadmin.mock import MockServer

from .conftest import Summary

PROVIDERS = ("memory", "ox", "zextras", "exchange")
SIBLING = "sibling.test"
OTHER = "other.test"
HOSTS = "hosts-own.test"


@dataclass
class IsolationTally:
    tried: int = 0
    refused: int = 0
    #: Of them, tried over HTTP.
    http: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


_TALLY = IsolationTally()


@pytest.fixture(scope="module", autouse=True)
def _report(summary: Summary) -> Iterator[None]:
    yield
    summary.set(
        "isolation",
        f"isolation: {_TALLY.tried} calls tried, {_TALLY.refused} refused before sending "
        f"({_TALLY.http} over HTTP)",
    )


Call = Callable[[], Awaitable[Any]]


def _calls(orch: Any, instance: str, kind: str, home: str, user: str, peer: str) -> dict[str, Call]:
    """Every call that leaves the identity's reach, by a readable name."""
    own_kind = MailboxKind.SHARED if instance.startswith("exchange") else MailboxKind.USER
    foreign = [OTHER, HOSTS, OTHER.upper()]  # another reseller's, the host's, other spelling
    if kind in ("customer", "mailbox"):
        foreign.append(SIBLING)  # the same reseller's other customer is not theirs either
    calls: dict[str, Call] = {}
    for tenant in foreign:
        mailbox = f"someone@{tenant}"
        calls |= {
            f"count {tenant}": lambda t=tenant: orch.count_mailboxes(t),
            f"list {tenant}": lambda t=tenant: orch.list_mailboxes(t),
            f"set_plan {mailbox}": lambda m=mailbox: orch.set_plan(m, "sync"),
            f"set_plan {mailbox} dry": lambda m=mailbox: orch.set_plan(m, "sync", dry_run=True),
            f"add-on {tenant}": lambda t=tenant: orch.apply_addon(t, "storage_gb", 3),
            f"add-on {tenant} dry": lambda t=tenant: orch.apply_addon(
                t, "storage_gb", 3, dry_run=True
            ),
            f"create in {tenant}": lambda t=tenant: orch.create_mailbox(
                t, NewMailbox(address=f"new@{t}", kind=own_kind)
            ),
            f"create in {tenant} dry": lambda t=tenant: orch.create_mailbox(
                t, NewMailbox(address=f"new@{t}", kind=own_kind), dry_run=True
            ),
            f"delete {mailbox}": lambda m=mailbox: orch.delete_mailbox(m),
            f"delete {mailbox} dry": lambda m=mailbox: orch.delete_mailbox(m, dry_run=True),
        }
    # Instance-wide calls are the site admin's.
    calls |= {
        "licence": lambda: orch.get_licence(instance),
        "connection": lambda: orch.test_connection(instance),
    }
    if kind == "customer":
        # Add-ons are sold: not even on its own tenant.
        calls["add-on own tenant"] = lambda: orch.apply_addon(home, "storage_gb", 3)
    if kind == "mailbox":
        calls |= {
            "count own tenant": lambda: orch.count_mailboxes(home),
            "list own tenant": lambda: orch.list_mailboxes(home),
            "plan of a colleague": lambda: orch.set_plan(peer, "sync"),
            "plan of a colleague dry": lambda: orch.set_plan(peer, "sync", dry_run=True),
            "add-on own tenant": lambda: orch.apply_addon(home, "storage_gb", 3),
            "create in own tenant": lambda: orch.create_mailbox(
                home, NewMailbox(address=f"new@{home}", kind=own_kind)
            ),
            "delete a colleague": lambda: orch.delete_mailbox(peer),
            "delete itself": lambda: orch.delete_mailbox(user),
        }
    return calls


def _bulk(orch: Any, home: str, kind: str, peer: str) -> dict[str, tuple[Call, int]]:
    """Bulk forms of cross-boundary calls and how many of their items must be refused."""
    bulk: dict[str, tuple[Call, int]] = {
        "count_all": (lambda: orch.count_all([OTHER, HOSTS]), 2),
        "set_plans": (lambda: orch.set_plans([(f"a@{OTHER}", "sync"), (f"b@{HOSTS}", "mail")]), 2),
        "apply_addons": (lambda: orch.apply_addons([(OTHER, "storage_gb", 2)]), 1),
        "licences": (lambda: orch.licences(), 1),
        "check": (lambda: orch.check(), 1),
    }
    if kind == "mailbox":
        bulk["set_plans colleague"] = (lambda: orch.set_plans([(peer, "sync")]), 1)
    return bulk


async def _orchestrator(name: str, tmp_path: Any) -> tuple[Any, MockServer, str, list[str]]:
    from mailadmin import Orchestrator
    from mailadmin.cli.demo import CATALOGUE, DemoScenario
    from mailadmin.orchestration.registry import get_registry

    entry = get_registry().providers()[name]
    scenario = DemoScenario.model_validate(entry.load_demo()())
    server = MockServer(entry.load_mock(), seed=scenario.seed)
    instance = f"{name}-isolation"
    tenants = {t: {**table, "instance": instance} for t, table in scenario.tenants.items()}
    for extra in (SIBLING, OTHER, HOSTS):
        tenants[extra] = {"instance": instance, "domains": [extra]}
    config = {
        **CATALOGUE,
        "instances": {instance: {**scenario.instance, "endpoint": f"http://{instance}.test"}},
        "tenants": tenants,
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
    }
    orch = Orchestrator.from_dict(
        config, registry=get_registry(), http={instance: server.router(f"http://{instance}.test")}
    )
    home = next(iter(scenario.tenants))
    return orch, server, home, [address for address, _ in scenario.upgrades]


@pytest.mark.parametrize("name", PROVIDERS)
async def test_every_cross_boundary_call_is_refused_before_sending(name: str, tmp_path) -> None:
    from mailadmin.rules.tenancy import CustomerSpec

    orch, server, home, users = await _orchestrator(name, tmp_path)
    async with orch:
        tenancy = orch.rules.tenancy
        tenancy.add_reseller("acme")
        tenancy.add_reseller("globex")
        tenancy.add_customer(home, CustomerSpec(reseller="acme"))
        tenancy.add_customer(SIBLING, CustomerSpec(reseller="acme"))
        tenancy.add_customer(OTHER, CustomerSpec(reseller="globex"))
        tenancy.add_customer(HOSTS, CustomerSpec())
        instance = orch.instances[0]
        user, peer = users[0], users[1]
        identities = {
            "reseller": "reseller:acme",
            "customer": f"customer:{home}",
            "mailbox": f"mailbox:{user}",
        }
        journal = orch.journal
        assert journal is not None
        for kind, identity in identities.items():
            view = orch.acting_as(identity)
            for what, call in _calls(view, instance, kind, home, user, peer).items():
                server.clear_requests()
                before = journal.entries(limit=1)
                last = before[0].id if before else 0
                _TALLY.tried += 1
                with pytest.raises(errors.PolicyDenied) as caught:
                    await call()
                assert caught.value.reason in ("cross_boundary", "not_permitted"), what
                assert server.requests == [], f"{identity} {what}: a request was sent"
                rows = [e for e in journal.entries(limit=5) if e.id > last]
                assert [(r.status, r.error_code) for r in rows] == [("refused", "policy_denied")], (
                    f"{identity} {what}: {rows}"
                )
                assert rows[0].identity == identity, what
                _TALLY.refused += 1
            for what, (call, refused) in _bulk(view, home, kind, peer).items():
                server.clear_requests()
                before = journal.entries(limit=1)
                last = before[0].id if before else 0
                _TALLY.tried += refused
                result = await call()
                denied = [i for i in result.items if i.error and i.error.code == "policy_denied"]
                assert len(denied) == refused == len(result.items), f"{identity} bulk {what}"
                assert server.requests == [], f"{identity} bulk {what}: a request was sent"
                rows = [e for e in journal.entries(limit=50) if e.id > last]
                assert sum(r.status == "refused" for r in rows) == refused, what
                assert all(r.identity == identity for r in rows if r.status == "refused"), what
                _TALLY.refused += refused


# -- an unknown tenant and HTTP (issue 29.9) ----------------------------------------------------

UNKNOWN = "nosuch.test"


def _same_words(error: BaseException, name: str) -> tuple[str, str]:
    """An answer with the tenant's name taken out: what must not differ."""
    reason = getattr(error, "reason", None) or ""
    return type(error).__name__ + ":" + reason, str(error).replace(name, "TENANT")


@pytest.mark.parametrize("name", PROVIDERS)
async def test_an_unknown_tenant_is_answered_as_one_out_of_reach(name: str, tmp_path) -> None:
    """Another reseller's tenant and a tenant that does not exist get the same answer,
    word for word but the name, on every call naming a tenant or a mailbox."""
    from mailadmin.rules.tenancy import CustomerSpec

    orch, server, home, users = await _orchestrator(name, tmp_path)
    async with orch:
        tenancy = orch.rules.tenancy
        tenancy.add_reseller("acme")
        tenancy.add_reseller("globex")
        tenancy.add_customer(home, CustomerSpec(reseller="acme"))
        tenancy.add_customer(OTHER, CustomerSpec(reseller="globex"))
        for identity in ("reseller:acme", f"customer:{home}", f"mailbox:{users[0]}"):
            view = orch.acting_as(identity)

            def calls(tenant: str, view: Any = view) -> dict[str, Call]:
                return {
                    "count": lambda: view.count_mailboxes(tenant),
                    "list": lambda: view.list_mailboxes(tenant),
                    "set_plan": lambda: view.set_plan(f"someone@{tenant}", "sync"),
                    "add-on": lambda: view.apply_addon(tenant, "storage_gb", 3),
                    "delete": lambda: view.delete_mailbox(f"someone@{tenant}"),
                }

            known, unknown = calls(OTHER), calls(UNKNOWN)
            for what in known:
                answers = []
                for tenant, call in ((OTHER, known[what]), (UNKNOWN, unknown[what])):
                    server.clear_requests()
                    _TALLY.tried += 1
                    with pytest.raises(errors.MailadminError) as caught:
                        await call()
                    assert server.requests == [], f"{identity} {what} {tenant}: sent"
                    answers.append(_same_words(caught.value, tenant))
                    _TALLY.refused += 1
                assert answers[0] == answers[1], f"{identity} {what}: {answers}"
                assert answers[0][0] == "PolicyDenied:cross_boundary", answers
        # The site admin is told the truth.
        with pytest.raises(errors.ValidationError, match="Unknown tenant"):
            await orch.count_mailboxes(UNKNOWN)


@pytest.mark.parametrize("name", PROVIDERS)
async def test_every_cross_boundary_request_over_http_is_refused_before_sending(
    name: str, tmp_path
) -> None:
    """The HTTP face: a path naming another's tenant, an unknown one, or a body naming a
    mailbox of another tenant than the path's, as a reseller and a customer admin."""
    import httpx

    from mailadmin.api.app import create_app
    from mailadmin.api.keys import ApiKeys
    from mailadmin.rules.identities import Identity
    from mailadmin.rules.tenancy import CustomerSpec

    orch, server, home, _users = await _orchestrator(name, tmp_path)
    own_kind = "shared" if name == "exchange" else "user"
    app = create_app(orchestrator=lambda: orch)
    async with app.router.lifespan_context(app):
        tenancy = orch.rules.tenancy
        tenancy.add_reseller("acme")
        tenancy.add_reseller("globex")
        tenancy.add_customer(home, CustomerSpec(reseller="acme"))
        tenancy.add_customer(OTHER, CustomerSpec(reseller="globex"))
        keys = ApiKeys(orch.rules.store)
        transport = httpx.ASGITransport(app=app)
        for identity in ("reseller:acme", f"customer:{home}"):
            key = keys.create(Identity.parse(identity)).key
            auth = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://api", headers=auth
            ) as http:

                def requests(tenant: str) -> dict[str, tuple[str, str, Any]]:
                    box = {"address": f"new@{tenant}", "kind": own_kind}
                    return {
                        "count": ("GET", f"/v1/customers/{tenant}/mailbox-count", None),
                        "list": ("GET", f"/v1/customers/{tenant}/mailboxes", None),
                        "one": ("GET", f"/v1/customers/{tenant}", None),
                        "plan": ("PUT", f"/v1/mailboxes/someone@{tenant}/plan", {"plan": "sync"}),
                        "delete": ("DELETE", f"/v1/mailboxes/someone@{tenant}", None),
                        "add-on": (
                            "PUT",
                            f"/v1/customers/{tenant}/addons/storage_gb",
                            {"quantity": 3},
                        ),
                        "create": ("POST", f"/v1/customers/{tenant}/mailboxes", box),
                        # The path names its own tenant, the body another's mailbox.
                        "create elsewhere": ("POST", f"/v1/customers/{home}/mailboxes", box),
                    }

                known, unknown = requests(OTHER), requests(UNKNOWN)
                for what in known:
                    answers = []
                    for tenant, (method, path, body) in (
                        (OTHER, known[what]),
                        (UNKNOWN, unknown[what]),
                    ):
                        server.clear_requests()
                        _TALLY.tried += 1
                        _TALLY.http += 1
                        answer = await http.request(method, path, json=body)
                        assert answer.status_code in (403, 422), (identity, what, answer.text)
                        assert server.requests == [], f"{identity} {what} {tenant}: sent"
                        problem = answer.json()
                        words = problem["detail"].replace(tenant, "TENANT")
                        answers.append((answer.status_code, problem.get("reason"), words))
                        _TALLY.refused += 1
                    assert answers[0] == answers[1], f"{identity} {what}: {answers}"

"""The renewals report: upcoming renewals of customers and resellers, with their downgrade
windows (seed 001) and open orders."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from mailadmin.rules.policies import downgrade_window, next_renewal

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["COLUMNS", "RenewalRow", "build"]

COLUMNS = [
    "subject",
    "kind",
    "reseller",
    "renewal",
    "term",
    "days",
    "window_opens",
    "window_closes",
    "window",
    "open_orders",
]


class RenewalRow(BaseModel):
    """One renewal; ``window`` is ``open``, ``upcoming`` or ``closed``."""

    model_config = ConfigDict(frozen=True)

    subject: str
    kind: str
    reseller: str | None
    renewal: date
    #: The subject's billing term in months (its own, else the policy's).
    term: int
    days: int
    window_opens: date
    window_closes: date
    window: str
    open_orders: int


async def build(orch: Orchestrator, *, reseller: str | None = None) -> list[RenewalRow]:
    """Renewals from today on, soonest first (one reseller's customers when given)."""
    tenancy = orch.rules.tenancy
    today = orch.rules.today()
    rows: list[RenewalRow] = []
    from mailadmin.rules.identities import IdentityKind

    acting = orch.rules.acting()
    if acting.kind is IdentityKind.MAILBOX_USER:
        orch.rules.require_site_admin("renewals")
    subjects: list[tuple[str, str, str | None, date | None, int | None, str | None]] = [
        ("customer", c.name, c.reseller, c.renewal, c.term_months, _instance(orch, c.name))
        for c in tenancy.customers(reseller)
        if orch.rules.reachable(c.name)
    ]
    if reseller is None and acting.kind is IdentityKind.SITE_ADMIN:
        subjects += [
            ("reseller", r.name, None, r.renewal, r.term_months, r.instance)
            for r in tenancy.resellers()
        ]
    for kind, name, owner, recorded, own_term, instance in subjects:
        if recorded is None:
            continue
        settings = orch.rules.policies.settings(
            instance, owner or (name if kind == "reseller" else None)
        )
        # The billing cycle: a renewal passed rolls forward the subject's own term (else
        # the policy's) to the next one.
        renewal = next_renewal(recorded, today, settings, own_term)
        if renewal < today:
            continue
        window = downgrade_window(renewal, settings)
        rows.append(
            RenewalRow(
                subject=name,
                kind=kind,
                reseller=owner,
                renewal=renewal,
                term=settings.term(own_term),
                days=(renewal - today).days,
                window_opens=window.opens,
                window_closes=window.closes,
                window=window.state(today),
                open_orders=len(orch.rules.orders.open(name)),
            )
        )
    return sorted(rows, key=lambda r: (r.renewal, r.subject))


def _instance(orch: Orchestrator, tenant: str) -> str | None:
    spec = orch.config.tenants.get(tenant)
    return spec.instance if spec is not None else None

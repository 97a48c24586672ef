"""The business part of ``mailadmin demo``: a reseller, its customers, and the three reports."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module
from typing import TYPE_CHECKING, Any

from mailadmin.reports import REPORTS

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["demo_reports"]

_TITLES = {
    "usage": "Report: usage (quota over usage)",
    "licences": "Report: licences",
    "renewals": "Report: renewals and downgrade windows",
}


async def demo_reports(orch: Orchestrator) -> list[tuple[str, list[str], list[list[Any]]]]:
    """Put every demo tenant under a prepaid reseller, then build every report.

    Each customer is allocated one user mailbox fewer than it uses, so the usage report
    shows over-use; its renewal is 20 days away, inside the downgrade window.
    """
    from mailadmin.contract.models import MailboxKind
    from mailadmin.rules.tenancy import CustomerSpec, ResellerSpec, Resource

    tenancy = orch.rules.tenancy
    if tenancy.reseller("demo-reseller") is None:
        renewal = orch.rules.today() + timedelta(days=20)
        tenancy.add_reseller(
            "demo-reseller", ResellerSpec(prepaid=True, may_oversell=True, renewal=renewal)
        )
        counts = await orch.count_all()
        for item in counts.items:
            if item.value is None:
                continue
            users = item.value.of(MailboxKind.USER)
            package = {Resource.USER_MAILBOXES: max(users - 1, 0), Resource.SHARED_MAILBOXES: 5}
            spec = CustomerSpec(reseller="demo-reseller", package=package, renewal=renewal)
            tenancy.save_customer(item.key, spec)
    tables = []
    for name, module in REPORTS.items():
        report = import_module(module)
        rows = await report.build(orch)
        columns: list[str] = report.COLUMNS
        tables.append(
            (
                _TITLES[name],
                columns,
                [[row.model_dump(mode="json")[c] for c in columns] for row in rows],
            )
        )
    return tables

"""Reports for people and machines: ``usage``, ``licences`` and ``renewals``.

Each report is a list of pydantic rows (``mailadmin report NAME`` prints them as a table,
``--json`` or ``--csv``).
"""

from __future__ import annotations

__all__ = ["REPORTS"]

#: Report name -> module that builds it (each has ``build(orch, ...)`` and ``COLUMNS``).
REPORTS = {
    "usage": "mailadmin.reports.usage",
    "licences": "mailadmin.reports.licences",
    "renewals": "mailadmin.reports.renewals",
}

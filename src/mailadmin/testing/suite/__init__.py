"""The conformance suites. Subclass them in a test module, one line each::

    class TestConformance(suite.ConformanceSuite): pass      # every suite, now and later

    class TestSetPlan(suite.SetPlanSuite): pass               # or one group at a time

Each test needs the ``mailadmin_target`` fixture (a
:class:`~mailadmin.testing.ConformanceTarget`); tests that talk to the mock run once in
process and once against the mock served on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator

from mailadmin.testing.suite.addons import AddonSuite
from mailadmin.testing.suite.change_rule import ChangeRuleSuite
from mailadmin.testing.suite.connection import ConnectionSuite
from mailadmin.testing.suite.contract import ContractSuite
from mailadmin.testing.suite.counts import CountSuite
from mailadmin.testing.suite.dry_run import DryRunSuite
from mailadmin.testing.suite.failures import FailureSuite
from mailadmin.testing.suite.licence import LicenceSuite
from mailadmin.testing.suite.lifecycle import LifecycleSuite
from mailadmin.testing.suite.mailboxes import MailboxSuite
from mailadmin.testing.suite.plans import SetPlanSuite
from mailadmin.testing.suite.refusals import RefusalSuite
from mailadmin.testing.suite.settings import SettingsSuite

__all__ = [
    "SUITES",
    "AddonSuite",
    "ChangeRuleSuite",
    "ConformanceSuite",
    "ConnectionSuite",
    "ContractSuite",
    "CountSuite",
    "DryRunSuite",
    "FailureSuite",
    "LicenceSuite",
    "LifecycleSuite",
    "MailboxSuite",
    "RefusalSuite",
    "SetPlanSuite",
    "SettingsSuite",
    "all_suites",
]

#: Every suite, in the order they report.
SUITES: tuple[type, ...] = (
    ContractSuite,
    ConnectionSuite,
    SetPlanSuite,
    CountSuite,
    AddonSuite,
    LicenceSuite,
    MailboxSuite,
    LifecycleSuite,
    SettingsSuite,
    DryRunSuite,
    ChangeRuleSuite,
    FailureSuite,
    RefusalSuite,
)


class ConformanceSuite(
    ContractSuite,
    ConnectionSuite,
    SetPlanSuite,
    CountSuite,
    AddonSuite,
    LicenceSuite,
    MailboxSuite,
    LifecycleSuite,
    SettingsSuite,
    DryRunSuite,
    ChangeRuleSuite,
    FailureSuite,
    RefusalSuite,
):
    """Every suite in one class: a plugin that subclasses it runs suites added later too."""


def all_suites() -> Iterator[type]:
    """Every suite class, one by one (``ConformanceSuite`` is all of them at once)."""
    yield from SUITES

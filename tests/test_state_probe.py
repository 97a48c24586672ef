"""StateProbe.neutral_plan: a native record back to a neutral plan, by one field or several."""

from __future__ import annotations

import pytest

from mailadmin.sdk import PlanMapping, ProviderSettings
from mailadmin.testing import StateProbe


class FlagsPlan(PlanMapping):
    """A plan made of a quota and access flags (mailcow-style)."""

    imap: bool = True
    sync: bool = False


class FlagsSettings(ProviderSettings):
    plans: dict[str, FlagsPlan] = {}


SETTINGS = FlagsSettings(
    plans={
        "mail": {"quota_mb": 2048, "imap": True, "sync": False},
        "sync": {"quota_mb": 2048, "imap": True, "sync": True},
    }
)


def test_several_fields_name_the_plan_only_when_every_one_matches() -> None:
    probe = StateProbe()
    assert probe.neutral_plan(SETTINGS, {"quota_mb": 2048, "imap": True, "sync": True}) == "sync"
    assert probe.neutral_plan(SETTINGS, {"quota_mb": 2048, "imap": True, "sync": False}) == "mail"
    # The same flags with another quota are no configured plan: the record is shown as is.
    held = probe.neutral_plan(SETTINGS, {"quota_mb": 1024, "imap": True, "sync": True})
    assert held == "imap=True, quota_mb=1024, sync=True"
    assert probe.neutral_plan(SETTINGS, {"nope": 1}) == "nope=1"  # a field no plan has


def test_one_field_works_as_before() -> None:
    probe = StateProbe()
    assert probe.neutral_plan(SETTINGS, 2048, "quota_mb") == "mail"  # the first that matches
    assert probe.neutral_plan(SETTINGS, "x", "nope") == "x"
    assert probe.neutral_plan(SETTINGS, None, "quota_mb") is None
    with pytest.raises(TypeError, match="needs the field"):
        probe.neutral_plan(SETTINGS, "x")

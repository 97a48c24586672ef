"""The reference provider passes the whole conformance kit, set up as any plugin would."""

from __future__ import annotations

import pytest

from mailadmin.reference.mock import MemoryMock
from mailadmin.reference.mock.refusals import REFUSALS
from mailadmin.reference.provider import MemoryProvider
from mailadmin.testing import ConformanceTarget, suite
from mailadmin.testing.probe import MemoryProbe


@pytest.fixture
def mailadmin_target() -> ConformanceTarget:
    return ConformanceTarget(
        provider=MemoryProvider,
        mock=MemoryMock,
        settings=lambda url: {
            "endpoint": url,
            "credentials": {"username": "admin", "secret": "secret"},
        },
        tenant="example.com",
        mailbox="anna@example.com",
        plans=("mail", "sync"),
        probe=MemoryProbe(),
        over_licence_seed={"licence": {"seats": 2}},
        refusals=REFUSALS,
    )


class TestConformance(suite.ConformanceSuite):
    pass

"""The Zextras provider passes the whole conformance kit against its mock, in process and on
loopback, with the sample configuration."""

from __future__ import annotations

from typing import Any

import pytest
from mailadmin_zextras.demo import sample_config

from mailadmin.testing import ConformanceTarget, suite


def _settings(url: str) -> dict[str, Any]:
    instance = sample_config()["instances"]["zextras"]
    return {**{k: v for k, v in instance.items() if k != "provider"}, "endpoint": url}


#: An activated licence of two seats: the default domain's five mailboxes over-use it.
OVER_LICENCE = {
    "licence": {
        "active": {
            "licensedUsers": "2",
            "dateStart": 1_767_225_600_000,
            "dateEnd": 4_102_444_800_000,
            "editions": [{"name": "mobile", "quantity": "2"}],
        },
        "token": "MOCK-SMALL-2",
    }
}


@pytest.fixture
def mailadmin_target() -> ConformanceTarget:
    return ConformanceTarget.registered(
        "zextras",
        settings=_settings,
        tenant="example.com",
        mailbox="anna@example.com",
        plans=("mail", "sync"),
        over_licence_seed=OVER_LICENCE,
    )


class TestConformance(suite.ConformanceSuite):
    pass

"""Exchange Server (the exchange plugin's on-premises mode) through the orchestrator, the
faces' path: a bulk run of plan changes shares the instance's one runspace pool; count,
add-on and licence work on an on-premises tenant. The mock is served on loopback, as
pypsrp needs a socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailadmin import Orchestrator
from mailadmin.cli.demo import CATALOGUE
from mailadmin.mock import MockServer, serve

pytest.importorskip("mailadmin_exchange", reason="the Exchange plugin is not installed")

from mailadmin_exchange.demo import sample_config
from mailadmin_exchange.server_mock import ExchangeServerMock, ServerState
from mailadmin_exchange.server_mock.state import onprem_mailbox

MB = 1 << 20
OU = "contoso.local/Hosting/Fabrikam"
USERS = 40


@pytest.fixture
def running() -> Iterator[tuple[ServerState, str]]:
    server = MockServer(ExchangeServerMock)
    state = server.state
    assert isinstance(state, ServerState)
    tenant = state.data.tenants["fabrikam"]
    for i in range(USERS):
        mailbox = onprem_mailbox(f"u{i}@fabrikam.com", "UserMailbox", tenant)
        state.data.mailboxes[mailbox.address] = mailbox
    with serve(server) as url:
        yield state, url


def config(url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        **CATALOGUE,
        "journal": {"url": f"sqlite:///{tmp_path / 'journal.sqlite'}"},
        "instances": {
            "onprem": {
                "provider": "exchserver",
                "endpoint": f"{url}/PowerShell",
                "auth": "basic",
                "credentials": {"username": "admin@contoso.local", "secret": "Passw0rd!"},
                "plans": sample_config()["instances"]["exchange"]["plans"],
                "cals": {"standard": 100, "enterprise": 10},
            }
        },
        "tenants": {
            "fabrikam.com": {"instance": "onprem", "native_id": OU, "domains": ["fabrikam.com"]}
        },
    }


async def test_a_bulk_run_shares_one_runspace_pool(
    running: tuple[ServerState, str], tmp_path: Path
) -> None:
    state, url = running
    changes = [(f"u{i}@fabrikam.com", "sync") for i in range(USERS)]
    async with Orchestrator.from_dict(config(url, tmp_path)) as orch:
        result = await orch.set_plans(changes, concurrency=8)
        count = await orch.count_mailboxes("fabrikam.com")
        licence = await orch.get_licence("onprem")
    assert result.failed == 0
    for i in range(USERS):
        mailbox = state.data.mailboxes[f"u{i}@fabrikam.com"]
        assert mailbox.prohibit_send_receive_quota == 5120 * MB
        assert mailbox.activesync and not mailbox.mapi
    assert state.shells_opened == 1
    assert not state.shells  # the orchestrator's close ended the session
    assert count.by_plan["sync"] == USERS
    assert licence.seats_used == len([m for m in state.mailboxes() if m.type == "UserMailbox"])

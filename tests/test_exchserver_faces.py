"""Exchange Server (the exchange plugin's on-premises mode) from the command line and the
HTTP API: set-plan, count, addon shared_mailbox and licence on an on-premises tenant, each
effect checked in the Exchange Server mock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailadmin.cli.commands import cli
from mailadmin.mock import MockServer, serve

pytest.importorskip("mailadmin_exchange", reason="the Exchange plugin is not installed")

from mailadmin_exchange.server_mock import ExchangeServerMock, ServerState

MB = 1 << 20
OU = "contoso.local/Hosting/Fabrikam"


@pytest.fixture
def running() -> Iterator[tuple[ServerState, str]]:
    server = MockServer(ExchangeServerMock)
    assert isinstance(server.state, ServerState)
    with serve(server) as url:
        yield server.state, url


def config_text(url: str, folder: Path) -> str:
    return f"""
[journal]
url = "sqlite:///{folder / "mailadmin.sqlite"}"

[plans.mail]
rank = 1
[plans.sync]
rank = 2
[plans.collaborate]
rank = 3

[addons.shared_mailbox]
[addons.storage_gb]
unit = "GB"

[instances.onprem]
provider = "exchserver"
endpoint = "{url}/PowerShell"
auth = "basic"
credentials = {{ username = "admin@contoso.local", secret = "Passw0rd!" }}
cals = {{ standard = 25, enterprise = 5 }}

[instances.onprem.plans.mail]
quota_mb = 2048
features = {{ owa = true, pop = true, imap = true, mapi = false, activesync = false }}
[instances.onprem.plans.sync]
quota_mb = 5120
features = {{ owa = true, pop = true, imap = true, mapi = false, activesync = true }}
[instances.onprem.plans.collaborate]
quota_mb = 10240
features = {{ owa = true, pop = true, imap = true, mapi = true, activesync = true }}

[tenants."fabrikam.com"]
instance = "onprem"
native_id = "{OU}"
domains = ["fabrikam.com"]
"""


@pytest.fixture
def config(running: tuple[ServerState, str], tmp_path: Path) -> Path:
    path = tmp_path / "mailadmin.toml"
    path.write_text(config_text(running[1], tmp_path))
    return path


def cli_json(config: Path, *args: str) -> dict:
    result = CliRunner().invoke(cli, ["--config", str(config), "--json", *args])
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_the_cli_on_an_onprem_tenant(running: tuple[ServerState, str], config: Path) -> None:
    state, _ = running
    changed = cli_json(config, "set-plan", "anna@fabrikam.com", "mail")
    assert changed["outcome"] == "changed"
    anna = state.data.mailboxes["anna@fabrikam.com"]
    assert anna.prohibit_send_receive_quota == 2048 * MB and not anna.activesync
    counted = cli_json(config, "count", "fabrikam.com")
    by_kind = (
        counted["by_kind"] if "by_kind" in counted else counted["items"][0]["value"]["by_kind"]
    )
    assert by_kind["user"] == 2 and by_kind["shared"] == 1
    addon = cli_json(config, "addon", "fabrikam.com", "shared_mailbox", "3")
    assert addon["after"] == 3
    licence = cli_json(config, "licence", "onprem")
    text = json.dumps(licence)
    assert "Standard CAL 2019" in text
    users = [m for m in state.mailboxes() if m.type == "UserMailbox"]
    assert str(len(users)) in text


def test_the_http_api_on_an_onprem_tenant(running: tuple[ServerState, str], config: Path) -> None:
    from fastapi.testclient import TestClient

    from mailadmin.api.app import create_app
    from mailadmin.api.keys import ApiKeys
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.rules.identities import SITE_ADMIN

    state, _ = running
    holder: dict[str, Orchestrator] = {}

    def factory() -> Orchestrator:
        holder["orch"] = Orchestrator.from_config(config)
        return holder["orch"]

    with TestClient(create_app(orchestrator=factory)) as http:
        key = ApiKeys(holder["orch"].rules.store).create(SITE_ADMIN).key
        auth = {"Authorization": f"Bearer {key}"}
        answer = http.put(
            "/v1/mailboxes/ben@fabrikam.com/plan", json={"plan": "sync"}, headers=auth
        )
        assert answer.status_code == 200, answer.text
        assert state.data.mailboxes["ben@fabrikam.com"].prohibit_send_receive_quota == 5120 * MB
        count = http.get("/v1/customers/fabrikam.com/mailbox-count", headers=auth)
        assert count.status_code == 200, count.text
        assert count.json()["by_plan"].get("sync") == 1
        addon = http.put(
            "/v1/customers/fabrikam.com/addons/shared_mailbox",
            json={"quantity": 2},
            headers=auth,
        )
        assert addon.status_code == 200, addon.text
        licence = http.get("/v1/instances/onprem/licence", headers=auth)
        assert licence.status_code == 200, licence.text
        users = [m for m in state.mailboxes() if m.type == "UserMailbox"]
        assert licence.json()["seats_used"] == len(users)
        assert licence.json()["seats_licensed"] == 25
    assert state.shells_opened == 1

"""The Exchange Server mock driven by pypsrp as pypsrp's own documentation drives it.

Written from pypsrp's usage (``WSMan`` + ``RunspacePool`` + ``PowerShell``, and
``Client.execute_ps``), not from our provider: if these pass, an unmodified pypsrp talks
to the mock the way it talks to Exchange's ``/PowerShell`` endpoint. Effects are checked
in the mock's state.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from mailadmin_exchange.server_mock import ExchangeServerMock, ServerState
from pypsrp.client import Client
from pypsrp.exceptions import AuthenticationError, WSManFaultError
from pypsrp.powershell import PowerShell, PSInvocationState, RunspacePool
from pypsrp.wsman import WSMan

from mailadmin.mock import MockServer, serve

USER = "admin@contoso.local"
PASSWORD = "Passw0rd!"
GB = 1 << 30


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[MockServer, str]]:
    server = MockServer(ExchangeServerMock)
    with serve(server) as url:
        yield server, url


@pytest.fixture
def server(running: tuple[MockServer, str]) -> MockServer:
    running[0].reset()
    return running[0]


@pytest.fixture
def url(running: tuple[MockServer, str], server: MockServer) -> str:
    return running[1]


def state(server: MockServer) -> ServerState:
    assert isinstance(server.state, ServerState)
    return server.state


def wsman(url: str, password: str = PASSWORD) -> WSMan:
    # Basic over plain HTTP needs encryption="never" (pypsrp refuses message encryption
    # with Basic); path and port as Exchange's /PowerShell virtual directory takes them.
    parts = urlsplit(url)
    return WSMan(
        parts.hostname or "127.0.0.1",
        port=parts.port,
        path="PowerShell",
        ssl=False,
        auth="basic",
        encryption="never",
        username=USER,
        password=password,
    )


def pool(url: str) -> RunspacePool:
    return RunspacePool(wsman(url), configuration_name="Microsoft.Exchange")


def invoke(rp: RunspacePool, cmdlet: str, **parameters: object) -> PowerShell:
    ps = PowerShell(rp)
    ps.add_cmdlet(cmdlet)
    for name, value in parameters.items():
        if value is None:
            ps.add_parameter(name)  # a switch
        else:
            ps.add_parameter(name, value)
    ps.invoke()
    return ps


def test_reads_a_tenants_mailboxes_as_exchange_objects(server: MockServer, url: str) -> None:
    with pool(url) as rp:
        ps = invoke(rp, "Get-Mailbox", OrganizationalUnit="contoso.local/Hosting/Fabrikam")
    assert ps.state == PSInvocationState.COMPLETED and not ps.had_errors
    addresses = sorted(o.adapted_properties["PrimarySmtpAddress"] for o in ps.output)
    assert addresses == sorted(
        m.address for m in state(server).mailboxes("contoso.local/Hosting/Fabrikam")
    )
    anna = next(o for o in ps.output if o.adapted_properties["Name"] == "anna")
    assert anna.types[0] == "Microsoft.Exchange.Data.Directory.Management.Mailbox"
    assert anna.types[-1] == "System.Object"
    assert anna.adapted_properties["AddressBookPolicy"] == "Fabrikam ABP"
    assert anna.adapted_properties["ProhibitSendQuota"] == "Unlimited"
    assert anna.adapted_properties["UseDatabaseQuotaDefaults"] is True


@pytest.mark.parametrize(
    ("switch", "kind"),
    [("Shared", "SharedMailbox"), ("Room", "RoomMailbox"), ("Equipment", "EquipmentMailbox")],
)
def test_creates_resource_mailboxes_in_a_tenant(
    server: MockServer, url: str, switch: str, kind: str
) -> None:
    with pool(url) as rp:
        ps = PowerShell(rp)
        ps.add_cmdlet("New-Mailbox").add_parameter("Name", "Desk").add_parameter(switch)
        ps.add_parameter("OrganizationalUnit", "contoso.local/Hosting/Tailspin")
        created = ps.invoke()
    assert not ps.streams.error
    assert created[0].adapted_properties["RecipientTypeDetails"] == kind
    stored = state(server).data.mailboxes["desk@tailspintoys.com"]
    assert stored.type == kind
    assert stored.organizational_unit == "contoso.local/Hosting/Tailspin"
    assert stored.address_book_policy == "Tailspin ABP"


def test_creates_a_user_mailbox(server: MockServer, url: str) -> None:
    with pool(url) as rp:
        ps = invoke(
            rp,
            "New-Mailbox",
            Name="Carla",
            UserPrincipalName="carla@fabrikam.com",
            Password="Secr3t!pass",
            OrganizationalUnit="contoso.local/Hosting/Fabrikam",
        )
        again = invoke(rp, "Get-Mailbox", Identity="carla@fabrikam.com")
    assert not ps.streams.error
    assert again.output[0].adapted_properties["UserPrincipalName"] == "carla@fabrikam.com"
    assert state(server).data.mailboxes["carla@fabrikam.com"].type == "UserMailbox"


def test_a_duplicate_address_is_an_error_record_and_nothing_changes(
    server: MockServer, url: str
) -> None:
    before = state(server).snapshot()["mailboxes"]
    with pool(url) as rp:
        ps = invoke(
            rp, "New-Mailbox", Name="Info2", Shared=None, PrimarySmtpAddress="info@fabrikam.com"
        )
    assert ps.streams.error and "already being used" in str(ps.streams.error[0])
    assert state(server).snapshot()["mailboxes"] == before


def test_changes_quotas_and_client_access(server: MockServer, url: str) -> None:
    with pool(url) as rp:
        ps = invoke(
            rp,
            "Set-Mailbox",
            Identity="anna@fabrikam.com",
            IssueWarningQuota="1.8GB",
            ProhibitSendQuota="1.9GB",
            ProhibitSendReceiveQuota="2GB",
            UseDatabaseQuotaDefaults=False,
        )
        cas = invoke(rp, "Set-CASMailbox", Identity="anna@fabrikam.com", PopEnabled=False)
        same = invoke(rp, "Set-CASMailbox", Identity="anna@fabrikam.com", PopEnabled=False)
        read = invoke(rp, "Get-Mailbox", Identity="anna@fabrikam.com")
    assert not ps.streams.error and not cas.streams.error
    anna = state(server).data.mailboxes["anna@fabrikam.com"]
    assert anna.prohibit_send_receive_quota == 2 * GB
    assert anna.use_database_quota_defaults is False
    assert anna.pop is False
    assert "no settings" in same.streams.warning[0].message
    assert read.output[0].adapted_properties["ProhibitSendReceiveQuota"].startswith("2 GB")


def test_a_quota_above_the_send_receive_limit_changes_nothing(server: MockServer, url: str) -> None:
    with pool(url) as rp:
        ps = invoke(rp, "Set-Mailbox", Identity="anna@fabrikam.com", ProhibitSendReceiveQuota="2GB")
    # IssueWarningQuota and ProhibitSendQuota stay Unlimited, above the new limit.
    assert ps.streams.error
    assert state(server).data.mailboxes["anna@fabrikam.com"].prohibit_send_receive_quota is None


def test_removes_a_mailbox_only_without_a_prompt(server: MockServer, url: str) -> None:
    with pool(url) as rp:
        prompted = invoke(rp, "Remove-Mailbox", Identity="info@fabrikam.com")
        assert prompted.had_errors and prompted.state == PSInvocationState.FAILED
        assert "info@fabrikam.com" in state(server).data.mailboxes
        removed = invoke(rp, "Remove-Mailbox", Identity="info@fabrikam.com", Confirm=False)
    assert not removed.had_errors and not removed.streams.error
    assert "info@fabrikam.com" not in state(server).data.mailboxes


def test_a_missing_mailbox_is_exchanges_error_record(url: str) -> None:
    with pool(url) as rp:
        ps = invoke(rp, "Get-Mailbox", Identity="nobody@fabrikam.com")
    assert ps.state == PSInvocationState.COMPLETED and not ps.had_errors
    (error,) = ps.streams.error
    assert "couldn't be found" in str(error)
    assert "[FailureCategory=Cmdlet-ManagementObjectNotFoundException]" in error.fq_error
    assert error.reason == "ManagementObjectNotFoundException"
    assert error.activity == "Get-Mailbox"


def test_an_unknown_parameter_fails_the_pipeline(server: MockServer, url: str) -> None:
    with pool(url) as rp:
        ps = invoke(rp, "Set-Mailbox", Identity="anna@fabrikam.com", Colour="blue")
    assert ps.had_errors and ps.state == PSInvocationState.FAILED
    assert "Colour" in str(ps.streams.error[0])


def test_scripts_are_refused_like_a_no_language_runspace(url: str) -> None:
    with pool(url) as rp:
        ps = PowerShell(rp)
        ps.add_script("Get-Mailbox | Remove-Mailbox")
        ps.invoke()
    assert ps.had_errors and "no-language mode" in str(ps.streams.error[0])


def test_statistics_accepted_domains_and_cal_reports(server: MockServer, url: str) -> None:
    with pool(url) as rp:
        stats = invoke(rp, "Get-MailboxStatistics", Identity="ben@fabrikam.com")
        domains = invoke(rp, "Get-AcceptedDomain")
        licences = invoke(rp, "Get-ExchangeServerAccessLicense")
        standard = invoke(
            rp,
            "Get-ExchangeServerAccessLicenseUser",
            LicenseName="Exchange Server 2019 Standard CAL",
        )
        enterprise = invoke(
            rp,
            "Get-ExchangeServerAccessLicenseUser",
            LicenseName="Exchange Server 2019 Enterprise CAL",
        )
    assert stats.output[0].adapted_properties["ItemCount"] == 5400
    assert {d.adapted_properties["DomainName"] for d in domains.output} >= {
        "fabrikam.com",
        "tailspintoys.com",
    }
    assert {o.adapted_properties["UnitLabel"] for o in licences.output} == {"CAL", "Server"}
    users = {m.address for m in state(server).mailboxes() if m.type == "UserMailbox"}
    assert {o.adapted_properties["Name"] for o in standard.output} == users
    assert [o.adapted_properties["Name"] for o in enterprise.output] == ["ben@fabrikam.com"]


def test_execute_ps_runs_one_cmdlet_statement(url: str) -> None:
    parts = urlsplit(url)
    client = Client(
        parts.hostname or "127.0.0.1",
        port=parts.port,
        path="PowerShell",
        ssl=False,
        auth="basic",
        encryption="never",
        username=USER,
        password=PASSWORD,
    )
    output, streams, had_errors = client.execute_ps(
        "Get-Mailbox -Identity 'ben@fabrikam.com'", configuration_name="Microsoft.Exchange"
    )
    assert not had_errors and not streams.error
    assert "ben@fabrikam.com" in output and "Ben Berg" in output


def test_one_pool_serves_many_pipelines_in_one_shell(server: MockServer, url: str) -> None:
    with pool(url) as rp:
        for number in range(5):
            invoke(rp, "Set-Mailbox", Identity="anna@fabrikam.com", CustomAttribute1=f"v{number}")
        assert state(server).snapshot()["shells"] == {"opened": 1, "open": 1, "throttled": 0}
    assert state(server).data.mailboxes["anna@fabrikam.com"].custom_attributes == {
        "CustomAttribute1": "v4"
    }
    assert state(server).snapshot()["shells"]["open"] == 0  # the pool's Delete closed it


def test_a_wrong_password_is_refused(url: str) -> None:
    with pytest.raises(AuthenticationError):
        RunspacePool(wsman(url, "wrong"), configuration_name="Microsoft.Exchange").open()


def test_only_the_exchange_configuration_exists(url: str) -> None:
    with pytest.raises(WSManFaultError) as caught:
        RunspacePool(wsman(url)).open()  # Microsoft.PowerShell, pypsrp's default
    assert caught.value.code == 2150858811


def test_the_concurrency_limit_throttles_new_runspaces(server: MockServer, url: str) -> None:
    httpx.put(f"{url}/_mock/state", json={"max_concurrency": 1}).raise_for_status()
    first = pool(url)
    first.open()
    with pytest.raises(WSManFaultError) as caught:
        pool(url).open()
    assert "MaxConcurrency" in caught.value.reason
    first.close()
    with pool(url) as rp:
        assert not invoke(rp, "Get-AcceptedDomain").had_errors
    shells = httpx.get(f"{url}/_mock/state").json()["shells"]
    assert shells == {"opened": 2, "open": 0, "throttled": 1}


def test_a_dropped_shell_is_the_shell_not_found_fault(server: MockServer, url: str) -> None:
    rp = pool(url)
    rp.open()
    assert state(server).drop_shells() == 1
    with pytest.raises(WSManFaultError) as caught:
        invoke(rp, "Get-Mailbox", Identity="anna@fabrikam.com")
    assert caught.value.code == 2150858843


def test_an_injected_failure_on_a_command_is_the_dropped_shell_fault(url: str) -> None:
    fault = {"kind": "status", "status": 500, "operation": "get-mailbox", "calls": [1]}
    httpx.post(f"{url}/_mock/faults", json=fault).raise_for_status()
    with pool(url) as rp:
        with pytest.raises(WSManFaultError) as caught:
            invoke(rp, "Get-Mailbox", Identity="anna@fabrikam.com")
        assert caught.value.code == 2150858843


def test_an_injected_cmdlet_error_is_an_error_record(server: MockServer, url: str) -> None:
    seed = {"cmdlet_errors": {"Set-Mailbox": "The Active Directory server is unavailable."}}
    httpx.put(f"{url}/_mock/state", json=seed).raise_for_status()
    with pool(url) as rp:
        ps = invoke(rp, "Set-Mailbox", Identity="anna@fabrikam.com", DisplayName="A")
    assert "Active Directory server is unavailable" in str(ps.streams.error[0])
    assert state(server).data.mailboxes["anna@fabrikam.com"].display_name == "Anna Andersen"

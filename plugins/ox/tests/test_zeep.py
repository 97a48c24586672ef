"""A standard SOAP toolkit works against the mock unchanged: zeep (the client OX's own
provisioning tools use) builds its client from the served WSDL, creates a user, changes
its plan and reads it back."""

from __future__ import annotations

import pytest
import zeep
import zeep.exceptions
from mailadmin_ox.mock.codec import tolerated_deviations
from mailadmin_ox.mock.platform import OXMock
from mailadmin_ox.mock.schema import SERVICES

from mailadmin.mock import MockServer, serve
from mailadmin.sdk import read_envelope

AUTH = {"login": "oxadmin", "password": "secret"}
CTX = {"id": 1}


@pytest.fixture
def served() -> tuple[MockServer, str]:
    server = MockServer(OXMock)
    with serve(server) as url:
        yield server, url


def test_zeep_creates_a_user_changes_its_plan_and_reads_it_back(
    served: tuple[MockServer, str],
) -> None:
    server, url = served
    client = zeep.Client(f"{url}/webservices/OXUserService?wsdl")

    created = client.service.createByModuleAccessName(
        ctx=CTX,
        usrdata={
            "name": "dora",
            "display_name": "Dora Example",
            "password": "dora-secret",
            "given_name": "Dora",
            "sur_name": "Example",
            "primaryEmail": "dora@example.com",
            "email1": "dora@example.com",
            "maxQuota": 2048,
        },
        access_combination_name="pim",
        auth=AUTH,
    )
    assert created.name == "dora"
    assert created.id > 2

    nothing = client.service.changeByModuleAccessName(
        ctx=CTX, user={"name": "dora"}, access_combination_name="pim_mobility", auth=AUTH
    )
    client.service.change(ctx=CTX, usrdata={"id": created.id, "maxQuota": 5120}, auth=AUTH)

    assert nothing is None  # a void operation: empty SOAP body
    assert (
        client.service.getAccessCombinationName(ctx=CTX, user={"id": created.id}, auth=AUTH)
        == "pim_mobility"
    )
    data = client.service.getData(ctx=CTX, user={"name": "dora"}, auth=AUTH)
    assert (data.id, data.maxQuota, data.primaryEmail) == (created.id, 5120, "dora@example.com")
    access = client.service.getModuleAccess(ctx=CTX, user={"name": "dora"}, auth=AUTH)
    assert (access.activeSync, access.USM, access.infostore) == (True, True, False)
    assert created.id in [u.id for u in client.service.listAll(ctx=CTX, auth=AUTH)]
    # What zeep sent reached the state, through the recorded write routes.
    writes = [r.route for r in server.writes()]
    assert writes == [
        "OXUserService.createByModuleAccessName",
        "OXUserService.changeByModuleAccessName",
        "OXUserService.change",
    ]


def test_zeep_sees_ox_faults_with_their_text(served: tuple[MockServer, str]) -> None:
    _, url = served
    client = zeep.Client(f"{url}/webservices/OXUserService?wsdl")

    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.service.getData(ctx=CTX, user={"name": "nobody"}, auth=AUTH)

    assert caught.value.message.startswith("No such user nobody in context 1; exceptionId ")
    assert caught.value.code.endswith("Server")


def test_zeep_reads_the_reseller_services(served: tuple[MockServer, str]) -> None:
    _, url = served
    reseller = {"login": "reseller", "password": "secret"}
    contexts = zeep.Client(f"{url}/webservices/OXResellerContextService?wsdl")
    admins = zeep.Client(f"{url}/webservices/OXResellerService?wsdl")

    contexts.service.change(
        ctx={"id": 1, "restriction": [{"name": "Context.MaxUser", "value": "9"}]}, auth=reseller
    )
    context = contexts.service.getData(ctx={"id": 1}, auth=reseller)
    me = admins.service.getData(adm={"name": "reseller"}, creds=reseller)

    assert [(r.name, r.value) for r in context.restriction] == [("Context.MaxUser", "9")]
    assert context.owner.name == "reseller"
    assert {r.name: r.value for r in me.restrictions}["Subadmin.MaxOverallUser"] == "50"


def test_zeep_drives_the_reseller_user_service_with_ox_namespaces(
    served: tuple[MockServer, str],
) -> None:
    server, url = served
    users = zeep.Client(f"{url}/webservices/OXResellerUserService?wsdl")
    reseller = {"login": "reseller", "password": "secret"}

    users.service.changeByModuleAccessName(
        ctx={"id": 1}, user={"name": "anna"}, access_combination_name="pim_mobility", auth=reseller
    )
    listed = users.service.listAll(ctx={"id": 1}, auth=reseller)

    anna = server.state.contexts[1].user_named("anna")  # type: ignore[attr-defined]
    assert server.state.combination_of(anna.access) == "pim_mobility"  # type: ignore[attr-defined]
    assert anna.id in [u.id for u in listed]
    # zeep built its requests from the served WSDL alone: ResellerContext's inherited id and
    # User's fields went out in the core data namespace, in the schema's order.
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 2
    for request in posts:
        body = read_envelope(request.body, source="zeep").body
        assert body is not None
        assert tolerated_deviations(SERVICES["OXResellerUserService"], body) == []
    assert b"http://dataobjects.soap.admin.openexchange.com/xsd" in posts[0].body

"""The OX mock's wire behaviour: dispatch, lenient reading, CXF's faults, the WSDL and
the control API (reference sections 1.1, 1.2, 1.5 and 10)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from mailadmin_ox.mock.platform import OXMock

from mailadmin.mock import Fault, MockServer
from mailadmin.sdk import child_text, read_envelope, read_fault

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from conftest import Post


def read_body(content: bytes) -> Element | None:
    """The first element of an answer's SOAP body."""
    return read_envelope(content, source="test").body


ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def _soap(operation: str, inner: str, ns: str = "http://soap.admin.openexchange.com") -> bytes:
    return (
        f'<e:Envelope xmlns:e="{ENV}"><e:Body><o:{operation} xmlns:o="{ns}">{inner}'
        f"</o:{operation}></e:Body></e:Envelope>"
    ).encode()


AUTH = "<auth><login>oxadmin</login><password>secret</password></auth>"


async def test_the_operation_is_the_body_element_and_soapaction_is_ignored(post: Post) -> None:
    server = MockServer(OXMock)
    body = _soap(
        "getAccessCombinationName", f"<ctx><id>1</id></ctx><user><name>ben</name></user>{AUTH}"
    )

    response = await post(server, "OXUserService", body, SOAPAction='"urn:delete"')

    assert response.status_code == 200
    assert child_text(read_body(response.content), "return") == "pim_mobility"  # type: ignore[arg-type]
    assert [(r.route, r.write) for r in server.requests] == [
        ("OXUserService.getAccessCombinationName", False)
    ]


async def test_soap_lite_generic_names_are_read_by_position(post: Post) -> None:
    server = MockServer(OXMock)
    body = _soap(
        "changeByModuleAccessName",
        "<c-gensym3><id>1</id></c-gensym3><c-gensym5><name>anna</name></c-gensym5>"
        "<c-gensym7>groupware_premium</c-gensym7>"
        "<c-gensym9><login>oxadmin</login><password>secret</password></c-gensym9>",
    )

    response = await post(server, "OXUserService", body)

    assert response.status_code == 200
    anna = server.state.contexts[1].user_named("anna")  # type: ignore[attr-defined]
    assert server.state.combination_of(anna.access) == "groupware_premium"  # type: ignore[attr-defined]
    assert [r.write for r in server.requests] == [True]


async def test_an_unknown_element_is_refused_as_cxf_does(post: Post) -> None:
    server = MockServer(OXMock)
    body = _soap(
        "getData", f"<ctx><id>1</id><colour>red</colour></ctx><user><id>3</id></user>{AUTH}"
    )

    response = await post(server, "OXUserService", body)

    fault = read_fault(read_body(response.content))  # type: ignore[arg-type]
    assert response.status_code == 500
    assert fault is not None and fault.code == "Client"
    assert fault.message == (
        'Unexpected element "colour". Please remove that element from SOAP request.'
    )


async def test_a_child_in_a_foreign_namespace_is_refused(post: Post) -> None:
    server = MockServer(OXMock)
    body = _soap("getData", f'<ctx><x:id xmlns:x="urn:other">1</x:id></ctx>{AUTH}')

    fault = read_fault(read_body((await post(server, "OXUserService", body)).content))  # type: ignore[arg-type]

    assert fault is not None and "(URI=urn:other)" in fault.message


async def test_an_operation_the_service_lacks_is_a_client_fault(post: Post) -> None:
    server = MockServer(OXMock)

    response = await post(server, "OXUserService", _soap("transmogrify", AUTH))

    fault = read_fault(read_body(response.content))  # type: ignore[arg-type]
    assert response.status_code == 500
    assert fault is not None and fault.code == "Client"
    assert "{http://soap.admin.openexchange.com}transmogrify was not recognized" in fault.message
    assert server.requests[0].route is None


async def test_an_unknown_service_is_not_found(post: Post) -> None:
    response = await post(MockServer(OXMock), "OXTeleportService", _soap("listAll", AUTH))

    assert response.status_code == 404
    assert response.text == "No service was found."


async def test_a_soap_12_envelope_is_a_version_mismatch(post: Post) -> None:
    body = (
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
        b'<o:listAll xmlns:o="http://soap.admin.openexchange.com"/></e:Body></e:Envelope>'
    )

    response = await post(MockServer(OXMock), "OXUserService", body)

    fault = read_fault(read_body(response.content))  # type: ignore[arg-type]
    assert fault is not None and fault.code == "VersionMismatch"


async def test_broken_xml_and_hostile_xml_are_client_faults(post: Post) -> None:
    server = MockServer(OXMock)
    hostile = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><e:Envelope xmlns:e="' + ENV.encode() + b'"/>'

    for body in (b"<e:Envelope", hostile):
        response = await post(server, "OXUserService", body)
        fault = read_fault(read_body(response.content))  # type: ignore[arg-type]
        assert response.status_code == 500
        assert fault is not None and fault.code == "Client"


async def test_lists_repeat_return_and_carry_only_ids(post: Post) -> None:
    server = MockServer(OXMock)
    body = _soap("listAll", f"<ctx><id>1</id></ctx>{AUTH}")

    answer = read_body((await post(server, "OXUserService", body)).content)

    assert (
        answer is not None and answer.tag == "{http://soap.admin.openexchange.com}listAllResponse"
    )
    returns = list(answer)
    assert [child_text(r, "id") for r in returns] == ["2", "3", "4", "5"]
    assert all(len(r) == 1 for r in returns)


async def test_the_wsdl_is_served_for_every_service() -> None:
    server = MockServer(OXMock)
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://ox.test") as c:
        wsdl = await c.get("/webservices/OXSecondaryAccountService?wsdl")
        listing = await c.get("/webservices")

    assert wsdl.status_code == 200
    assert (
        b'<soap:address location="http://ox.test/webservices/OXSecondaryAccountService"/>'
        in wsdl.content
    )
    assert b'name="OXSecondaryAccountServiceHttpsEndpoint"' in wsdl.content
    assert b'soapAction="urn:list"' in wsdl.content
    for name in (
        "OXUserService",
        "OXContextService",
        "OXResourceService",
        "OXGroupService",
        "OXSecondaryAccountService",
        "OXResellerService",
        "OXResellerContextService",
        "OXResellerUserService",
    ):
        assert f"{name}?wsdl".encode() in listing.content


async def test_an_injected_server_error_is_a_soap_fault(post: Post) -> None:
    server = MockServer(OXMock)
    server.inject(Fault(kind="status", operation="listAll", calls=frozenset({1})))
    body = _soap("listAll", f"<ctx><id>1</id></ctx>{AUTH}")

    first = await post(server, "OXUserService", body)
    second = await post(server, "OXUserService", body)

    fault = read_fault(read_body(first.content))  # type: ignore[arg-type]
    assert first.status_code == 500 and fault is not None and fault.detail_name == "RemoteException"
    assert second.status_code == 200


async def test_reset_over_http_returns_to_the_defaults(post: Post) -> None:
    server = MockServer(OXMock)
    delete = _soap("delete", f"<ctx><id>1</id></ctx><user><name>anna</name></user>{AUTH}")
    await post(server, "OXUserService", delete)
    assert server.state.contexts[1].user_named("anna") is None  # type: ignore[attr-defined]

    async with httpx.AsyncClient(transport=server.transport(), base_url="http://ox.test") as c:
        assert (await c.post("/_mock/reset")).status_code in (200, 204)
        state = (await c.get("/_mock/state")).json()

    users = {u["name"]: u for u in state["contexts"][0]["users"]}
    assert set(users) == {"oxadmin", "anna", "ben", "carla"}
    assert users["oxadmin"]["id"] == 2 and users["oxadmin"]["contextadmin"] is True
    assert state["master"]["login"] == "oxadminmaster"

"""Raw OX SOAP requests, written from OX's published classes (not from this plugin), against
the mock: the valid ones succeed, the malformed ones get the refusal OX sends.

Where each request's shape comes from (open-xchange/appsuite-middleware, MW below):

- element names, order and types: the JAXB request classes, e.g. MW-res
  ``user/reseller/soap/ListAll.java`` (``ctx``, ``auth``, ``include_guests``,
  ``exclude_users``), ``ChangeByModuleAccessName.java`` (``ctx`` a ResellerContext, ``user``
  typed ``{http://dataobjects.soap.admin.openexchange.com/xsd}User``);
- namespaces: the ``package-info.java`` of each package (``...reseller.soap``: the reseller
  service namespace; ``...reseller.soap.dataobjects``: ResellerContext's own fields;
  ``...soap.dataobjects``: Context and User), and ``ResellerContext extends Context``;
- refusals: OX's ``DocLiteralInInterceptor`` (wrapped operations: ``Unexpected element
  ... Please remove that element from SOAP request.``; BARE void operations keep CXF's
  ``Unmarshalling Error: ...``), CXF's ``DataReaderImpl`` (its default validation event
  handler makes JAXB's "unexpected element" fatal), JAXB RI (binds children by name, in any
  order), and the exception texts of reference section 1.6.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from mailadmin_ox.mock.platform import OXMock

from mailadmin.mock import MockServer
from mailadmin.sdk import (
    child_text,
    children,
    local_name,
    namespace_of,
    read_envelope,
    read_fault,
)

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from conftest import Post

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
S = "http://soap.admin.openexchange.com"
RS = "http://soap.reseller.admin.openexchange.com"
D = "http://dataobjects.soap.admin.openexchange.com/xsd"
R = "http://dataobjects.rmi.admin.openexchange.com/xsd"
RD = "http://dataobjects.soap.reseller.admin.openexchange.com/xsd"
RR = "http://dataobjects.rmi.reseller.admin.openexchange.com/xsd"

RESELLER_AUTH = "<rs:auth><r:login>reseller</r:login><r:password>secret</r:password></rs:auth>"
ADMIN_AUTH = "<s:auth><r:login>oxadmin</r:login><r:password>secret</r:password></s:auth>"


def envelope(operation: str, inner: str, *, service_prefix: str = "rs") -> bytes:
    """A SOAP 1.1 envelope declaring every OX namespace under the reference's prefixes."""
    return (
        f'<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:s="{S}" xmlns:rs="{RS}" xmlns:d="{D}"'
        f' xmlns:r="{R}" xmlns:rd="{RD}" xmlns:rr="{RR}"><soapenv:Body>'
        f"<{service_prefix}:{operation}>{inner}</{service_prefix}:{operation}>"
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def read_body(content: bytes) -> Element | None:
    """The first element of an answer's SOAP body."""
    return read_envelope(content, source="test").body


@pytest.fixture
def server() -> MockServer:
    """The mock's defaults: reseller ``reseller`` owns context 1 (anna, ben, carla, oxadmin)."""
    return MockServer(OXMock)


def _combination(server: MockServer, login: str) -> str | None:
    state = server.state
    user = state.contexts[1].user_named(login)  # type: ignore[attr-defined]
    return state.combination_of(user.access)  # type: ignore[attr-defined, no-any-return]


# -- valid requests ----------------------------------------------------------------------------


async def test_reseller_list_all_as_published_lists_the_context_users(
    server: MockServer, post: Post
) -> None:
    body = envelope(
        "listAll",
        f"<rs:ctx><d:id>1</d:id></rs:ctx>{RESELLER_AUTH}"
        "<rs:include_guests>false</rs:include_guests><rs:exclude_users>false</rs:exclude_users>",
    )

    response = await post(server, "OXResellerUserService", body)

    assert response.status_code == 200
    answer = read_body(response.content)
    assert answer is not None and answer.tag == f"{{{RS}}}listAllResponse"
    returned = list(children(answer, "return"))
    assert all(namespace_of(r.tag) == RS for r in returned)
    ids = sorted(int(child_text(r, "id") or 0) for r in returned)
    assert ids == sorted(server.state.contexts[1].users)  # type: ignore[attr-defined]
    # The users' fields are User's, in the core data namespace.
    assert {namespace_of(kid.tag) for r in returned for kid in r} == {D}


async def test_reseller_plan_switch_with_user_in_the_core_namespace_changes_the_user(
    server: MockServer, post: Post
) -> None:
    body = envelope(
        "changeByModuleAccessName",
        "<rs:ctx><d:id>1</d:id></rs:ctx><rs:user><d:name>anna</d:name></rs:user>"
        f"<rs:access_combination_name>pim_mobility</rs:access_combination_name>{RESELLER_AUTH}",
    )

    response = await post(server, "OXResellerUserService", body)

    assert response.status_code == 200
    assert read_body(response.content) is None  # void: an empty body
    assert _combination(server, "anna") == "pim_mobility"


async def test_reseller_context_change_takes_inherited_and_own_fields(
    server: MockServer, post: Post
) -> None:
    # ResellerContext: Context's id and maxQuota (d:), then its own restriction (rd:) whose
    # fields are Restriction's (rr:).
    body = envelope(
        "change",
        "<rs:ctx><d:id>1</d:id><d:maxQuota>4096</d:maxQuota>"
        "<rd:restriction><rr:name>Context.MaxUser</rr:name><rr:value>25</rr:value>"
        f"</rd:restriction></rs:ctx>{RESELLER_AUTH}",
    )

    response = await post(server, "OXResellerContextService", body)

    assert response.status_code == 200
    context = server.state.contexts[1]  # type: ignore[attr-defined]
    assert context.max_quota == 4096
    assert context.restrictions == {"Context.MaxUser": "25"}


async def test_reseller_context_data_comes_back_in_each_fields_namespace(
    server: MockServer, post: Post
) -> None:
    server.state.contexts[1].restrictions = {"Context.MaxUser": "9"}  # type: ignore[attr-defined]
    body = envelope("getData", f"<rs:ctx><d:id>1</d:id></rs:ctx>{RESELLER_AUTH}")

    response = await post(server, "OXResellerContextService", body)

    answer = read_body(response.content)
    assert answer is not None
    (ctx,) = children(answer, "return")
    where = {local_name(kid.tag): namespace_of(kid.tag) for kid in ctx}
    assert where["id"] == where["name"] == where["maxQuota"] == D
    assert where["restriction"] == where["owner"] == where["sid"] == RD


async def test_core_user_service_request_from_the_reference_example(
    server: MockServer, post: Post
) -> None:
    body = envelope(
        "getAccessCombinationName",
        f"<s:ctx><d:id>1</d:id></s:ctx><s:user><d:name>ben</d:name></s:user>{ADMIN_AUTH}",
        service_prefix="s",
    )

    response = await post(server, "OXUserService", body)

    answer = read_body(response.content)
    assert answer is not None
    assert child_text(answer, "return") == "pim_mobility"


async def test_unqualified_children_are_mapped_by_name_as_ox_does(
    server: MockServer, post: Post
) -> None:
    # OX's own Perl examples send children without a namespace (ReplacingXMLStreamReader).
    body = envelope(
        "changeByModuleAccessName",
        "<ctx><id>1</id></ctx><user><name>anna</name></user>"
        "<access_combination_name>groupware_premium</access_combination_name>"
        "<auth><login>reseller</login><password>secret</password></auth>",
    )

    response = await post(server, "OXResellerUserService", body)

    assert response.status_code == 200
    assert _combination(server, "anna") == "groupware_premium"


async def test_children_out_of_the_schema_order_are_bound_by_name_as_jaxb_does(
    server: MockServer, post: Post
) -> None:
    # JAXB binds a bean's children by name; CXF runs no schema validation, so OX accepts
    # auth before ctx. (The plugin's own tests still hold it to the schema's order.)
    body = envelope(
        "changeByModuleAccessName",
        f"{RESELLER_AUTH}<rs:access_combination_name>pim</rs:access_combination_name>"
        "<rs:user><d:name>ben</d:name></rs:user><rs:ctx><d:id>1</d:id></rs:ctx>",
    )

    response = await post(server, "OXResellerUserService", body)

    assert response.status_code == 200
    assert _combination(server, "ben") == "pim"


# -- malformed requests --------------------------------------------------------------------------


async def _client_fault(server: MockServer, post: Post, service: str, body: bytes) -> str:
    """Post ``body``; assert OX's client fault shape (HTTP 500, ``soap:Client``, no detail)
    and that nothing was written; return the fault string."""
    before = server.snapshot()
    response = await post(server, service, body)
    answer = read_body(response.content)
    fault = read_fault(answer) if answer is not None else None
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/xml")
    assert fault is not None and fault.code == "Client" and fault.detail is None
    assert server.snapshot() == before
    return fault.message


async def test_a_context_field_in_the_reseller_data_namespace_is_refused(
    server: MockServer, post: Post
) -> None:
    # listAll is a wrapped operation: OX's interceptor rewrites JAXB's message.
    body = envelope(
        "listAll",
        f"<rs:ctx><rd:id>1</rd:id></rs:ctx>{RESELLER_AUTH}"
        "<rs:include_guests>false</rs:include_guests><rs:exclude_users>false</rs:exclude_users>",
    )

    message = await _client_fault(server, post, "OXResellerUserService", body)

    assert message == (
        f'Unexpected element "id" (URI={RD}). Please remove that element from SOAP request.'
    )


async def test_a_user_field_in_the_reseller_data_namespace_is_refused_in_a_void_call(
    server: MockServer, post: Post
) -> None:
    # changeByModuleAccessName is BARE and void: CXF's own wording, JAXB's list of what
    # User accepts at that place.
    body = envelope(
        "changeByModuleAccessName",
        "<rs:ctx><d:id>1</d:id></rs:ctx><rs:user><rd:name>anna</rd:name></rs:user>"
        f"<rs:access_combination_name>pim_mobility</rs:access_combination_name>{RESELLER_AUTH}",
    )

    message = await _client_fault(server, post, "OXResellerUserService", body)

    assert message.startswith(
        f'Unmarshalling Error: unexpected element (uri:"{RD}", local:"name"). '
        f"Expected elements are <{{{D}}}aliases>,<{{{D}}}anniversary>,"
    )
    assert f"<{{{D}}}name>" in message
    assert _combination(server, "anna") == "pim"


async def test_an_element_the_schema_lacks_is_refused(server: MockServer, post: Post) -> None:
    body = envelope(
        "getData", f"<rs:ctx><d:id>1</d:id><d:colour>red</d:colour></rs:ctx>{RESELLER_AUTH}"
    )

    message = await _client_fault(server, post, "OXResellerContextService", body)

    assert message == (
        f'Unexpected element "colour" (URI={D}). Please remove that element from SOAP request.'
    )


async def test_a_wrapper_in_another_service_namespace_is_not_recognized(
    server: MockServer, post: Post
) -> None:
    # CXF finds the operation by the wrapper's qualified name.
    body = envelope(
        "listAll",
        f"<rs:ctx><d:id>1</d:id></rs:ctx>{RESELLER_AUTH}",
        service_prefix="s",
    )

    message = await _client_fault(server, post, "OXResellerUserService", body)

    assert message == (
        f"Message part {{{S}}}listAll was not recognized.  (Does it exist in service WSDL?)"
    )


async def test_a_number_that_is_not_one_is_an_unmarshalling_error(
    server: MockServer, post: Post
) -> None:
    body = envelope("getData", f"<rs:ctx><d:id>one</d:id></rs:ctx>{RESELLER_AUTH}")

    message = await _client_fault(server, post, "OXResellerContextService", body)

    assert message == "Unmarshalling Error: Not a number: one "


async def test_credentials_left_out_are_a_null_credential_object(
    server: MockServer, post: Post
) -> None:
    body = envelope("listAll", "<rs:ctx><d:id>1</d:id></rs:ctx>")

    response = await post(server, "OXResellerUserService", body)

    fault = read_fault(read_body(response.content))  # type: ignore[arg-type]
    assert response.status_code == 500
    assert fault is not None and fault.code == "Server"
    assert fault.detail_name == "InvalidCredentialsException"
    assert fault.message == "credential object is null"


async def test_credentials_in_the_wrong_namespace_are_refused_not_ignored(
    server: MockServer, post: Post
) -> None:
    body = envelope(
        "listAll",
        "<rs:ctx><d:id>1</d:id></rs:ctx>"
        "<rs:auth><d:login>reseller</d:login><d:password>secret</d:password></rs:auth>",
    )

    message = await _client_fault(server, post, "OXResellerUserService", body)

    assert message == (
        f'Unexpected element "login" (URI={D}). Please remove that element from SOAP request.'
    )


async def test_a_plan_switch_without_a_combination_is_refused_before_the_user_is_read(
    server: MockServer, post: Post
) -> None:
    body = envelope(
        "changeByModuleAccessName",
        f"<rs:ctx><d:id>1</d:id></rs:ctx><rs:user><d:name>nobody</d:name></rs:user>{RESELLER_AUTH}",
    )

    response = await post(server, "OXResellerUserService", body)

    fault = read_fault(read_body(response.content))  # type: ignore[arg-type]
    assert fault is not None and fault.detail_name == "InvalidDataException"
    assert fault.message.startswith("User or UserModuleAccess is null")


async def test_an_unqualified_unknown_element_in_a_void_call_names_no_uri(
    server: MockServer, post: Post
) -> None:
    # ``id`` is matched by name first, so ``colour`` is not placed by position: it stays
    # {}colour, which ResellerContext does not declare.
    body = envelope(
        "change",
        "<ctx><id>1</id><colour>red</colour></ctx>"
        "<auth><login>reseller</login><password>secret</password></auth>",
    )

    message = await _client_fault(server, post, "OXResellerContextService", body)

    # JAXB lists what ResellerContext takes: Context's fields (d:), then its own (rd:).
    assert message.startswith(
        'Unmarshalling Error: unexpected element (uri:"", local:"colour"). '
        f"Expected elements are <{{{D}}}average_size>,"
    )
    assert message.endswith(f"<{{{RD}}}restriction>,<{{{RD}}}sid> ")


async def test_unqualified_children_of_a_qualified_element_are_not_renamed(
    server: MockServer, post: Post
) -> None:
    # OX renames an unqualified child only below elements it matched to the schema; a
    # qualified rs:ctx is taken as it is, so its {}id is unknown to JAXB.
    body = envelope("getData", f"<rs:ctx><id>1</id></rs:ctx>{RESELLER_AUTH}")

    message = await _client_fault(server, post, "OXResellerContextService", body)

    assert message == 'Unexpected element "id". Please remove that element from SOAP request.'


async def test_an_unknown_first_name_is_placed_by_position_as_for_php(
    server: MockServer, post: Post
) -> None:
    # Before any child of a level matched by name, OX falls back to the position (PHP's
    # "Struct" names): <colour> first in a Context is read as its first field, the long
    # average_size.
    body = envelope(
        "getData",
        "<ctx><colour>red</colour></ctx>"
        "<auth><login>oxadminmaster</login><password>secret</password></auth>",
        service_prefix="s",
    )

    message = await _client_fault(server, post, "OXContextService", body)

    assert message == 'Unmarshalling Error: For input string: "red" '


async def test_a_long_that_is_not_one_is_an_unmarshalling_error(
    server: MockServer, post: Post
) -> None:
    body = envelope(
        "change", f"<rs:ctx><d:id>1</d:id><d:maxQuota>lots</d:maxQuota></rs:ctx>{RESELLER_AUTH}"
    )

    message = await _client_fault(server, post, "OXResellerContextService", body)

    assert message == 'Unmarshalling Error: For input string: "lots" '


async def test_a_context_unknown_to_the_master_admin_is_no_such_context(
    server: MockServer, post: Post
) -> None:
    body = envelope(
        "getData",
        "<s:ctx><d:id>999</d:id></s:ctx>"
        "<s:auth><r:login>oxadminmaster</r:login><r:password>secret</r:password></s:auth>",
        service_prefix="s",
    )

    response = await post(server, "OXContextService", body)

    fault = read_fault(read_body(response.content))  # type: ignore[arg-type]
    assert response.status_code == 500
    assert fault is not None and fault.code == "Server"
    assert fault.detail_name == "NoSuchContextException"
    assert fault.message.startswith("Context 999 does not exist; exceptionId ")


async def test_a_context_unknown_to_a_reseller_is_an_authentication_failure(
    server: MockServer, post: Post
) -> None:
    # Not "no such context": a caller must not learn which contexts exist (reference 1.4).
    body = envelope("listAll", f"<rs:ctx><d:id>999</d:id></rs:ctx>{RESELLER_AUTH}")

    response = await post(server, "OXResellerUserService", body)

    fault = read_fault(read_body(response.content))  # type: ignore[arg-type]
    assert fault is not None and fault.detail_name == "InvalidCredentialsException"
    assert fault.message == "Authentication failed"


async def test_generic_names_out_of_order_are_refused_as_ox_maps_them_by_position(
    server: MockServer, post: Post
) -> None:
    # The one place order matters: SOAP::Lite's c-gensymN carry no name, so OX's
    # ReplacingXMLStreamReader takes the schema's element at that position. Credentials
    # sent first land on ``ctx``, whose Context has no ``login``.
    body = envelope(
        "changeByModuleAccessName",
        "<c-gensym3><login>reseller</login><password>secret</password></c-gensym3>"
        "<c-gensym5><id>1</id></c-gensym5><c-gensym7><name>anna</name></c-gensym7>"
        "<c-gensym9>pim_mobility</c-gensym9>",
    )

    message = await _client_fault(server, post, "OXResellerUserService", body)

    assert message.startswith('Unmarshalling Error: unexpected element (uri:"", local:"login"). ')
    assert _combination(server, "anna") == "pim"

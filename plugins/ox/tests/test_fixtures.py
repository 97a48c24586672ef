"""Byte-level fixtures built from the wire reference: requests a real client sends, and
the exact answers OX gives (reference sections 1.5, 1.6 and 8).

Every request under ``fixtures/`` is sent to the mock holding ``fixtures/seed.json``; the
answer must equal the ``.response.xml`` beside it byte for byte. The same answers, read
by the provider's SOAP client, must become the right typed errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest
from mailadmin_ox.client import USER, OXSoap
from mailadmin_ox.faults import fault_text, to_error

from mailadmin.mock import MockServer
from mailadmin.sdk import SoapFault, Transport, errors, read_envelope, read_fault

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from conftest import Load, Post


def read_body(content: bytes) -> Element | None:
    """The first element of an answer's SOAP body."""
    return read_envelope(content, source="test").body


# fixture name -> (service it is sent to, error the provider raises for the answer,
#                  words the user-safe message contains)
FAULTS: dict[str, tuple[str, type[errors.MailadminError], str]] = {
    "auth_failed": ("OXUserService", errors.AuthenticationError, "rejected"),
    "auth_unknown_context": ("OXUserService", errors.AuthenticationError, "rejected"),
    "auth_failed_for_user": ("OXUserService", errors.AuthenticationError, "rejected"),
    "credential_null": ("OXUserService", errors.AuthenticationError, "no credentials"),
    "reseller_auth_failed": ("OXResellerService", errors.AuthenticationError, "sub-admin"),
    "no_such_user_id": ("OXUserService", errors.NotFoundError, "does not exist"),
    "no_such_user_name": ("OXUserService", errors.NotFoundError, "does not exist"),
    "user_does_not_exist": ("OXUserService", errors.NotFoundError, "does not exist"),
    "no_such_access_combination": ("OXUserService", errors.ConfigurationError, "'platinum'"),
    "null_access_combination": ("OXUserService", errors.ValidationError, "empty"),
    "user_exists": ("OXUserService", errors.ConflictError, "already exists"),
    "max_users_per_context": ("OXUserService", errors.QuotaExceeded, "user limit of 5"),
    "max_users_by_moduleaccess_per_context": (
        "OXUserService",
        errors.QuotaExceeded,
        "limit for this plan of 1",
    ),
    "max_overall_users": ("OXUserService", errors.QuotaExceeded, "overall user limit of 7"),
    "max_overall_users_by_moduleaccess": (
        "OXUserService",
        errors.QuotaExceeded,
        "overall limit for this plan of 1",
    ),
    "max_contexts": ("OXResellerContextService", errors.QuotaExceeded, "context limit of 2"),
    "still_owns_contexts": ("OXResellerService", errors.ConflictError, "still owns"),
}

SUCCESS = {
    "change_by_module_access_name.qualified": "change_by_module_access_name",
    "change_by_module_access_name.unqualified": "change_by_module_access_name",
    "get_access_combination_name": "get_access_combination_name",
    "get_access_combination_name.nil": "get_access_combination_name.nil",
}


@pytest.mark.parametrize("request_name", sorted(SUCCESS))
async def test_the_mock_answers_byte_for_byte(
    server: MockServer, request_name: str, load: Load, post: Post
) -> None:
    response = await post(server, "OXUserService", load(f"{request_name}.request.xml"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content == load(f"{SUCCESS[request_name]}.response.xml")


@pytest.mark.parametrize("form", ["qualified", "unqualified"])
async def test_both_forms_of_the_plan_switch_change_the_user(
    server: MockServer, form: str, load: Load, post: Post
) -> None:
    await post(server, "OXUserService", load(f"change_by_module_access_name.{form}.request.xml"))

    john = server.state.contexts[42].user_named("john")  # type: ignore[attr-defined]
    assert server.state.combination_of(john.access) == "pim_mobility"  # type: ignore[attr-defined]


def test_the_void_answer_is_an_empty_body(load: Load) -> None:
    assert read_body(load("change_by_module_access_name.response.xml")) is None


@pytest.mark.parametrize("name", sorted(FAULTS))
async def test_every_fault_row_is_answered_exactly(
    server: MockServer, name: str, load: Load, post: Post
) -> None:
    service = FAULTS[name][0]

    response = await post(server, service, load(f"faults/{name}.request.xml"))

    assert response.status_code == 500
    assert response.content == load(f"faults/{name}.response.xml")


@pytest.mark.parametrize("name", sorted(FAULTS))
async def test_every_fault_row_becomes_its_typed_error(name: str, load: Load) -> None:
    _, expected, words = FAULTS[name]
    body = load(f"faults/{name}.response.xml")
    transport = Transport(
        "http://ox.test",
        name="ox-test",
        backend=httpx.MockTransport(lambda request: httpx.Response(500, content=body)),
        retries=0,
    )

    with pytest.raises(errors.MailadminError) as caught:
        await OXSoap(transport, name="ox-test").call(USER, "getData", [], write=False)
    await transport.aclose()

    error = caught.value
    assert type(error) is expected
    assert words in error.message
    fault = read_fault(read_body(body))  # type: ignore[arg-type]
    assert fault is not None
    assert error.debug["faultstring"] == fault.message
    # The user-safe message never repeats OX's text nor names the exception class.
    assert fault_text(fault) not in error.message
    assert "Exception" not in error.message


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_a_fault_without_detail_is_matched_on_its_text(name: str, load: Load) -> None:
    fault = read_fault(read_body(load(f"faults/{name}.response.xml")))  # type: ignore[arg-type]
    assert fault is not None
    bare = SoapFault(fault.code, fault.message)

    assert type(to_error(bare)) is FAULTS[name][1]

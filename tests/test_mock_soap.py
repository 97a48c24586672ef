"""mailadmin.mock.soap: reading a SOAP request once and answering in its version."""

from __future__ import annotations

import httpx
import pytest

from mailadmin.mock import MockRequest
from mailadmin.mock.soap import (
    read_soap,
    request_version,
    soap_fault_response,
    soap_operation,
    soap_response,
)
from mailadmin.wire.soap import (
    EnvelopeError,
    SoapVersion,
    child_text,
    envelope,
    node,
    read_envelope,
    read_fault,
)

A = "urn:example:admin"


def _request(body: bytes, content_type: str = "text/xml") -> MockRequest:
    return MockRequest(
        "POST", "/service", headers=httpx.Headers({"content-type": content_type}), body=body
    )


def test_a_handler_reads_the_operation_and_answers_in_the_requests_version() -> None:
    request = _request(
        envelope(node(A, "GetThing", None, node(A, "id", 7)), version=SoapVersion.SOAP12)
    )

    assert soap_operation(request) == "GetThing"
    message = read_soap(request)
    assert message is read_soap(request)  # parsed once
    assert message.body is not None and child_text(message.body, "id") == "7"

    answer = soap_response(node(A, "GetThingResponse"), version=request_version(request))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/soap+xml; charset=utf-8"
    assert read_envelope(answer.content, source="t").version is SoapVersion.SOAP12


@pytest.mark.parametrize(
    ("version", "kind"),
    [(SoapVersion.SOAP11, "text/xml; charset=UTF-8"), (SoapVersion.SOAP12, "application/soap+xml")],
)
def test_a_fault_response_has_status_500_and_the_versions_content_type(
    version: SoapVersion, kind: str
) -> None:
    response = soap_fault_response(version, "Sender", "bad", detail=node(A, "Oops"))

    assert response.status_code == 500
    assert response.headers["content-type"].startswith(kind)
    fault = read_fault(read_envelope(response.content, source="t").body)
    assert fault is not None and fault.message == "bad" and fault.detail_name == "Oops"
    assert fault.code == ("Client" if version is SoapVersion.SOAP11 else "Sender")


def test_an_unreadable_request_has_no_operation_and_keeps_its_version_from_the_header() -> None:
    request = _request(b"<not-soap/>", "application/soap+xml; charset=utf-8")

    assert soap_operation(request) is None
    with pytest.raises(EnvelopeError) as caught:
        read_soap(request)
    assert caught.value.reason == "not_envelope"
    assert request_version(request) is SoapVersion.SOAP12
    assert request_version(_request(b"x")) is SoapVersion.SOAP11

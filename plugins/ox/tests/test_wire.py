"""The SOAP codec: deterministic envelopes, safe reading, faults and their suffix."""

from __future__ import annotations

import pytest
from mailadmin_ox.namespaces import D, R, S
from mailadmin_ox.wire import (
    Node,
    SoapFault,
    child_text,
    envelope,
    fault_envelope,
    node,
    read_body,
    read_fault,
)

from mailadmin.contract import errors

ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def test_an_envelope_declares_every_namespace_once_with_the_usual_prefixes() -> None:
    body = node(
        S,
        "getData",
        None,
        node(S, "ctx", None, node(D, "id", 42)),
        node(S, "auth", None, node(R, "login", "oxadmin"), node(R, "password", "a<b&c")),
    )

    assert envelope(body) == (
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        b' xmlns:s="http://soap.admin.openexchange.com"'
        b' xmlns:d="http://dataobjects.soap.admin.openexchange.com/xsd"'
        b' xmlns:r="http://dataobjects.rmi.admin.openexchange.com/xsd"><soapenv:Body>'
        b"<s:getData><s:ctx><d:id>42</d:id></s:ctx><s:auth><r:login>oxadmin</r:login>"
        b"<r:password>a&lt;b&amp;c</r:password></s:auth></s:getData></soapenv:Body></soapenv:Envelope>"
    )


def test_values_booleans_nil_and_unqualified_elements() -> None:
    written = envelope(Node(S, "r", children=(node("", "flag", True), Node(S, "none", nil=True))))

    assert b"<flag>true</flag>" in written
    assert b'<s:none xsi:nil="true"/>' in written
    assert b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' in written
    answer = read_body(written)
    assert answer is not None
    assert child_text(answer, "flag") == "true"
    assert child_text(answer, "none") is None


def test_an_empty_body_reads_as_none() -> None:
    assert envelope(None, env_prefix="soap") == (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>'
    )
    assert read_body(envelope(None)) is None


@pytest.mark.parametrize(
    "content",
    [
        b"not xml",
        b"<html><body>502 Bad Gateway</body></html>",
        b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
        b'<e:Envelope xmlns:e="' + ENV.encode() + b'"/>',
        b'<!DOCTYPE e [<!ENTITY x "boom">]><e:Envelope xmlns:e="' + ENV.encode() + b'"/>',
    ],
)
def test_anything_but_a_soap_11_envelope_is_a_protocol_error(content: bytes) -> None:
    with pytest.raises(errors.ProtocolError):
        read_body(content, source="ox-test")


def test_a_fault_is_read_with_its_exception_name() -> None:
    body = fault_envelope(
        "Server", "No such user 7 in context 1; exceptionId -1512-3", S, "NoSuchUserException"
    )

    fault = read_fault(read_body(body))  # type: ignore[arg-type]

    assert fault == SoapFault(
        "Server", "No such user 7 in context 1; exceptionId -1512-3", "NoSuchUserException"
    )
    assert fault.text == "No such user 7 in context 1"


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ("Authentication failed", "Authentication failed"),
        ("Authentication failed; exceptionId 1364817042-12", "Authentication failed"),
        (
            "Maximum number of users per context reached: 5; exceptionId -99-1",
            "Maximum number of users per context reached: 5",
        ),
        ("  padded  ", "padded"),
    ],
)
def test_the_exception_id_suffix_is_dropped(message: str, text: str) -> None:
    assert SoapFault("Server", message).text == text


def test_a_fault_without_detail_has_no_exception_name() -> None:
    fault = read_fault(read_body(fault_envelope("Client", "Unexpected element", None, None)))  # type: ignore[arg-type]

    assert fault == SoapFault("Client", "Unexpected element", None)

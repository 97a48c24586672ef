"""OX's use of the core SOAP codec: its prefixes, its fault suffix, its fault shape."""

from __future__ import annotations

import pytest
from mailadmin_ox.faults import fault_text
from mailadmin_ox.namespaces import PREFIXES, D, R, S

from mailadmin.sdk import (
    SoapFault,
    SoapVersion,
    envelope,
    fault_envelope,
    node,
    read_envelope,
    read_fault,
)


def test_an_ox_envelope_declares_every_namespace_once_with_the_usual_prefixes() -> None:
    body = node(
        S,
        "getData",
        None,
        node(S, "ctx", None, node(D, "id", 42)),
        node(S, "auth", None, node(R, "login", "oxadmin"), node(R, "password", "a<b&c")),
    )

    assert envelope(body, prefixes=PREFIXES) == (
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        b' xmlns:s="http://soap.admin.openexchange.com"'
        b' xmlns:d="http://dataobjects.soap.admin.openexchange.com/xsd"'
        b' xmlns:r="http://dataobjects.rmi.admin.openexchange.com/xsd"><soapenv:Body>'
        b"<s:getData><s:ctx><d:id>42</d:id></s:ctx><s:auth><r:login>oxadmin</r:login>"
        b"<r:password>a&lt;b&amp;c</r:password></s:auth></s:getData></soapenv:Body></soapenv:Envelope>"
    )


def test_an_ox_fault_is_read_with_its_exception_name() -> None:
    body = fault_envelope(
        SoapVersion.SOAP11,
        "Server",
        "No such user 7 in context 1; exceptionId -1512-3",
        detail=node(S, "NoSuchUserException"),
    )

    fault = read_fault(read_envelope(body, source="ox-test").body)

    assert fault is not None
    assert (fault.code, fault.detail_name) == ("Server", "NoSuchUserException")
    assert fault.message == "No such user 7 in context 1; exceptionId -1512-3"
    assert fault_text(fault) == "No such user 7 in context 1"


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
    assert fault_text(SoapFault("Server", message)) == text

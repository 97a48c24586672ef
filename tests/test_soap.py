"""mailadmin.wire.soap: envelopes and faults of both SOAP versions, both ways, and the client."""

from __future__ import annotations

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.wire.soap import (
    XSI,
    EnvelopeError,
    Node,
    SoapClient,
    SoapFault,
    SoapVersion,
    child,
    child_text,
    children,
    content_type,
    envelope,
    fault_envelope,
    is_nil,
    local_name,
    namespace_of,
    node,
    read_envelope,
    read_fault,
    request_headers,
)
from mailadmin.wire.transport import Transport

A = "urn:example:admin"
Z = "urn:zimbra"
ENV11 = "http://schemas.xmlsoap.org/soap/envelope/"
ENV12 = "http://www.w3.org/2003/05/soap-envelope"


def test_a_client_sends_an_operation_and_reads_the_answer() -> None:
    """The first use: write a request, read the answer back by local names."""
    request = envelope(
        node(
            A,
            "GetAccountRequest",
            None,
            node(A, "account", "anna@example.com", attrs={"by": "name"}),
        ),
        header=node(Z, "context", None, node(Z, "authToken", "tok")),
        version=SoapVersion.SOAP12,
        prefixes={A: "a"},
    )

    message = read_envelope(request, source="test")

    assert message.version is SoapVersion.SOAP12
    assert message.header is not None
    context = child(message.header, "context")
    assert context is not None and child_text(context, "authToken") == "tok"
    assert message.body is not None and local_name(message.body.tag) == "GetAccountRequest"
    account = child(message.body, "account")
    assert (
        account is not None and account.get("by") == "name" and account.text == "anna@example.com"
    )


def test_writing_is_byte_stable_with_given_and_generated_prefixes() -> None:
    body = node(A, "op", None, node(Z, "x", 1), node("", "plain", True), Node(A, "none", nil=True))

    written = envelope(body, prefixes={A: "a"})

    assert written == envelope(body, prefixes={A: "a"})
    assert written == (
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        b' xmlns:a="urn:example:admin" xmlns:ns1="urn:zimbra"'
        b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        b'<a:op><ns1:x>1</ns1:x><plain>true</plain><a:none xsi:nil="true"/></a:op>'
        b"</soapenv:Body></soapenv:Envelope>"
    )


def test_an_empty_body_and_a_header_in_both_versions() -> None:
    for version, ns in ((SoapVersion.SOAP11, ENV11), (SoapVersion.SOAP12, ENV12)):
        written = envelope(None, header=node(Z, "context"), version=version, env_prefix="env")
        assert written.startswith(f'<env:Envelope xmlns:env="{ns}"'.encode())
        message = read_envelope(written, source="test")
        assert message.version is version
        assert message.body is None
        assert message.header is not None and len(message.header) == 1


def test_text_and_attributes_are_escaped() -> None:
    written = envelope(node(A, "op", 'a<b&"c"', attrs={"n": "x<y", f"{{{XSI}}}type": "t"}))

    body = read_envelope(written, source="test").body
    assert body is not None
    assert body.text == 'a<b&"c"'
    assert body.get("n") == "x<y"
    assert body.get(f"{{{XSI}}}type") == "t"


def test_any_prefix_and_unqualified_children_are_read() -> None:
    foreign = (
        b'<S:Envelope xmlns:S="http://www.w3.org/2003/05/soap-envelope">'
        b'<S:Header><q:context xmlns:q="urn:zimbra"/></S:Header>'
        b'<S:Body><weird:Op xmlns:weird="urn:example:admin"><name>anna</name>'
        b'<v:value xmlns:v="urn:other" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'
        b' i:nil="true"/></weird:Op></S:Body></S:Envelope>'
    )

    message = read_envelope(foreign, source="test")

    assert message.version is SoapVersion.SOAP12
    assert message.body is not None and namespace_of(message.body.tag) == A
    assert child_text(message.body, "name") == "anna"
    value = child(message.body, "value")
    assert value is not None and is_nil(value)
    assert child_text(message.body, "value") is None
    assert [local_name(e.tag) for e in children(message.body, "name")] == ["name"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<not-xml", "xml"),
        (b"<html><body>oops</body></html>", "not_envelope"),
        (b'<e:Envelope xmlns:e="urn:soap:9"><e:Body/></e:Envelope>', "version"),
        (f'<e:Envelope xmlns:e="{ENV11}"/>'.encode(), "no_body"),
    ],
)
def test_unreadable_messages_say_why(content: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError) as caught:
        read_envelope(content, source="the platform")

    assert caught.value.reason == reason
    assert isinstance(caught.value, errors.ProtocolError)


def test_the_safe_parser_refuses_a_dtd() -> None:
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x "boom">]>'
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>&x;</e:Body>'
        b"</e:Envelope>"
    )

    with pytest.raises(EnvelopeError) as caught:
        read_envelope(hostile, source="evil")

    assert caught.value.reason == "xml"
    assert "refused" in caught.value.message


def test_a_soap11_fault_is_written_and_read_back() -> None:
    written = fault_envelope(
        SoapVersion.SOAP11, "Server", "No such user 3", detail=node(A, "NoSuchUserException")
    )

    assert written == (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b"<soap:Fault><faultcode>soap:Server</faultcode><faultstring>No such user 3</faultstring>"
        b'<detail><ns1:NoSuchUserException xmlns:ns1="urn:example:admin"/></detail>'
        b"</soap:Fault></soap:Body></soap:Envelope>"
    )
    fault = read_fault(read_envelope(written, source="t").body)
    assert fault is not None
    assert (fault.code, fault.message, fault.detail_name) == (
        "Server",
        "No such user 3",
        "NoSuchUserException",
    )
    assert fault.version is SoapVersion.SOAP11
    assert fault.detail is not None and namespace_of(fault.detail.tag) == A


def test_a_soap12_fault_with_subcodes_is_written_and_read_back() -> None:
    detail = node(Z, "Error", None, node(Z, "Code", "account.NO_SUCH_ACCOUNT"))
    written = fault_envelope(
        SoapVersion.SOAP12, "Client", "no such account: x", detail=detail, subcodes=("a:one", "two")
    )

    message = read_envelope(written, source="t")
    assert message.version is SoapVersion.SOAP12
    fault = read_fault(message.body)
    assert fault is not None
    # "Client" is SOAP 1.1's spelling; SOAP 1.2 calls it "Sender".
    assert fault.code == "Sender"
    assert fault.subcodes == ("one", "two")
    assert fault.message == "no such account: x"
    assert fault.detail_name == "Error"
    assert (
        fault.detail is not None and child_text(fault.detail, "Code") == "account.NO_SUCH_ACCOUNT"
    )
    assert b'<soap:Text xml:lang="en">' in written
    bare = fault_envelope(SoapVersion.SOAP12, "Sender", "x", lang=None)
    assert b"<soap:Text>x</soap:Text>" in bare
    bare_fault = read_fault(read_envelope(bare, source="t").body)
    assert bare_fault is not None and bare_fault.message == "x"


def test_a_fault_from_another_stack_is_read() -> None:
    other = (
        b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>'
        b"<env:Fault><env:Code><env:Value>env:Receiver</env:Value></env:Code>"
        b'<env:Reason><env:Text xml:lang="de">kaputt</env:Text></env:Reason></env:Fault>'
        b"</env:Body></env:Envelope>"
    )

    fault = read_fault(read_envelope(other, source="t").body)

    assert fault == SoapFault("Receiver", "kaputt", None, None, (), SoapVersion.SOAP12)


def test_an_ordinary_element_is_no_fault() -> None:
    assert read_fault(read_envelope(envelope(node(A, "Fault")), source="t").body) is None
    assert read_fault(None) is None


def test_content_types_and_headers_of_each_version() -> None:
    assert content_type(SoapVersion.SOAP11) == "text/xml; charset=UTF-8"
    assert content_type(SoapVersion.SOAP11, "urn:x") == "text/xml; charset=UTF-8"
    assert content_type(SoapVersion.SOAP12) == "application/soap+xml; charset=utf-8"
    assert content_type(SoapVersion.SOAP12, "urn:x") == (
        'application/soap+xml; charset=utf-8; action="urn:x"'
    )
    assert request_headers(SoapVersion.SOAP11, "urn:x") == {
        "Content-Type": "text/xml; charset=UTF-8",
        "SOAPAction": '"urn:x"',
    }
    assert request_headers(SoapVersion.SOAP11)["SOAPAction"] == '""'
    assert "SOAPAction" not in request_headers(SoapVersion.SOAP12, "urn:x")


# -- the client ------------------------------------------------------------------------------


def _client(
    answer: httpx.Response, seen: list[httpx.Request], version: SoapVersion
) -> tuple[SoapClient, Transport]:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    transport = Transport(
        "http://soap.test", name="t", backend=httpx.MockTransport(handler), retries=0
    )

    def to_error(fault: SoapFault) -> errors.MailadminError:
        return errors.NotFoundError(f"gone ({fault.code})", debug={"fault": fault.message})

    return SoapClient(transport, name="t", version=version, to_error=to_error), transport


@pytest.mark.parametrize("version", list(SoapVersion))
async def test_the_client_posts_the_envelope_and_returns_the_first_body_element(
    version: SoapVersion,
) -> None:
    seen: list[httpx.Request] = []
    answer = envelope(node(A, "opResponse", None, node(A, "return", 7)), version=version)
    client, transport = _client(httpx.Response(200, content=answer), seen, version)

    result = await client.call(
        "/svc",
        node(A, "op"),
        header=node(Z, "context"),
        write=False,
        operation="op",
        action="urn:op",
    )
    await transport.aclose()

    assert child_text(result, "return") == "7"
    sent = seen[0]
    assert sent.method == "POST" and sent.url.path == "/svc"
    assert sent.headers["content-type"] == content_type(version, "urn:op")
    assert ("soapaction" in sent.headers) is (version is SoapVersion.SOAP11)
    message = read_envelope(sent.content, source="t")
    assert message.version is version and message.header is not None


@pytest.mark.parametrize("version", list(SoapVersion))
async def test_a_fault_becomes_the_plugins_error(version: SoapVersion) -> None:
    body = fault_envelope(version, "Client", "nope")
    client, transport = _client(httpx.Response(500, content=body), [], version)

    with pytest.raises(errors.NotFoundError) as caught:
        await client.call("/svc", node(A, "op"), write=True, idempotent=True, operation="op")
    await transport.aclose()

    assert caught.value.debug["fault"] == "nope"
    assert caught.value.debug["operation"] == "op"


async def test_other_http_errors_are_the_cores() -> None:
    client, transport = _client(
        httpx.Response(403, content=b"<html>forbidden</html>"), [], SoapVersion.SOAP11
    )

    with pytest.raises(errors.AuthenticationError):
        await client.call("/svc", node(A, "op"), write=False, operation="op")
    await transport.aclose()


async def test_an_empty_body_is_none_for_send_and_an_error_for_call() -> None:
    client, transport = _client(httpx.Response(200, content=envelope(None)), [], SoapVersion.SOAP11)

    assert await client.send("/svc", node(A, "op"), write=True, operation="op") is None
    with pytest.raises(errors.ProtocolError):
        await client.call("/svc", node(A, "op"), write=True, operation="op")
    await transport.aclose()


async def test_an_unreadable_success_is_a_protocol_error() -> None:
    client, transport = _client(httpx.Response(200, content=b"<oops/>"), [], SoapVersion.SOAP11)

    with pytest.raises(errors.ProtocolError) as caught:
        await client.call("/svc", node(A, "op"), write=False, operation="op")
    await transport.aclose()

    assert caught.value.debug["operation"] == "op"

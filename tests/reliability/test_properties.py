"""Property-based tests: the SOAP writer and reader round-trip (both versions, envelopes and
faults), the redactor never lets a known secret through in any of its wire forms, model
validation keeps what it accepts and refuses control characters, and a bounded fuzz run
shows the parsers answer anything with a result or a ProtocolError, nothing else."""

from __future__ import annotations

import contextlib
import html
import json
import string
import unicodedata
from urllib.parse import quote, quote_plus
from xml.etree.ElementTree import Element

import pydantic
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mailadmin.contract import errors
from mailadmin.contract.models import AddonRef, MailboxRef
from mailadmin.wire.jsonapi import parse_json
from mailadmin.wire.redaction import MASK, Redactor
from mailadmin.wire.safexml import parse_xml
from mailadmin.wire.soap import (
    Node,
    SoapVersion,
    envelope,
    fault_envelope,
    local_name,
    namespace_of,
    node,
    read_envelope,
    read_fault,
)

# Small and fast: the whole file runs in well under 30 s on two shared cores.
BOUNDED = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

NAMESPACES = st.sampled_from(
    ["", "urn:a", "http://soap.admin.openexchange.com", "urn:zimbraAdmin", "http://x/ns?q=1&r"]
)
XML_NAME = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.-]{0,12}\Z", fullmatch=True).filter(
    lambda n: not n.lower().startswith("xml")
)
# Characters XML 1.0 can carry and that parse back as written (a lone CR becomes LF).
XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff").filter(
        lambda c: c not in "\r"
    )
    | st.sampled_from("\t\n <>&\"'"),
    max_size=40,
)


def _nodes(depth: int = 3) -> st.SearchStrategy[Node]:
    leaf = st.builds(
        lambda ns, name, text: node(ns, name, text),
        NAMESPACES,
        XML_NAME,
        st.none() | XML_TEXT,
    )
    if depth == 0:
        return leaf
    return leaf | st.builds(
        lambda ns, name, kids: node(ns, name, None, *kids),
        NAMESPACES,
        XML_NAME,
        st.lists(_nodes(depth - 1), min_size=1, max_size=3),
    )


NODES = _nodes()
VERSIONS = st.sampled_from(list(SoapVersion))


def _same(written: Node, read: Element) -> None:
    assert local_name(read.tag) == written.name
    assert namespace_of(read.tag) == written.ns
    kids = list(read)
    assert len(kids) == len(written.children)
    if not written.children:
        assert (read.text or "") == (written.text or "")
    for kid, element in zip(written.children, kids, strict=True):
        _same(kid, element)


@BOUNDED
@given(body=NODES, header=st.none() | NODES, version=VERSIONS)
def test_an_envelope_reads_back_as_written(body, header, version):
    message = read_envelope(envelope(body, header=header, version=version), source="p")
    assert message.version is version
    assert message.body is not None
    _same(body, message.body)
    if header is None:
        assert message.header is None
    else:
        assert message.header is not None
        _same(header, next(iter(message.header)))


@BOUNDED
@given(body=NODES, version=VERSIONS)
def test_writing_is_deterministic(body, version):
    assert envelope(body, version=version) == envelope(body, version=version)


CODES = st.sampled_from(["Server", "Client", "Receiver", "Sender", "VersionMismatch"])
_AS_11 = {"Receiver": "Server", "Sender": "Client"}
_AS_12 = {"Server": "Receiver", "Client": "Sender"}


@BOUNDED
@given(
    version=VERSIONS,
    code=CODES,
    message=XML_TEXT,
    detail=st.none() | NODES,
    subcodes=st.lists(XML_NAME, max_size=3),
)
def test_a_fault_reads_back_as_written(version, code, message, detail, subcodes):
    written = fault_envelope(version, code, message, detail=detail, subcodes=subcodes)
    fault = read_fault(read_envelope(written, source="p").body)
    assert fault is not None
    assert fault.version is version
    expected = (_AS_11 if version is SoapVersion.SOAP11 else _AS_12).get(code, code)
    assert fault.code == expected
    assert fault.message == message
    if detail is None:
        assert fault.detail is None and fault.detail_name is None
    else:
        assert fault.detail_name == detail.name
        assert fault.detail is not None
        _same(detail, fault.detail)
    if version is SoapVersion.SOAP12:
        assert fault.subcodes == tuple(subcodes)


# -- the redactor ----------------------------------------------------------------------------

SECRET = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="*"), min_size=6, max_size=24
).filter(lambda s: s.strip() == s and len(set(s)) > 2)
AROUND = st.text(string.ascii_letters + string.digits + " =:&?/<>\"'{},", max_size=30)


def _forms(secret: str) -> list[str]:
    return [
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        html.escape(secret, quote=False),
        html.escape(secret),
        json.dumps(secret)[1:-1],
    ]


@BOUNDED
@given(secret=SECRET, before=AROUND, after=AROUND, form=st.integers(0, 5))
def test_a_known_secret_never_survives_in_any_wire_form(secret, before, after, form):
    redactor = Redactor([secret])
    shown = _forms(secret)[form]
    out = redactor.redact(f"{before}{shown}{after}")
    assert shown not in out
    assert secret not in out


@BOUNDED
@given(
    field=st.sampled_from(["password", "userPassword", "authToken", "client_secret", "api_key"]),
    value=st.text(string.ascii_letters + string.digits + "!#$%()+-.@^_~", min_size=4, max_size=30),
    shape=st.sampled_from(["json", "xml", "query", "attribute"]),
)
def test_a_secret_named_field_is_masked_without_knowing_its_value(field, value, shape):
    def shaped(v: str) -> str:
        return {
            "json": json.dumps({field: v, "other": 1}),
            "xml": f"<ns:{field}>{html.escape(v)}</ns:{field}>",
            "query": f"/login?user=anna&{field}={quote(v)}&x=1",
            "attribute": f'<a {field}="{html.escape(v)}"/>',
        }[shape]

    out = Redactor().redact(shaped(value))
    assert MASK in out
    # Whatever the value, the output is the same as for any other value: nothing of it is
    # left (a plain "value not in out" trips on values that are part of the field name).
    assert out == Redactor().redact(shaped("Zz0placeholder"))


@BOUNDED
@given(text=st.text(string.digits + " ,.;()[]-", max_size=80), secret=SECRET)
def test_text_without_secrets_passes_unchanged(text, secret):
    assume(secret not in text)
    assert Redactor([secret]).redact(text) == text


# -- model validation ------------------------------------------------------------------------

LOCAL = st.from_regex(r"\A[a-z0-9][a-z0-9._+-]{0,30}\Z", fullmatch=True)
DOMAIN = st.from_regex(r"\A[a-z0-9-]{1,20}(\.[a-z0-9-]{1,20}){0,2}\.[a-z]{2,6}\Z", fullmatch=True)
TENANT = {"name": "example.com"}


@BOUNDED
@given(local=LOCAL, domain=DOMAIN, upper=st.booleans(), pad=st.sampled_from(["", " ", "\t"]))
def test_a_mailbox_address_is_kept_normalised_and_round_trips(local, domain, upper, pad):
    address = f"{local}@{domain}"
    given_ = (address.upper() if upper else address).join([pad, pad])
    ref = MailboxRef.model_validate({"tenant": TENANT, "address": given_})
    assert ref.address == address
    assert MailboxRef.model_validate(ref.model_dump()) == ref
    assert ref.local_part == local


@BOUNDED
@given(
    local=LOCAL,
    domain=DOMAIN,
    bad=st.characters(whitelist_categories=("Cc", "Cf")).filter(lambda c: not c.isspace()),
    at=st.integers(0, 30),
)
def test_control_or_invisible_characters_in_an_address_are_refused(local, domain, bad, at):
    at = min(at, len(local))
    address = f"{local[:at]}{bad}{local[at:]}@{domain}"
    with pytest.raises(pydantic.ValidationError):
        MailboxRef.model_validate({"tenant": TENANT, "address": address})


NAME = st.from_regex(r"\A[a-z0-9][a-z0-9_-]{0,15}\Z", fullmatch=True)


@BOUNDED
@given(name=NAME, plan=st.none() | NAME)
def test_an_addon_ref_parses_its_own_text(name, plan):
    ref = AddonRef(name=name, plan=plan)
    assert AddonRef.parse(str(ref)) == ref


@BOUNDED
@given(text=st.text(max_size=30))
def test_addon_parsing_accepts_only_plain_names(text):
    try:
        ref = AddonRef.parse(text)
    except pydantic.ValidationError:
        return
    assert AddonRef.parse(str(ref)) == ref
    for part in (ref.name, ref.plan or "a"):
        assert part == part.lower().strip()
        assert all(unicodedata.category(c) not in ("Cc", "Cf") for c in part)


# -- bounded fuzz run of the parsers ---------------------------------------------------------

VALID_ENVELOPE = envelope(
    node("urn:a", "getDataResponse", None, node("urn:a", "return", None, node("", "id", 2))),
    header=node("urn:a", "session", "s-1"),
)
VALID_JSON = json.dumps(
    {"Body": {"GetAccountResponse": {"account": [{"name": "anna@example.com", "a": [1, 2.5]}]}}}
).encode()


def _mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """``seed`` with a few bytes replaced, inserted or cut."""

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(seed)
        for _ in range(draw(st.integers(1, 6))):
            kind = draw(st.sampled_from(["flip", "insert", "cut"]))
            at = draw(st.integers(0, max(len(data) - 1, 0)))
            if kind == "flip" and data:
                data[at] = draw(st.integers(0, 255))
            elif kind == "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=8))
            elif data:
                del data[at : at + draw(st.integers(1, 16))]
        return bytes(data)

    return mutate()


ANY_BYTES = st.binary(max_size=200)


@settings(max_examples=150, deadline=None, database=None)
@given(content=_mutations(VALID_ENVELOPE) | ANY_BYTES)
def test_fuzz_the_xml_and_soap_readers(content):
    for read in (lambda: parse_xml(content), lambda: read_envelope(content, source="p")):
        with contextlib.suppress(errors.ProtocolError):
            read()
    try:
        message = read_envelope(content, source="p")
    except errors.ProtocolError:
        return
    read_fault(message.body)


@settings(max_examples=150, deadline=None, database=None)
@given(content=_mutations(VALID_JSON) | ANY_BYTES)
def test_fuzz_the_json_parser(content):
    with contextlib.suppress(errors.ProtocolError):
        parse_json(content)


@settings(max_examples=80, deadline=None, database=None)
@given(content=_mutations(VALID_ENVELOPE))
def test_fuzz_the_ox_fault_mapping_and_attribute_reader(content):
    ox_faults = pytest.importorskip("mailadmin_ox.faults")
    ox_client = pytest.importorskip("mailadmin_ox.client")
    try:
        message = read_envelope(content, source="p")
    except errors.ProtocolError:
        return
    fault = read_fault(message.body)
    if fault is not None:
        assert isinstance(ox_faults.to_error(fault), errors.MailadminError)
    ox_client.read_attributes(message.body)

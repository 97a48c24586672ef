"""Values read back from a platform are checked before a write is sent: a plan name that
is no plausible native name, text with control characters or a number beyond any platform's
range stops the call with a ProtocolError, and the mock sees no write."""

from __future__ import annotations

import pytest
from mailadmin_ox.demo import sample_config
from mailadmin_ox.mock.platform import OXMock
from mailadmin_ox.provider import OXProvider

from mailadmin.contract import errors
from mailadmin.contract.change import Change
from mailadmin.contract.provider import Provider
from mailadmin.contract.readback import bounded_int, check_read_value, native_name
from mailadmin.mock import MockServer
from mailadmin.mock.faults import Fault
from mailadmin.wire.soap import SoapVersion, envelope, node

OX_SOAP = "http://soap.admin.openexchange.com"
MAILBOX = {"tenant": {"name": "example.com", "native_id": "1"}, "address": "anna@example.com"}


def test_the_helpers_name_what_they_refuse():
    assert native_name("pim_mobility", what="combination", source="ox") == "pim_mobility"
    assert bounded_int(" 2048 ", what="quota", source="ox", minimum=-1) == 2048
    with pytest.raises(errors.ProtocolError, match="ox reported an unknown combination"):
        native_name("webmail", what="combination", source="ox", known={"pim"})
    for hostile in ("", "pim\u202egnp", "pim\x00", "x" * 300, "<script>", None):
        with pytest.raises(errors.ProtocolError, match="unusable combination"):
            native_name(hostile, what="combination", source="ox")
    for number in ("1" * 40, "1e400", "NaN", -5, True, None):
        with pytest.raises(errors.ProtocolError):
            bounded_int(number, what="quota", source="ox")
    for value in ("a\x1bb", "x" * 5000, 10**30, float("nan")):
        with pytest.raises(errors.ProtocolError):
            check_read_value(value, what="plan", source="ox")
    check_read_value(None, what="plan", source="ox")


def _ox(server: MockServer) -> OXProvider:
    settings = {
        "mode": "context_admin",
        "credentials": {"username": "oxadmin", "secret": "secret"},
        "plans": sample_config()["instances"]["ox"]["plans"],
        "context_id": 1,
    }
    return OXProvider(settings, instance="ox-test", http=server.transport())


@pytest.mark.parametrize(
    "name",
    ["pim\u202e_mobility", "a" * 5000, "pim</return><return>groupware", "pim; DROP"],
    ids=["bidi-override", "huge", "markup", "punctuation"],
)
async def test_ox_refuses_a_hostile_combination_name_before_any_write(name):
    server = MockServer(OXMock)  # anna@example.com is a user of context 1 by default
    answer = envelope(
        node(OX_SOAP, "getAccessCombinationNameResponse", None, node(OX_SOAP, "return", name)),
        version=SoapVersion.SOAP11,
    )
    server.inject(
        Fault(
            kind="status",
            status=200,
            operation="getAccessCombinationName",
            body=answer.decode(),
            content_type="text/xml; charset=UTF-8",
        )
    )
    provider = _ox(server)
    server.clear_requests()
    with pytest.raises(errors.ProtocolError, match="unusable access combination"):
        await provider.set_plan(MAILBOX, "collaborate")
    await provider.aclose()
    assert server.requests, "the read was made"
    assert [r for r in server.requests if r.write] == []


class _Garbage(Provider):
    """A provider that builds a change on whatever the platform reported (no name: the
    contract does not ask it to implement the other operations)."""

    reported: object = None

    async def _set_plan(self, mailbox, plan):  # type: ignore[no-untyped-def]
        async def apply() -> None:
            raise AssertionError("a write was sent")

        return await self.change(
            Change(subject=mailbox.address, before=self.reported, after=plan, apply=apply)
        )


@pytest.mark.parametrize("reported", ["mail\x1b[2J", "x" * 2000, 10**18])
async def test_the_change_pattern_refuses_garbage_before_for_every_plugin(reported):
    provider = _Garbage(
        {"endpoint": "http://reference.invalid", "plans": {"sync": {}}}, instance="g"
    )
    provider.reported = reported
    with pytest.raises(errors.ProtocolError, match="g reported an unusable current value"):
        await provider.set_plan(MAILBOX, "sync")

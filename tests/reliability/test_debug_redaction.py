"""Debug text never carries a known secret: a SOAP fault that echoes the request (the admin
password in clear and inside the echoed XML) reaches ``error.debug``, ``--debug`` output
and DEBUG log records masked."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from mailadmin_ox.demo import sample_config
from mailadmin_ox.mock.platform import OXMock
from mailadmin_ox.provider import OXProvider

from mailadmin.contract import errors
from mailadmin.mock import MockServer
from mailadmin.mock.faults import Fault
from mailadmin.wire.redaction import RedactingFilter
from mailadmin.wire.soap import SoapVersion, fault_envelope, node

SECRET = "Adm1n-Pw-4417-zq"
MAILBOX = {"tenant": {"name": "example.com", "native_id": "1"}, "address": "anna@example.com"}


def echoing_fault() -> str:
    """What a careless server answers: the fault string repeats the request it got."""
    echoed = (
        "<auth><login>oxadmin</login><password>" + SECRET + "</password></auth>"
        f" (login oxadmin:{SECRET})"
    )
    return fault_envelope(
        SoapVersion.SOAP11,
        "Server",
        f"Authentication failed; request was {echoed}",
        detail=node("http://exceptions.rmi.admin.openexchange.com/", "Exception", echoed),
    ).decode()


@pytest.fixture
def provider():
    server = MockServer(OXMock)
    server.inject(
        Fault(
            kind="status",
            status=500,
            operation="getAccessCombinationName",
            body=echoing_fault(),
            content_type="text/xml; charset=UTF-8",
        )
    )
    settings = {
        "mode": "context_admin",
        "credentials": {"username": "oxadmin", "secret": SECRET},
        "plans": sample_config()["instances"]["ox"]["plans"],
        "context_id": 1,
    }
    return OXProvider(settings, instance="ox-test", http=server.transport())


async def test_a_fault_echoing_the_request_leaves_no_secret_in_the_error(provider, caplog):
    caplog.set_level(logging.DEBUG, "mailadmin")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logging.getLogger("mailadmin").addHandler(handler)
    try:
        with pytest.raises(errors.MailadminError) as caught:
            await provider.set_plan(MAILBOX, "sync")
    finally:
        logging.getLogger("mailadmin").removeHandler(handler)
        await provider.aclose()
    error = caught.value
    shown = json.dumps(error.debug, default=str)
    assert "Authentication failed" in shown  # the fault text is there, masked
    assert "***" in shown
    for text in (str(error), repr(error), shown, caplog.text, stream.getvalue()):
        assert SECRET not in text


async def test_the_cli_debug_output_of_such_a_fault_is_masked(provider, capsys):
    from mailadmin.cli.output import Output

    with pytest.raises(errors.MailadminError) as caught:
        await provider.set_plan(MAILBOX, "sync")
    await provider.aclose()
    for as_json in (False, True):
        Output(as_json=as_json, debug=True).error(caught.value)
        out, err = capsys.readouterr()
        assert "request_id" in out + err
        assert SECRET not in out + err


def _zextras(secret: str) -> tuple[Any, Any, dict[str, Any]]:
    from mailadmin_zextras.demo import sample_config
    from mailadmin_zextras.mock.platform import ZextrasMock
    from mailadmin_zextras.provider import ZextrasProvider

    server = MockServer(ZextrasMock)  # the fault answers before any sign-in is checked
    instance = sample_config()["instances"]["zextras"]
    settings = {k: v for k, v in instance.items() if k != "provider"}
    settings["credentials"] = {"username": "admin@example.com", "secret": secret}
    provider = ZextrasProvider({**settings, "retries": 0}, instance="zx", http=server.transport())
    return server, provider, {"tenant": {"name": "example.com"}, "address": "anna@example.com"}


def _exchange(secret: str) -> tuple[Any, Any, dict[str, Any]]:
    from mailadmin_exchange.mock.model import DEFAULT_TENANT, DEFAULT_TENANT_ID
    from mailadmin_exchange.mock.platform import ExchangeMock
    from mailadmin_exchange.provider import ExchangeProvider

    server = MockServer(ExchangeMock)
    settings = {
        "tenant": DEFAULT_TENANT,
        "tenant_id": DEFAULT_TENANT_ID,
        "credentials": {"username": "mock-client", "secret": secret},
        "plans": {
            "mail": {"quota_mb": 2048, "features": {"activesync": False, "mapi": False}},
            "sync": {"quota_mb": 5120, "features": {"activesync": True, "mapi": False}},
            "collaborate": {"quota_mb": 10240, "features": {}},
        },
        "retries": 0,
    }
    provider = ExchangeProvider(settings, instance="ex", http=server.transport())
    return (
        server,
        provider,
        {"tenant": {"name": DEFAULT_TENANT}, "address": f"anna@{DEFAULT_TENANT}"},
    )


@pytest.mark.parametrize(
    ("make", "operation"),
    [(_zextras, None), (_exchange, "get-mailbox")],
    ids=["zextras", "exchange"],
)
async def test_json_plugins_keep_an_echoed_secret_out_of_errors_and_logs(make, operation, caplog):
    pytest.importorskip("mailadmin_zextras" if make is _zextras else "mailadmin_exchange")
    caplog.set_level(logging.DEBUG, "mailadmin")
    server, provider, mailbox = make(SECRET)
    echo = json.dumps(
        {
            "error": {
                "code": "InternalServerError",
                "message": f"failed for credentials {SECRET}",
                "innererror": {"request": f"client_secret={SECRET}&password={SECRET}"},
            },
            "Body": {"Fault": {"Reason": {"Text": f"bad login {SECRET}"}}},
        }
    )
    server.inject(
        Fault(
            kind="status",
            status=500,
            operation=operation,
            body=echo,
            content_type="application/json",
        )
    )
    try:
        with pytest.raises(errors.MailadminError) as caught:
            await provider.set_plan(mailbox, "sync")
    finally:
        await provider.aclose()
    error = caught.value
    shown = json.dumps(error.debug, default=str)
    assert error.debug, "the debug detail is kept"
    for text in (str(error), repr(error), shown, caplog.text):
        assert SECRET not in text

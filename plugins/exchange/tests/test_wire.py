"""Reading the admin API's and Graph's answers, built from the reference's captures, and
mapping each error form to a typed, user-safe error (reference 1.5, 1.7, 3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from mailadmin_exchange.wire import (
    ADMIN_ERRORS,
    GRAPH_ERRORS,
    cmdlet_body,
    read_admin,
    read_cmdlet_fault,
)

from mailadmin.sdk import errors

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_json(name: str) -> Any:
    """A captured answer under ``fixtures/`` (built from the reference's examples)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _answer(status: int, body: object = None, **headers: str) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.Response(status, content=body, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def test_the_cmdlet_body_always_has_a_parameters_object() -> None:
    assert cmdlet_body("Get-MailboxPlan") == {
        "CmdletInput": {"CmdletName": "Get-MailboxPlan", "Parameters": {}}
    }
    assert cmdlet_body("New-Mailbox", {"Name": "sales", "Shared": True}) == {
        "CmdletInput": {
            "CmdletName": "New-Mailbox",
            "Parameters": {"Name": "sales", "Shared": True},
        }
    }


def test_a_captured_get_mailbox_answer_reads_without_annotations() -> None:
    answer = read_admin(fixture_json("get_mailbox.response.json"), source="exchange")
    assert answer.warnings == () and answer.next_link is None
    (row,) = answer.value
    assert row["RecipientTypeDetails"] == "UserMailbox"
    assert row["ProhibitSendReceiveQuota"] == "100 GB (107,374,182,400 bytes)"
    assert not [key for key in row if "@" in key]


def test_the_no_change_warning_is_recognised() -> None:
    answer = read_admin(fixture_json("set_mailbox.no_change.response.json"), source="exchange")
    assert answer.unchanged and answer.value == []


def test_a_legacy_next_link_key_is_followed_too() -> None:
    answer = read_admin({"value": [], "odata.nextLink": "https://x/next"}, source="exchange")
    assert answer.next_link == "https://x/next"


def test_an_answer_without_rows_is_a_protocol_error() -> None:
    with pytest.raises(errors.ProtocolError):
        read_admin({"value": "nope"}, source="exchange")


def test_details_message_is_split_into_id_type_and_text() -> None:
    fault = read_cmdlet_fault(fixture_json("remove_mailbox.not_found.response.json"))
    assert fault is not None
    assert fault.error_id == "Ex6F9304"
    assert fault.short_type == "ManagementObjectNotFoundException"
    assert fault.text.startswith("The operation couldn't be performed because object")


def test_an_empty_error_id_is_kept_empty() -> None:
    fault = read_cmdlet_fault(fixture_json("get_mailbox.ambiguous.response.json"))
    assert fault is not None
    assert (fault.error_id, fault.short_type) == ("", "AmbiguousParameterSetException")


def test_without_details_the_internal_exception_is_used() -> None:
    fault = read_cmdlet_fault(fixture_json("get_mailbox.bad_enum.response.json"))
    assert fault is not None
    assert fault.text.startswith("Cannot bind parameter 'RecipientTypeDetails'")


def test_without_either_the_outer_message_is_used() -> None:
    fault = read_cmdlet_fault({"error": {"code": "BadRequest", "message": "Invalid Operation"}})
    assert fault is not None and fault.text == "Invalid Operation"


def test_the_json_details_form_is_read_as_well() -> None:
    body = {"error": {"details": [{"message": '{"Message":"Nope.","TypeName":"X.Y.Boom"}'}]}}
    fault = read_cmdlet_fault(body)
    assert fault is not None and (fault.text, fault.short_type) == ("Nope.", "Boom")


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (404, fixture_json("remove_mailbox.not_found.response.json"), errors.NotFoundError),
        (400, fixture_json("get_mailbox.bad_enum.response.json"), errors.ValidationError),
        (400, fixture_json("get_mailbox.ambiguous.response.json"), errors.ValidationError),
        (401, None, errors.AuthenticationError),
        (403, b"\x00" * 16, errors.AuthenticationError),
        (503, b"", errors.Unavailable),
        (400, b"<html>oops</html>", errors.ProviderError),
    ],
)
def test_admin_errors_map_to_typed_errors(status: int, body: object, kind: type) -> None:
    error = ADMIN_ERRORS.error_for(
        _answer(status, body), provider="exchange", subject="Remove-Mailbox x@contoso.com"
    )
    assert isinstance(error, kind)
    assert "Traceback" not in str(error) and str(error).startswith("exchange")


def test_a_403_with_a_nul_body_names_the_role_not_a_crash() -> None:
    error = ADMIN_ERRORS.error_for(
        _answer(403, b"\x00" * 16), provider="exchange", subject="Get-User"
    )
    assert error is not None
    assert "role" in str(error) and "Get-User" in str(error)


def test_the_platforms_text_stays_in_debug() -> None:
    body = fixture_json("remove_mailbox.not_found.response.json")
    error = ADMIN_ERRORS.error_for(_answer(404, body), provider="exchange", subject="x")
    assert error is not None and "couldn't be found" not in str(error)
    assert error.debug["code"] == "ManagementObjectNotFoundException"


def test_a_429_carries_retry_after() -> None:
    error = ADMIN_ERRORS.error_for(_answer(429, b"busy", **{"Retry-After": "41"}), provider="e")
    assert isinstance(error, errors.RateLimited) and error.retry_after == 41


def test_graph_no_free_licence_is_quota_exceeded() -> None:
    body = fixture_json("assign_license.no_seats.response.json")
    error = GRAPH_ERRORS.error_for(_answer(400, body), provider="exchange", subject="anna")
    assert isinstance(error, errors.QuotaExceeded)
    assert "no free licence" in str(error)


def test_graph_invalid_usage_location_is_a_validation_error() -> None:
    body = fixture_json("assign_license.usage_location.response.json")
    error = GRAPH_ERRORS.error_for(_answer(400, body), provider="exchange", subject="anna")
    assert isinstance(error, errors.ValidationError)
    assert "usage location" in str(error)


def test_graph_throttling_carries_retry_after() -> None:
    body = {"error": {"code": "TooManyRequests", "message": "Too many requests"}}
    error = GRAPH_ERRORS.error_for(_answer(429, body, **{"Retry-After": "5"}), provider="e")
    assert isinstance(error, errors.RateLimited) and error.retry_after == 5

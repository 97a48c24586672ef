"""AnswerCheck: success, refusal or "unknown" read from an answer's body (refusals in a 200)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.sdk import AnswerCheck, ErrorRule, ErrorTable, JsonClient, Refusal, Verdict
from mailadmin.wire.transport import Transport

ERRORS = ErrorTable(
    [
        ErrorRule(code="object_exists", error=errors.ConflictError, message="{subject} exists"),
        ErrorRule(
            code="max_mailbox_exceeded",
            error=errors.QuotaExceeded,
            message="{provider}: the mailbox limit is reached",
        ),
        # A status-bound rule still maps its code when the refusal comes inside a 200.
        ErrorRule(status=500, code="NO_SUCH", error=errors.NotFoundError, message="no {subject}"),
    ]
)


def _refusal(body: Any) -> Refusal | None:
    # mailcow-style: a list of entries, a refusal is an entry of type "danger".
    if isinstance(body, list):
        for entry in body:
            if isinstance(entry, dict) and entry.get("type") in ("danger", "error"):
                msg = entry.get("msg")
                code = msg[0] if isinstance(msg, list) and msg else msg
                return Refusal(code=str(code), message=str(msg))
    return None


def _expected(body: Any, operation: str) -> bool:
    word = {"add_mailbox": "mailbox_added", "edit_mailbox": "mailbox_modified"}.get(operation)
    return isinstance(body, list) and any(
        isinstance(e, dict) and isinstance(e.get("msg"), list) and e["msg"][:1] == [word]
        for e in body
    )


ANSWERS = AnswerCheck(refusal=_refusal, errors=ERRORS, expected=_expected)


def test_an_answer_reads_as_ok_refused_or_unknown() -> None:
    ok = ANSWERS.read(
        [{"type": "success", "msg": ["mailbox_added", "a@x.org"]}],
        provider="mc",
        operation="add_mailbox",
    )
    assert ok.verdict is Verdict.OK and ok.ok and ok.value()[0]["type"] == "success"

    refused = ANSWERS.read(
        [{"type": "danger", "msg": ["max_mailbox_exceeded", 10, 10]}],
        provider="mc",
        operation="add_mailbox",
        subject="a@x.org",
        write=True,
    )
    assert refused.verdict is Verdict.REFUSED
    assert refused.refusal == Refusal("max_mailbox_exceeded", "['max_mailbox_exceeded', 10, 10]")
    with pytest.raises(errors.QuotaExceeded, match="mc: the mailbox limit is reached") as caught:
        refused.value()
    assert caught.value.debug["code"] == "max_mailbox_exceeded"
    assert "platform_message" in caught.value.debug


def test_an_answer_of_another_operation_after_a_write_is_unknown_not_changed() -> None:
    """The write may or may not have landed: OutcomeUnknown, so nothing reports changed."""
    other = [{"type": "success", "msg": ["mailbox_modified", "a@x.org"]}]
    reading = ANSWERS.read(
        other, provider="mc", operation="add_mailbox", subject="a@x.org", write=True
    )
    assert reading.verdict is Verdict.UNKNOWN
    with pytest.raises(errors.OutcomeUnknown) as caught:
        reading.value()
    assert "a@x.org" in str(caught.value) and "mailbox_modified" not in str(caught.value)
    # The same answer to a read is simply unreadable.
    with pytest.raises(errors.ProtocolError):
        ANSWERS.settle(other, provider="mc", operation="add_mailbox")
    # An unexpected shape too.
    assert ANSWERS.read({"weird": 1}, provider="mc", operation="edit_mailbox").verdict == "unknown"


def test_a_status_bound_code_and_an_unknown_code_both_map() -> None:
    check = AnswerCheck(
        refusal=lambda body: Refusal(code=body.get("fault")) if "fault" in body else None,
        errors=ERRORS,
    )
    with pytest.raises(errors.NotFoundError, match="no anna"):
        check.settle({"fault": "NO_SUCH"}, provider="zx", subject="anna")
    with pytest.raises(errors.ProviderError, match="zx refused the request for anna") as caught:
        check.settle({"fault": "SOMETHING_NEW"}, provider="zx", subject="anna")
    assert type(caught.value) is errors.ProviderError
    assert check.settle({"fine": 1}, provider="zx") == {"fine": 1}  # no shape check: ok


async def test_the_json_client_checks_every_answer_below_400() -> None:
    answers = iter(
        [
            [{"type": "success", "msg": ["mailbox_added", "a@x.org"]}],
            [{"type": "danger", "msg": ["object_exists", "a@x.org"]}],
            [{"type": "success", "msg": ["mailbox_modified", "a@x.org"]}],
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(answers))

    transport = Transport(
        "https://mc.example.test",
        name="mc",
        backend=httpx.MockTransport(handler),
        secrets=["k3y-value"],
        retries=0,
    )
    api = JsonClient(transport, name="mc", errors=ERRORS, answers=ANSWERS)

    async def add() -> Any:
        return await api.post(
            "/api/v1/add/mailbox", json={}, operation="add_mailbox", subject="a@x.org"
        )

    assert (await add())[0]["type"] == "success"
    with pytest.raises(errors.ConflictError, match="a@x.org exists") as caught:
        await add()
    assert caught.value.debug["status"] == 200 and "object_exists" in caught.value.debug["body"]
    with pytest.raises(errors.OutcomeUnknown):
        await add()


def test_unknown_messages_read_well_without_an_operation_or_subject() -> None:
    check = AnswerCheck(refusal=lambda body: None, errors=ERRORS, expected=lambda b, o: False)
    with pytest.raises(errors.OutcomeUnknown) as caught:
        check.settle({}, provider="mc", write=True)
    assert str(caught.value) == (
        "mc sent an unexpected answer; whether the object was changed is not known"
    )
    with pytest.raises(errors.ProtocolError, match=r"^mc sent an unexpected answer to get_x$"):
        check.settle({}, provider="mc", operation="get_x")

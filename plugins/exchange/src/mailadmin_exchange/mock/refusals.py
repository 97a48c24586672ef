"""How the Exchange Online admin API refuses a plan change (``Set-Mailbox``, the first
write of a quota plan), for the conformance kit's refusal suite: each is the admin API's
OData error envelope, as the mock sends it."""

from __future__ import annotations

from mailadmin.mock import Fault
from mailadmin_exchange.mock.handlers import admin_error
from mailadmin_exchange.mock.state import CmdletError

__all__ = ["LICENCE_REFUSALS", "REFUSALS"]

_WRITE = "set-mailbox"


def _refusal(error: CmdletError, *, status: int | None = None) -> Fault:
    answer = admin_error(error.status, error)
    return Fault(
        kind="status",
        status=status or error.status,
        operation=_WRITE,
        body=answer.content.decode("utf-8"),
        content_type=answer.headers["content-type"],
    )


_NOT_FOUND = CmdletError(
    404,
    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
    "The operation couldn't be performed because object 'anna@contoso.onmicrosoft.com' "
    "couldn't be found on 'AM0PR01MB0001.eurprd01.prod.exchangelabs.com'.",
    error_id="Ex6F9304",
)

#: Refusal kind -> the fault that makes the mock give it (or why it never does).
REFUSALS: dict[str, Fault | str] = {
    "not_found": _refusal(_NOT_FOUND),
    "limit_reached": (
        "Exchange Online refuses a quota above the licence's maximum as invalid data "
        "(DataValidationException), which 'invalid' covers; Set-Mailbox has no other limit"
    ),
    "invalid": _refusal(
        CmdletError(
            400,
            "Microsoft.Exchange.Data.DataValidationException",
            "The value of property 'ProhibitSendReceiveQuota' can't exceed the maximum allowed "
            "by the mailbox's license.",
        )
    ),
    # A gateway in front of the admin API answering the error envelope with 200.
    "refused_in_200": _refusal(_NOT_FOUND, status=200),
    # The rows of Get-Mailbox, where Set-Mailbox returns none.
    "other_operation": Fault.json_answer(
        {
            "@odata.context": "https://outlook.office365.com/adminapi/beta/$metadata#Collection",
            "value": [{"Identity": "anna", "PrimarySmtpAddress": "anna@contoso.onmicrosoft.com"}],
        },
        operation=_WRITE,
    ),
}


_ASSIGN = "assignLicense"


def _graph(status: int, code: str, message: str, *, answer_status: int | None = None) -> Fault:
    body = {"error": {"code": code, "message": message, "innerError": {"date": "2026-01-01"}}}
    return Fault.json_answer(body, status=answer_status or status, operation=_ASSIGN)


_NO_USER = (
    404,
    "Request_ResourceNotFound",
    "Resource 'anna@contoso.onmicrosoft.com' does not exist",
)

#: The same for licence plans, whose plan change is one Graph ``assignLicense``.
LICENCE_REFUSALS: dict[str, Fault | str] = {
    "not_found": _graph(*_NO_USER),
    "limit_reached": _graph(
        400,
        "Request_BadRequest",
        "Subscription with SKU 4b9405b0-7788-4568-add1-99614e613b69 does not have any "
        "available licenses.",
    ),
    "invalid": _graph(
        400,
        "Request_BadRequest",
        "License assignment cannot be done for user with invalid usage location.",
    ),
    "refused_in_200": _graph(*_NO_USER, answer_status=200),
    # subscribedSkus' answer where the user was expected.
    "other_operation": Fault.json_answer(
        {"value": [{"skuId": "4b9405b0-7788-4568-add1-99614e613b69"}]}, operation=_ASSIGN
    ),
}

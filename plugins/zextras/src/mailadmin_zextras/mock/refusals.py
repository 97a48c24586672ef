"""How the Zimbra admin API refuses a plan change (``ModifyAccountRequest``), for the
conformance kit's refusal suite: each is the server's JSON fault, as the mock sends it."""

from __future__ import annotations

from typing import Any

from mailadmin.mock import Fault

__all__ = ["REFUSALS"]

_WRITE = "ModifyAccountRequest"


def _fault(code: str, text: str, *, status: int = 500, sender: bool = True) -> Fault:
    body: dict[str, Any] = {
        "Header": {"context": {"_jsns": "urn:zimbra"}},
        "Body": {
            "Fault": {
                "Code": {"Value": "soap:Sender" if sender else "soap:Receiver"},
                "Reason": {"Text": text},
                "Detail": {"Error": {"Code": code, "Trace": "qtp-mock-1", "_jsns": "urn:zimbra"}},
            }
        },
        "_jsns": "urn:zimbraSoap",
    }
    return Fault.json_answer(body, status=status, operation=_WRITE)


#: Refusal kind -> the fault that makes the mock give it.
REFUSALS: dict[str, Fault | str] = {
    "not_found": _fault("account.NO_SUCH_ACCOUNT", "no such account: anna@example.com"),
    "limit_reached": _fault(
        "account.TOO_MANY_ACCOUNTS", "number of accounts reached the limit: max=10, current=10"
    ),
    "invalid": _fault(
        "account.INVALID_ATTR_VALUE", "invalid attribute value: zimbraCOSId must be a valid id"
    ),
    # A proxy in front of the server, or an older release, answers the fault with 200.
    "refused_in_200": _fault(
        "account.NO_SUCH_ACCOUNT", "no such account: anna@example.com", status=200
    ),
    "other_operation": Fault.json_answer(
        {"Body": {"GetVersionInfoResponse": {"info": {"version": "10.1.0"}}}}, operation=_WRITE
    ),
}

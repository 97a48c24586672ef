"""How OX refuses a plan change (``changeByModuleAccessName``), for the conformance kit's
refusal suite: each is the SOAP 1.1 fault the mock (and CXF) sends."""

from __future__ import annotations

from mailadmin.mock import Fault
from mailadmin.sdk import Node, SoapVersion
from mailadmin_ox.mock.platform import _fault_response
from mailadmin_ox.mock.state.base import OXFault
from mailadmin_ox.namespaces import RS, S

__all__ = ["REFUSALS"]

_WRITE = "changeByModuleAccessName"


def _fault(exception: str, message: str, *, namespace: str = S, status: int = 500) -> Fault:
    answer = _fault_response(OXFault(exception, message, namespace=namespace))
    return Fault(
        kind="status",
        status=status,
        operation=_WRITE,
        body=answer.content.decode("utf-8"),
        content_type=answer.headers["content-type"],
    )


def _answer_of_another_operation() -> Fault:
    from mailadmin.mock.soap import soap_response

    answer = soap_response(
        Node(S, "getAccessCombinationNameResponse", None, (Node(S, "return", "webmail"),)),
        version=SoapVersion.SOAP11,
    )
    return Fault(
        kind="status",
        status=200,
        operation=_WRITE,
        body=answer.content.decode("utf-8"),
        content_type=answer.headers["content-type"],
    )


#: Refusal kind -> the fault that makes the mock give it.
REFUSALS: dict[str, Fault | str] = {
    "not_found": _fault(
        "NoSuchUserException", "No such user 7 in context 1; exceptionId 1151239261-40"
    ),
    "limit_reached": _fault(
        "OXResellerException",
        "Maximum number of users by moduleaccess per context reached: 10; "
        "exceptionId 1151239261-41",
        namespace=RS,
    ),
    "invalid": _fault(
        "InvalidDataException", "Invalid data sent: mail address; exceptionId 1151239261-42"
    ),
    "refused_in_200": _fault(
        "NoSuchUserException", "No such user 7 in context 1; exceptionId 1151239261-43", status=200
    ),
    "other_operation": _answer_of_another_operation(),
}

"""How the memory platform refuses a plan change, for the conformance kit's refusal suite.

Each value is the mock's own answer to the plan write (route ``change_plan``), so the kit
can check the provider reads it as the right typed error and reports nothing as changed.
"""

from __future__ import annotations

from mailadmin.mock.faults import Fault
from mailadmin.reference.mock.handlers import STATUS

__all__ = ["REFUSALS"]


def _refusal(code: str, message: str) -> Fault:
    return Fault.json_answer(
        {"error": {"code": code, "message": message}},
        status=STATUS[code],
        operation="change_plan",
    )


#: Refusal kind -> the fault that makes the mock give it (or why it never does).
REFUSALS: dict[str, Fault | str] = {
    "not_found": _refusal("mailbox_not_found", "No mailbox anna@example.com"),
    "limit_reached": _refusal("allocation_exceeded", "No seats of this plan are left"),
    "invalid": _refusal("invalid_request", "'quota_mb' must be a whole number, 0 or more"),
    "refused_in_200": "the memory platform answers every refusal with a 4xx status",
    # The answer of get_mailbox, where the plan change's was expected.
    "other_operation": Fault.json_answer(
        {"address": "anna@example.com", "kind": "user", "plan": "basic", "quota_mb": 1024},
        operation="change_plan",
    ),
}

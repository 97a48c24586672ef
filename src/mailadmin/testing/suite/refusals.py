"""Refusals are never reported as done: each refusal the platform can give, injected
through the mock's faults into a plan change, must come back as its typed error, and the
platform must still hold the old plan.

The target declares how its mock gives each refusal, in the platform's own wire shape
(``ConformanceTarget.refusals``), or why the platform cannot give it::

    refusals={
        "not_found": Fault(kind="status", status=404, operation="set_plan",
                           body='{"error": {"code": "account_not_found"}}',
                           content_type="application/json"),
        "refused_in_200": "the platform refuses with 4xx statuses only",
        ...
    }

Kinds and the errors they must raise:

- ``not_found``: the mailbox is gone when the write arrives: ``NotFoundError``;
- ``limit_reached``: a platform limit refuses the write: ``QuotaExceeded``;
- ``invalid``: the platform refuses a value as invalid: ``ValidationError``;
- ``refused_in_200``: a refusal inside an HTTP 200 answer: a typed refusal (any provider
  error but ``ProtocolError``, ``OutcomeUnknown``, ``Unavailable``, ``RateLimited``);
- ``other_operation``: the answer of another operation: ``OutcomeUnknown`` or
  ``ProtocolError`` (nobody can say the write landed, so it is not ``changed``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from mailadmin.contract import errors
from mailadmin.testing.suite._checks import async_test
from mailadmin.testing.suite.failures import _assert_safe

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness

__all__ = ["REFUSAL_KINDS", "RefusalSuite"]

#: Every refusal kind the kit injects: kind -> the errors it may raise.
REFUSAL_KINDS: dict[str, tuple[type[errors.MailadminError], ...]] = {
    "not_found": (errors.NotFoundError,),
    "limit_reached": (errors.QuotaExceeded,),
    "invalid": (errors.ValidationError,),
    "refused_in_200": (errors.ProviderError, errors.ValidationError),
    "other_operation": (errors.OutcomeUnknown, errors.ProtocolError),
}
# A refusal inside a 200 must be read as a refusal, not as an unreadable answer or a
# failure of the platform.
_NOT_A_REFUSAL = (
    errors.ProtocolError,
    errors.OutcomeUnknown,
    errors.Unavailable,
    errors.RateLimited,
)


class RefusalSuite:
    """A platform's refusal is the caller's typed error, never a ``changed`` result."""

    @async_test
    async def test_not_found_on_the_write_is_not_found(self, mailadmin_harness: Harness) -> None:
        """The write is answered "no such mailbox": ``NotFoundError``, plan unchanged."""
        await _refused(mailadmin_harness, "not_found")

    @async_test
    async def test_a_limit_on_the_write_is_quota_exceeded(self, mailadmin_harness: Harness) -> None:
        """The write is refused by a platform limit: ``QuotaExceeded``, plan unchanged."""
        await _refused(mailadmin_harness, "limit_reached")

    @async_test
    async def test_invalid_data_is_a_validation_error(self, mailadmin_harness: Harness) -> None:
        """The platform refuses a value as invalid: ``ValidationError``, plan unchanged."""
        await _refused(mailadmin_harness, "invalid")

    @async_test
    async def test_a_refusal_inside_a_200_is_a_refusal(self, mailadmin_harness: Harness) -> None:
        """A refusal in an HTTP 200 answer's body: its typed error, plan unchanged."""
        await _refused(mailadmin_harness, "refused_in_200")

    @async_test
    async def test_an_answer_of_another_operation_is_not_changed(
        self, mailadmin_harness: Harness
    ) -> None:
        """The write is answered as another operation: ``OutcomeUnknown`` (or
        ``ProtocolError``), never ``changed``; the plan is unchanged."""
        await _refused(mailadmin_harness, "other_operation")


async def _refused(h: Harness, kind: str) -> None:
    declared = h.target.refusals.get(kind)
    if isinstance(declared, str):
        pytest.skip(f"{h.target.provider.name}'s platform cannot refuse with {kind}: {declared}")
    assert declared is not None, (
        f"the target does not say how its mock refuses with {kind!r}: give "
        f"ConformanceTarget(refusals={{{kind!r}: Fault(...)}}) in the platform's wire shape, "
        "or a reason the platform never answers so"
    )
    start, other = h.plans
    await h.provider.set_plan(h.mailbox, start)
    h.mock.inject(declared)
    try:
        result = await h.provider.set_plan(h.mailbox, other)
    except errors.MailadminError as exc:
        allowed = REFUSAL_KINDS[kind]
        assert isinstance(exc, allowed), (
            f"a {kind} refusal raised {type(exc).__name__} ({exc}); expected "
            + " or ".join(e.__name__ for e in allowed)
        )
        if kind == "refused_in_200":
            assert not isinstance(exc, _NOT_A_REFUSAL), (
                f"a refusal inside a 200 was read as {type(exc).__name__} ({exc}), not as "
                "the platform's refusal"
            )
        _assert_safe(exc, h.settings().secrets())
    else:
        raise AssertionError(
            f"set_plan answered {result.outcome.value} although the platform refused the "
            f"write ({kind}): a refusal must raise its typed error"
        )
    if h.platform.available:
        held = h.platform.plan()
        assert held == start, (
            f"after a {kind} refusal the platform holds {held!r} for {h.mailbox.address}, "
            f"not {start!r}: the injected refusal let the write through (check the fault's "
            "operation and that it is not 'handled')"
        )

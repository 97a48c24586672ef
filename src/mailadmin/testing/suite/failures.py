"""Failures arrive as mailadmin's typed errors: wrong secret, unknown mailbox, rate limits,
server errors and broken connections, each provoked through the mock."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from mailadmin.contract import errors
from mailadmin.contract.models import MailboxRef
from mailadmin.mock.faults import Fault, FaultKind
from mailadmin.testing.harness import WRONG_SECRET
from mailadmin.testing.suite._checks import async_test

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness

__all__ = ["FailureSuite"]

#: Longer than the shared transport waits, so a persistent 429 comes back at once.
_LONG_RETRY_AFTER = 3600


class FailureSuite:
    """What the caller gets when the platform says no."""

    @async_test
    async def test_wrong_secret_is_an_authentication_error(
        self, mailadmin_harness: Harness
    ) -> None:
        """The platform refuses the credentials: ``AuthenticationError``, secret not shown."""
        h = mailadmin_harness
        provider = h.wrong_credentials_provider()
        with pytest.raises(errors.AuthenticationError) as caught:
            await provider.count_mailboxes(h.tenant)
        _assert_safe(caught.value, provider.settings.secrets())

    @async_test
    async def test_connection_check_with_a_wrong_secret_fails(
        self, mailadmin_harness: Harness
    ) -> None:
        """test_connection reports refused credentials (not ``ok``, or the typed error)."""
        h = mailadmin_harness
        provider = h.wrong_credentials_provider()
        try:
            status = await provider.test_connection()
        except errors.AuthenticationError as exc:
            _assert_safe(exc, provider.settings.secrets())
        else:
            assert not status.ok, "test_connection accepted a wrong secret"
            for secret in provider.settings.secrets():
                assert secret not in status.detail

    @async_test
    async def test_unknown_mailbox_is_not_found(self, mailadmin_harness: Harness) -> None:
        """set_plan on a mailbox the platform does not have: ``NotFoundError``."""
        h = mailadmin_harness
        nobody = MailboxRef(tenant=h.tenant, address=h.new_address("nobody"))
        with pytest.raises(errors.NotFoundError) as caught:
            await h.provider.set_plan(nobody, h.plans[0])
        _assert_safe(caught.value, h.settings().secrets())

    @async_test
    async def test_rate_limit_is_rate_limited(self, mailadmin_harness: Harness) -> None:
        """A persistent 429 with Retry-After: ``RateLimited`` carrying the wait."""
        h = mailadmin_harness
        h.mock.inject(Fault(kind=FaultKind.RATE_LIMIT, retry_after=_LONG_RETRY_AFTER))
        with pytest.raises(errors.RateLimited) as caught:
            await h.provider.count_mailboxes(h.tenant)
        assert caught.value.retry_after == _LONG_RETRY_AFTER
        assert caught.value.retryable

    @async_test
    async def test_a_passing_rate_limit_on_a_read_is_retried(
        self, mailadmin_harness: Harness
    ) -> None:
        """One 429 (Retry-After: 0) on a read: the shared transport retries, the read works."""
        h = mailadmin_harness
        expected = await h.provider.count_mailboxes(h.tenant)
        h.mock.inject(Fault(kind=FaultKind.RATE_LIMIT, retry_after=0, calls=frozenset({1})))
        assert await h.provider.count_mailboxes(h.tenant) == expected

    @async_test
    async def test_server_error_is_unavailable(self, mailadmin_harness: Harness) -> None:
        """A 503 from the platform: ``Unavailable`` (retryable)."""
        h = mailadmin_harness
        provider = h.make_provider(h.settings(retries=0))
        h.mock.inject(Fault(kind=FaultKind.STATUS, status=503))
        with pytest.raises(errors.Unavailable) as caught:
            await provider.count_mailboxes(h.tenant)
        assert caught.value.retryable

    @async_test
    async def test_dropped_connection_is_unavailable(self, mailadmin_harness: Harness) -> None:
        """The connection breaks mid-answer: ``Unavailable``."""
        h = mailadmin_harness
        provider = h.make_provider(h.settings(retries=0))
        h.mock.inject(Fault(kind=FaultKind.DROP))
        with pytest.raises(errors.Unavailable):
            await provider.count_mailboxes(h.tenant)


def _assert_safe(error: errors.MailadminError, secrets: list[str]) -> None:
    message = str(error)
    assert message.strip(), "the error has no message"
    assert "Traceback" not in message
    for secret in [*secrets, WRONG_SECRET]:
        assert secret not in message, "the error message shows a secret"
        assert secret not in repr(error.debug), "the error's debug detail shows a secret"

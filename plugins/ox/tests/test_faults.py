"""Mapping OX faults onto mailadmin's typed errors (reference section 1.6)."""

from __future__ import annotations

import pytest
from mailadmin_ox.faults import to_error

from mailadmin.sdk import SoapFault, errors


@pytest.mark.parametrize(
    ("detail", "message", "expected"),
    [
        ("InvalidCredentialsException", "Authentication failed", errors.AuthenticationError),
        (
            "NoSuchContextException",
            "Context 9 does not exist; exceptionId 1-1",
            errors.NotFoundError,
        ),
        (
            "ContextExistsException",
            "Context x already exists; exceptionId 1-1",
            errors.ConflictError,
        ),
        (
            "DatabaseUpdateException",
            "Database is locked or is now beeing updated",
            errors.Unavailable,
        ),
        ("RemoteException", "Connection refused", errors.Unavailable),
        ("StorageException", "SQL error: duplicate key; exceptionId 1-1", errors.ProviderError),
        ("InvalidDataException", "Invalid email address; exceptionId 1-1", errors.ValidationError),
        (
            "InvalidDataException",
            'Primary mail address "a@b.c" already exists in context 1',
            errors.ConflictError,
        ),
        ("OXResellerException", "Something else entirely", errors.ProviderError),
    ],
)
def test_each_exception_maps_to_its_error(detail: str, message: str, expected: type) -> None:
    error = to_error(
        SoapFault("Server", message, detail), provider="ox-eu", operation="OXUserService.change"
    )

    assert type(error) is expected
    assert "ox-eu" in error.message
    assert error.debug == {
        "operation": "OXUserService.change",
        "faultcode": "Server",
        "faultstring": message,
        "exception": detail,
    }


def test_the_detail_wins_over_a_misleading_text() -> None:
    fault = SoapFault("Server", "Authentication failed", "NoSuchUserException")

    assert isinstance(to_error(fault), errors.NotFoundError)


def test_an_unknown_exception_name_is_read_by_its_text() -> None:
    fault = SoapFault(
        "Server", "User jo already exists in this context; exceptionId 5-5", "Exception"
    )

    assert isinstance(to_error(fault), errors.ConflictError)


def test_internal_text_never_reaches_the_user() -> None:
    fault = SoapFault(
        "Server", "SQL error: SELECT * FROM user WHERE cid=1 password=hunter2", "StorageException"
    )

    error = to_error(fault, provider="ox-eu")

    assert "SQL" not in str(error) and "hunter2" not in str(error)
    assert str(error) == "ox-eu could not store or read the data"


def test_client_faults_and_unknown_faults() -> None:
    client = to_error(
        SoapFault("Client", 'Unexpected element "x" (URI=). Please remove that element')
    )
    unknown = to_error(SoapFault("Server", "Something odd"))

    assert type(client) is errors.ProtocolError
    assert type(unknown) is errors.ProviderError
    assert not unknown.retryable

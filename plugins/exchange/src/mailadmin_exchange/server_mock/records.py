"""CLIXML payloads the Exchange Server mock sends: output objects, error and warning records.

Objects are pypsrp's ``GenericComplexObject`` (type names most specific first, adapted
properties in ``<Props>``), records its ``ErrorRecordMessage`` and ``WarningRecord``; the
serialiser that writes them is pypsrp's too. The error record carries what MS-PSRP
2.2.3.15 makes mandatory (``FullyQualifiedErrorId``, ``ErrorCategory_Category``,
``SerializeExtendedInfo``) and the category fields PowerShell renders
(``NotSpecified: (:) [Get-Mailbox], ManagementObjectNotFoundException``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pypsrp.complex_objects import GenericComplexObject
from pypsrp.messages import ErrorRecordMessage, MessageType, WarningRecord

__all__ = ["CmdletFailure", "error_record", "exchange_object", "warning"]

SERVER = "EX1"
DOMAIN_CONTROLLER = "DC1.contoso.local"

#: ErrorCategory values (MS-PSRP 2.2.3.9) the mock uses.
NOT_SPECIFIED = 0
INVALID_ARGUMENT = 5
INVALID_OPERATION = 7
OBJECT_NOT_FOUND = 13
PERMISSION_DENIED = 18
RESOURCE_EXISTS = 20

#: Cmdlet name -> the class Exchange names in FullyQualifiedErrorId.
_TASK_CLASSES = {
    "get-mailbox": "Microsoft.Exchange.Management.RecipientTasks.GetMailbox",
    "set-mailbox": "Microsoft.Exchange.Management.RecipientTasks.SetMailbox",
    "new-mailbox": "Microsoft.Exchange.Management.RecipientTasks.NewMailbox",
    "remove-mailbox": "Microsoft.Exchange.Management.RecipientTasks.RemoveMailbox",
    "get-casmailbox": "Microsoft.Exchange.Management.RecipientTasks.GetCASMailbox",
    "set-casmailbox": "Microsoft.Exchange.Management.RecipientTasks.SetCASMailbox",
    "get-mailboxstatistics": "Microsoft.Exchange.Management.MapiTasks.GetMailboxStatistics",
}


class CmdletFailure(Exception):
    """A cmdlet error: ``exception`` is the .NET type's full name, ``terminating`` makes the
    pipeline Failed (parameter binding) instead of one ERROR_RECORD."""

    def __init__(
        self,
        text: str,
        exception: str,
        *,
        category: int = NOT_SPECIFIED,
        target: str | None = None,
        terminating: bool = False,
    ) -> None:
        super().__init__(text)
        self.text = text
        self.exception = exception
        self.category = category
        self.target = target
        self.terminating = terminating


def exchange_object(
    types: list[str], to_string: str, props: Mapping[str, Any]
) -> GenericComplexObject:
    """An Exchange object: type names from the most specific to ``System.Object``."""
    obj = GenericComplexObject()
    obj.types = [*types, "System.Object"]
    obj.to_string = to_string
    obj.adapted_properties = dict(props)
    return obj


def error_record(cmdlet: str, failure: CmdletFailure) -> ErrorRecordMessage:
    """The ERROR_RECORD Exchange writes for ``failure`` raised by ``cmdlet``."""
    short = failure.exception.rsplit(".", 1)[-1]
    task = _TASK_CLASSES.get(cmdlet.lower(), "Microsoft.Exchange.Management.Tasks")
    stamp = f"[Server={SERVER},RequestId={uuid.uuid4()},TimeStamp=1/1/2026 12:00:00 AM]"
    exception = GenericComplexObject()
    exception.types = [failure.exception, "System.Exception", "System.Object"]
    exception.to_string = f"{failure.exception}: {failure.text}"
    exception.adapted_properties = {"Message": failure.text}
    record = ErrorRecordMessage(
        exception=exception,
        fq_error=f"{stamp} [FailureCategory=Cmdlet-{short}] {_code(failure.text)},{task}",
        category=failure.category,
        activity=cmdlet,
        reason=short,
        target_name=failure.target or "",
        target_type="String" if failure.target else "",
        message=failure.text,
    )
    # pypsrp's ErrorRecord declares a few properties (TargetObject, InvocationInfo, ...)
    # its constructor never sets: they go out as absent (all optional).
    for attribute, _ in record._extended_properties:
        if not hasattr(record, attribute):
            setattr(record, attribute, None)
    record.target_object = failure.target
    record._to_string = failure.text
    return record


def warning(text: str) -> tuple[int, WarningRecord]:
    """A WARNING_RECORD (``ps.streams.warning`` on the client)."""
    record = WarningRecord(message=text, invocation=False)
    return MessageType.WARNING_RECORD, record


def _code(text: str) -> str:
    return f"{uuid.uuid5(uuid.NAMESPACE_OID, text).int & 0xFFFFFFFF:08X}"

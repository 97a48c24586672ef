"""The cmdlets the Exchange Server mock runs, on :class:`ServerState`.

Parameter names follow the cmdlets' documentation (``MicrosoftDocs/office-docs-powershell``,
Exchange Server applicability); the quota, flag and custom-attribute rules are the Online
mock's (one set of rules). A session on Exchange's endpoint is in no-language mode, so
``IsScript`` commands are refused; ``Invoke-Expression`` of a single cmdlet statement and
``Out-String`` are accepted so that pypsrp's ``Client.execute_ps`` (which wraps its script
in them) works against the mock [inferred deviation: a real Exchange session refuses
Invoke-Expression].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pypsrp.complex_objects import GenericComplexObject
from pypsrp.messages import MessageType

from mailadmin_exchange.mock.state import (
    CmdletError,
    _boolean,
    _check_custom_attribute,
    _check_quota_order,
    _set_custom_attribute,
    _size_parameter,
)
from mailadmin_exchange.server_mock import records
from mailadmin_exchange.server_mock.model import OnPremMailbox
from mailadmin_exchange.server_mock.psrp import PipelineRun, Shell, ShellCommand, output, statements
from mailadmin_exchange.server_mock.records import CmdletFailure
from mailadmin_exchange.server_mock.script import ScriptError, parse_statement
from mailadmin_exchange.server_mock.state import ServerState, onprem_mailbox
from mailadmin_exchange.sizes import format_size

__all__ = ["CMDLETS", "run_pipeline"]

_BINDING = "System.Management.Automation.ParameterBindingException"
_NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
_COMMON = {"ErrorAction", "WarningAction", "Verbose", "Debug", "WhatIf", "Confirm"}
_QUOTAS = ("IssueWarningQuota", "ProhibitSendQuota", "ProhibitSendReceiveQuota")
_CAS = {
    "ActiveSyncEnabled": "activesync",
    "OWAEnabled": "owa",
    "MAPIEnabled": "mapi",
    "PopEnabled": "pop",
    "ImapEnabled": "imap",
    "EwsEnabled": "ews",
    "ECPEnabled": "ecp",
}
_MAILBOX_TYPES = [
    "Microsoft.Exchange.Data.Directory.Management.Mailbox",
    "Microsoft.Exchange.Data.Directory.Management.MailEnabledOrgPerson",
    "Microsoft.Exchange.Data.Directory.Management.MailEnabledRecipient",
    "Microsoft.Exchange.Data.Directory.Management.ADPresentationObject",
    "Microsoft.Exchange.Data.Directory.ADObject",
    "Microsoft.Exchange.Data.Directory.ADRawEntry",
    "Microsoft.Exchange.Data.ConfigurableObject",
]
_HOST_PROMPT = (
    "A command that prompts the user failed because the host program or the command type "
    "does not support user interaction. The host was attempting to request confirmation "
    "with the following message: Are you sure you want to perform this action?"
)

Emit = Callable[[tuple[int, Any]], None]
_Cmdlet = Callable[[ServerState, dict[str, Any], Emit], None]


def _bound(cmdlet: str, parameters: Mapping[str, Any], allowed: set[str]) -> dict[str, Any]:
    names = {n.lower(): n for n in allowed | _COMMON}
    bound: dict[str, Any] = {}
    for given, value in parameters.items():
        name = names.get(given.lower())
        if name is None:
            raise CmdletFailure(
                f"A parameter cannot be found that matches parameter name '{given}'.",
                _BINDING,
                category=records.INVALID_ARGUMENT,
                terminating=True,
            )
        bound[name] = value
    return bound


def _identity(parameters: Mapping[str, Any]) -> str:
    identity = parameters.get("Identity")
    if not isinstance(identity, str) or not identity.strip():
        raise CmdletFailure(
            "Cannot process command because of one or more missing mandatory parameters: Identity.",
            _BINDING,
            category=records.INVALID_ARGUMENT,
            terminating=True,
        )
    return identity


def _mailbox(state: ServerState, parameters: Mapping[str, Any]) -> OnPremMailbox:
    identity = _identity(parameters)
    mailbox = state.find(identity)
    if mailbox is None:
        raise CmdletFailure(
            f"The operation couldn't be performed because object '{identity}' couldn't be "
            f"found on '{records.DOMAIN_CONTROLLER}'.",
            _NOT_FOUND,
            target=identity,
        )
    return mailbox


def _size(value: int | None) -> str:
    return "Unlimited" if value is None else format_size(value)


def mailbox_object(mailbox: OnPremMailbox) -> GenericComplexObject:
    """A Mailbox as Get-Mailbox writes it (the properties the mock knows)."""
    props: dict[str, Any] = {
        "Name": mailbox.name,
        "Alias": mailbox.alias,
        "DisplayName": mailbox.display_name,
        "PrimarySmtpAddress": mailbox.address,
        "UserPrincipalName": mailbox.upn if mailbox.type == "UserMailbox" else "",
        "RecipientTypeDetails": mailbox.type,
        "OrganizationalUnit": mailbox.organizational_unit,
        "DistinguishedName": _dn(mailbox),
        "Identity": f"{mailbox.organizational_unit}/{mailbox.name}",
        "AddressBookPolicy": mailbox.address_book_policy,
        "Database": mailbox.database,
        "ExchangeGuid": mailbox.exchange_guid,
        "IssueWarningQuota": _size(mailbox.issue_warning_quota),
        "ProhibitSendQuota": _size(mailbox.prohibit_send_quota),
        "ProhibitSendReceiveQuota": _size(mailbox.prohibit_send_receive_quota),
        "UseDatabaseQuotaDefaults": mailbox.use_database_quota_defaults,
        "ResourceCapacity": mailbox.resource_capacity,
        "AccountDisabled": not mailbox.account_enabled,
        "WhenCreated": mailbox.created,
    }
    for number in range(1, 16):
        props[f"CustomAttribute{number}"] = mailbox.custom_attributes.get(
            f"CustomAttribute{number}", ""
        )
    return records.exchange_object(_MAILBOX_TYPES, props["Identity"], props)


def _dn(mailbox: OnPremMailbox) -> str:
    domain, *ous = mailbox.organizational_unit.split("/")
    parts = [f"CN={mailbox.name}", *(f"OU={ou}" for ou in reversed(ous))]
    parts += [f"DC={dc}" for dc in domain.split(".")]
    return ",".join(parts)


# -- the cmdlets ------------------------------------------------------------------------------


def get_mailbox(state: ServerState, parameters: dict[str, Any], emit: Emit) -> None:
    """Get-Mailbox [-Identity] [-OrganizationalUnit] [-RecipientTypeDetails] [-ResultSize]."""
    if parameters.get("Identity") is not None:
        emit(output(mailbox_object(_mailbox(state, parameters))))
        return
    ou = parameters.get("OrganizationalUnit")
    if ou is not None:
        known = state.known_ou(str(ou))
        if known is None:
            raise CmdletFailure(
                f"The operation couldn't be performed because object '{ou}' couldn't be found "
                f"on '{records.DOMAIN_CONTROLLER}'.",
                _NOT_FOUND,
                target=str(ou),
            )
        ou = known
    kinds = parameters.get("RecipientTypeDetails")
    wanted = None if kinds is None else {str(k).lower() for k in _as_list(kinds)}
    limit = _result_size(parameters.get("ResultSize", 1000))
    shown = 0
    for mailbox in state.mailboxes(ou):
        if wanted is not None and mailbox.type.lower() not in wanted:
            continue
        if limit is not None and shown >= limit:
            emit(
                records.warning(
                    f"By default, only the first {limit} items are returned. Use the ResultSize "
                    "parameter to specify the number of items returned. To return all items, "
                    'specify "-ResultSize Unlimited". Be aware that, depending on the actual '
                    "number of items, returning all items can take a long time and consume a "
                    "large amount of memory. Also, we don't recommend storing the results in a "
                    "variable. Instead, pipe the results to another task or script to perform "
                    "batch changes."
                )
            )
            return
        emit(output(mailbox_object(mailbox)))
        shown += 1


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [v.strip() for v in str(value).split(",")]


def _result_size(value: Any) -> int | None:
    if isinstance(value, str) and value.lower() == "unlimited":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) > 0:
        return int(value)
    raise CmdletFailure(
        f"Cannot process argument transformation on parameter 'ResultSize'. Cannot convert "
        f'value "{value}" to type "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]".',
        _BINDING,
        category=records.INVALID_ARGUMENT,
        terminating=True,
    )


def set_mailbox(state: ServerState, parameters: dict[str, Any], emit: Emit) -> None:
    """Set-Mailbox: quotas, UseDatabaseQuotaDefaults, display name, custom attributes,
    address book policy; warns when nothing changed, as Exchange does."""
    mailbox = _mailbox(state, parameters)
    new = {
        "IssueWarningQuota": mailbox.issue_warning_quota,
        "ProhibitSendQuota": mailbox.prohibit_send_quota,
        "ProhibitSendReceiveQuota": mailbox.prohibit_send_receive_quota,
    }
    for name in _QUOTAS:
        if name in parameters:
            new[name] = _size_parameter(name, parameters[name])
    _check_quota_order(new)
    for name, value in parameters.items():
        if name.startswith("CustomAttribute"):
            _check_custom_attribute(value)
    policy = parameters.get("AddressBookPolicy")
    if policy is not None and policy not in {
        t.address_book_policy for t in state.data.tenants.values()
    }:
        raise CmdletFailure(
            f"The operation couldn't be performed because object '{policy}' couldn't be found "
            f"on '{records.DOMAIN_CONTROLLER}'.",
            _NOT_FOUND,
            target=str(policy),
        )
    before = mailbox.model_dump()
    mailbox.issue_warning_quota = new["IssueWarningQuota"]
    mailbox.prohibit_send_quota = new["ProhibitSendQuota"]
    mailbox.prohibit_send_receive_quota = new["ProhibitSendReceiveQuota"]
    if "UseDatabaseQuotaDefaults" in parameters:
        mailbox.use_database_quota_defaults = _boolean(
            "UseDatabaseQuotaDefaults", parameters["UseDatabaseQuotaDefaults"]
        )
    if "DisplayName" in parameters:
        mailbox.display_name = str(parameters["DisplayName"])
    if "AddressBookPolicy" in parameters:
        mailbox.address_book_policy = policy
    for name, value in parameters.items():
        if name.startswith("CustomAttribute"):
            _set_custom_attribute(mailbox, name, value)
    if mailbox.model_dump() == before:
        emit(
            records.warning(
                "The command completed successfully but no settings of "
                f"'{mailbox.organizational_unit}/{mailbox.name}' have been modified."
            )
        )


def new_mailbox(state: ServerState, parameters: dict[str, Any], emit: Emit) -> None:
    """New-Mailbox: user (UserPrincipalName + Password), -Shared, -Room or -Equipment, in
    an OU, with an address book policy."""
    name = str(parameters.get("Name") or "").strip()
    switches = [s for s in ("Shared", "Room", "Equipment") if parameters.get(s) is True]
    if len(switches) > 1:
        raise CmdletFailure(
            "Parameter set cannot be resolved using the specified named parameters.",
            "System.Management.Automation.ParameterBindingException",
            category=records.INVALID_ARGUMENT,
            terminating=True,
        )
    kind = {"Shared": "SharedMailbox", "Room": "RoomMailbox", "Equipment": "EquipmentMailbox"}.get(
        switches[0] if switches else "", "UserMailbox"
    )
    missing = [p for p in ("Name",) if not name]
    if kind == "UserMailbox":
        missing += [p for p in ("UserPrincipalName", "Password") if not parameters.get(p)]
    if missing:
        raise CmdletFailure(
            "Cannot process command because of one or more missing mandatory parameters: "
            f"{' '.join(missing)}.",
            _BINDING,
            category=records.INVALID_ARGUMENT,
            terminating=True,
        )
    ou = state.known_ou(str(parameters.get("OrganizationalUnit") or "contoso.local/Users"))
    if ou is None:
        given = parameters.get("OrganizationalUnit")
        raise CmdletFailure(
            f"The operation couldn't be performed because object '{given}' couldn't be found "
            f"on '{records.DOMAIN_CONTROLLER}'.",
            _NOT_FOUND,
            target=str(given),
        )
    tenant = state.tenant_of_ou(ou)
    upn = str(parameters.get("UserPrincipalName") or "")
    domain = tenant.domains[0] if tenant and tenant.domains else "contoso.local"
    alias = str(parameters.get("Alias") or (upn.split("@")[0] if upn else name)).lower()
    address = str(parameters.get("PrimarySmtpAddress") or upn or f"{alias}@{domain}").lower()
    accepted = {d.domain_name.lower() for d in state.data.accepted_domains}
    if address.rpartition("@")[2] not in accepted:
        raise CmdletFailure(
            f'The email address "{address}" isn\'t correct. Please use this format: user name, '
            "the @ sign, followed by the domain name. For example, tonysmith@contoso.com or "
            "tony.smith@contoso.com.",
            "Microsoft.Exchange.Data.DataValidationException",
            category=records.INVALID_ARGUMENT,
            target=address,
        )
    for existing in state.mailboxes(ou):
        if existing.name.lower() == name.lower():
            raise CmdletFailure(
                f"Active Directory operation failed on {records.DOMAIN_CONTROLLER}. The object "
                f"'CN={name},{_dn(existing).split(',', 1)[1]}' already exists.",
                "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                category=records.RESOURCE_EXISTS,
                target=name,
            )
    if state.find(address) is not None or (upn and state.find(upn) is not None):
        raise CmdletFailure(
            f'The proxy address "SMTP:{address}" is already being used by the proxy addresses '
            "or LegacyExchangeDN. Please choose another proxy address.",
            "Microsoft.Exchange.Data.Directory.ProxyAddressExistsException",
            category=records.RESOURCE_EXISTS,
            target=address,
        )
    capacity = parameters.get("ResourceCapacity")
    policy = parameters.get("AddressBookPolicy") or (tenant.address_book_policy if tenant else None)
    mailbox = onprem_mailbox(
        address,
        kind,
        tenant,
        display_name=str(parameters.get("DisplayName") or name),
        resource_capacity=capacity if isinstance(capacity, int) else None,
        name=name,
        alias=alias,
        upn=(upn or address).lower(),
        organizational_unit=ou,
        address_book_policy=policy,
    )
    state.data.mailboxes[mailbox.address] = mailbox
    emit(output(mailbox_object(mailbox)))


def remove_mailbox(state: ServerState, parameters: dict[str, Any], emit: Emit) -> None:
    """Remove-Mailbox: needs ``-Confirm:$false`` (the session has no host to ask)."""
    mailbox = _mailbox(state, parameters)
    if parameters.get("Confirm") is not False:
        raise CmdletFailure(
            _HOST_PROMPT,
            "System.Management.Automation.Host.HostException",
            category=records.NOT_SPECIFIED,
            terminating=True,
        )
    del state.data.mailboxes[mailbox.address]


def get_mailbox_statistics(state: ServerState, parameters: dict[str, Any], emit: Emit) -> None:
    """Get-MailboxStatistics -Identity: size and item count."""
    mailbox = _mailbox(state, parameters)
    props = {
        "DisplayName": mailbox.display_name,
        "ItemCount": mailbox.item_count,
        "TotalItemSize": format_size(mailbox.total_item_size),
        "Database": mailbox.database,
        "MailboxGuid": mailbox.exchange_guid,
        "MailboxTypeDetail": mailbox.type,
        "LastLogonTime": None,
    }
    emit(
        output(
            records.exchange_object(
                ["Microsoft.Exchange.Management.MapiTasks.Presentation.MailboxStatistics"],
                mailbox.display_name,
                props,
            )
        )
    )


def get_accepted_domain(state: ServerState, parameters: dict[str, Any], emit: Emit) -> None:
    """Get-AcceptedDomain [-Identity]."""
    identity = parameters.get("Identity")
    for domain in state.data.accepted_domains:
        if identity is not None and str(identity).lower() not in (
            domain.name.lower(),
            domain.domain_name.lower(),
        ):
            continue
        emit(
            output(
                records.exchange_object(
                    ["Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomain"],
                    domain.name,
                    {
                        "Name": domain.name,
                        "DomainName": domain.domain_name,
                        "DomainType": domain.domain_type,
                        "Default": domain.default,
                    },
                )
            )
        )
        if identity is not None:
            return
    if identity is not None:
        raise CmdletFailure(
            f"The operation couldn't be performed because object '{identity}' couldn't be "
            f"found on '{records.DOMAIN_CONTROLLER}'.",
            _NOT_FOUND,
            target=str(identity),
        )


def get_cas_mailbox(state: ServerState, parameters: dict[str, Any], emit: Emit) -> None:
    """Get-CASMailbox [-Identity] [-OrganizationalUnit] [-RecipientTypeDetails]
    [-ResultSize]: the protocol flags."""
    if parameters.get("Identity") is not None:
        emit(output(_cas_object(_mailbox(state, parameters))))
        return
    ou = parameters.get("OrganizationalUnit")
    known = state.known_ou(str(ou)) if ou is not None else None
    if ou is not None and known is None:
        raise CmdletFailure(
            f"The operation couldn't be performed because object '{ou}' couldn't be found "
            f"on '{records.DOMAIN_CONTROLLER}'.",
            _NOT_FOUND,
            target=str(ou),
        )
    kinds = parameters.get("RecipientTypeDetails")
    wanted = None if kinds is None else {str(k).lower() for k in _as_list(kinds)}
    limit = _result_size(parameters.get("ResultSize", 1000))
    shown = [m for m in state.mailboxes(known) if wanted is None or m.type.lower() in wanted]
    for mailbox in shown[:limit]:
        emit(output(_cas_object(mailbox)))


def _cas_object(mailbox: OnPremMailbox) -> GenericComplexObject:
    props: dict[str, Any] = {"Name": mailbox.name, "PrimarySmtpAddress": mailbox.address}
    props.update({name: getattr(mailbox, field) for name, field in _CAS.items()})
    return records.exchange_object(
        ["Microsoft.Exchange.Data.Directory.Management.CASMailbox"], mailbox.name, props
    )


def set_cas_mailbox(state: ServerState, parameters: dict[str, Any], emit: Emit) -> None:
    """Set-CASMailbox: the protocol flags."""
    mailbox = _mailbox(state, parameters)
    changed = False
    for name, field in _CAS.items():
        if name in parameters:
            value = _boolean(name, parameters[name])
            changed |= getattr(mailbox, field) != value
            setattr(mailbox, field, value)
    if not changed:
        emit(
            records.warning(
                "The command completed successfully but no settings of "
                f"'{mailbox.organizational_unit}/{mailbox.name}' have been modified."
            )
        )


def _licence_names(state: ServerState) -> dict[str, str]:
    version = state.data.version
    return {
        "standard": f"Exchange Server {version} Standard CAL",
        "enterprise": f"Exchange Server {version} Enterprise CAL",
    }


def get_access_license(state: ServerState, parameters: dict[str, Any], emit: Emit) -> None:
    """Get-ExchangeServerAccessLicense: the licence names in use (LicenseName, UnitLabel)."""
    version = state.data.version
    for name, unit in (
        (f"Exchange Server {version} Standard Edition", "Server"),
        (f"Exchange Server {version} Standard CAL", "CAL"),
        (f"Exchange Server {version} Enterprise CAL", "CAL"),
    ):
        emit(
            output(
                records.exchange_object(
                    [
                        "Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeServerAccessLicense"
                    ],
                    name,
                    {"LicenseName": name, "UnitLabel": unit},
                )
            )
        )


def get_access_license_user(state: ServerState, parameters: dict[str, Any], emit: Emit) -> None:
    """Get-ExchangeServerAccessLicenseUser -LicenseName: one object per user counted."""
    given = str(parameters.get("LicenseName") or "")
    names = _licence_names(state)
    if given.lower() == names["standard"].lower():
        users = [m for m in state.mailboxes() if not state.is_resource(m)]
    elif given.lower() == names["enterprise"].lower():
        users = [m for m in state.mailboxes() if not state.is_resource(m) and m.enterprise_features]
    elif given.lower().endswith("edition"):
        users = []
    else:
        raise CmdletFailure(
            f"The license name '{given}' isn't valid.",
            "Microsoft.Exchange.Management.SystemConfigurationTasks.InvalidLicenseNameException",
            category=records.INVALID_ARGUMENT,
            target=given,
        )
    for mailbox in users:
        emit(
            output(
                records.exchange_object(
                    [
                        "Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeServerAccessLicenseUser"
                    ],
                    mailbox.address,
                    {"LicenseName": given, "Name": mailbox.address},
                )
            )
        )


_IDENTITY = {"Identity"}
CMDLETS: dict[str, tuple[_Cmdlet, set[str]]] = {
    "get-mailbox": (
        get_mailbox,
        {"Identity", "OrganizationalUnit", "RecipientTypeDetails", "ResultSize"},
    ),
    "set-mailbox": (
        set_mailbox,
        {
            "Identity",
            *_QUOTAS,
            "UseDatabaseQuotaDefaults",
            "DisplayName",
            "AddressBookPolicy",
            *(f"CustomAttribute{n}" for n in range(1, 16)),
        },
    ),
    "new-mailbox": (
        new_mailbox,
        {
            "Name",
            "Alias",
            "DisplayName",
            "PrimarySmtpAddress",
            "UserPrincipalName",
            "Password",
            "FirstName",
            "LastName",
            "OrganizationalUnit",
            "AddressBookPolicy",
            "Shared",
            "Room",
            "Equipment",
            "ResourceCapacity",
        },
    ),
    "remove-mailbox": (remove_mailbox, {"Identity", "Permanent"}),
    "get-mailboxstatistics": (get_mailbox_statistics, _IDENTITY),
    "get-accepteddomain": (get_accepted_domain, {"Identity", "ResultSize"}),
    "get-casmailbox": (
        get_cas_mailbox,
        {"Identity", "OrganizationalUnit", "RecipientTypeDetails", "ResultSize"},
    ),
    "set-casmailbox": (set_cas_mailbox, {"Identity", *_CAS}),
    "get-exchangeserveraccesslicense": (get_access_license, set()),
    "get-exchangeserveraccesslicenseuser": (get_access_license_user, {"LicenseName"}),
}


# -- pipelines --------------------------------------------------------------------------------


def run_pipeline(state: ServerState, shell: Shell, commands: list[ShellCommand]) -> PipelineRun:
    """Run the statements of one CREATE_PIPELINE; records in order, terminating errors
    end the pipeline Failed."""
    run = PipelineRun()
    for statement in statements(commands):
        try:
            objects = _run_statement(state, statement, run)
        except CmdletFailure as failure:
            run.failure = records.error_record(_name(statement, failure), failure)
            return run
        run.records.extend(objects)
    return run


def _name(statement: list[ShellCommand], failure: CmdletFailure) -> str:
    return getattr(failure, "cmdlet", None) or (statement[0].name if statement else "")


def _run_statement(
    state: ServerState, statement: list[ShellCommand], run: PipelineRun
) -> list[tuple[int, Any]]:
    produced: list[tuple[int, Any]] = []
    for command in statement:
        if command.is_script:
            raise CmdletFailure(
                "The syntax is not supported by this runspace. This can occur if the runspace "
                "is in no-language mode.",
                "System.Management.Automation.ParseException",
                category=records.PERMISSION_DENIED,
                terminating=True,
            )
        name = command.name.lower()
        if name == "invoke-expression":
            produced = _invoke_expression(state, command, run)
        elif name == "out-string":
            produced = [
                output(line)
                for kind, value in produced
                if kind == MessageType.PIPELINE_OUTPUT
                for line in _lines(value)
            ]
        else:
            produced = _run_cmdlet(state, command.name, _named(command), run)
    return produced


def _named(command: ShellCommand) -> dict[str, Any]:
    parameters = dict(command.parameters)
    if command.arguments and "Identity" not in parameters:
        parameters["Identity"] = command.arguments[0]
    return parameters


def _run_cmdlet(
    state: ServerState, cmdlet: str, given: dict[str, Any], run: PipelineRun
) -> list[tuple[int, Any]]:
    entry = CMDLETS.get(cmdlet.lower())
    if entry is None:
        failure = CmdletFailure(
            f"The term '{cmdlet}' is not recognized as the name of a cmdlet, function, script "
            "file, or operable program. Check the spelling of the name, or if a path was "
            "included, verify that the path is correct and try again.",
            "System.Management.Automation.CommandNotFoundException",
            category=records.OBJECT_NOT_FOUND,
            target=cmdlet,
            terminating=True,
        )
        failure.cmdlet = cmdlet  # type: ignore[attr-defined]
        raise failure
    handler, allowed = entry
    produced: list[tuple[int, Any]] = []
    try:
        parameters = _bound(cmdlet, given, allowed)
        injected = _injected(state, cmdlet)
        if injected is not None:
            raise CmdletFailure(injected, "Microsoft.Exchange.Configuration.Tasks.TaskException")
        handler(state, parameters, produced.append)
    except CmdletError as exc:
        failure = CmdletFailure(
            exc.text,
            exc.exception,
            category=records.INVALID_ARGUMENT,
            terminating=exc.exception == _BINDING,
        )
        _record(cmdlet, failure, run)
    except CmdletFailure as failure:
        _record(cmdlet, failure, run)
    # Warnings and errors go to their streams at once; outputs flow down the pipeline.
    run.records.extend(r for r in produced if r[0] != MessageType.PIPELINE_OUTPUT)
    return [r for r in produced if r[0] == MessageType.PIPELINE_OUTPUT]


def _record(cmdlet: str, failure: CmdletFailure, run: PipelineRun) -> None:
    if failure.terminating:
        failure.cmdlet = cmdlet  # type: ignore[attr-defined]
        raise failure
    run.records.append((MessageType.ERROR_RECORD, records.error_record(cmdlet, failure)))


def _injected(state: ServerState, cmdlet: str) -> str | None:
    for name, text in state.data.cmdlet_errors.items():
        if name.lower() == cmdlet.lower():
            return text
    return None


def _invoke_expression(
    state: ServerState, command: ShellCommand, run: PipelineRun
) -> list[tuple[int, Any]]:
    script = command.parameters.get("Command", command.arguments[0] if command.arguments else "")
    try:
        cmdlet, parameters = parse_statement(str(script))
    except ScriptError as exc:
        raise CmdletFailure(
            str(exc),
            "System.Management.Automation.ParseException",
            category=records.PERMISSION_DENIED,
            terminating=True,
        ) from None
    return _run_cmdlet(state, cmdlet, parameters, run)


def _lines(value: Any) -> list[str]:
    """``Out-String -Stream``: an object as Format-List lines, a primitive as itself."""
    if not isinstance(value, GenericComplexObject):
        return [str(value)]
    props = value.adapted_properties
    width = max((len(k) for k in props), default=0)
    return ["", *(f"{k.ljust(width)} : {_text(v)}" for k, v in props.items()), ""]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)

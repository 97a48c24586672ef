"""The mailcow provider: mailcow-dockerized's admin REST API (``/api/v1``) with an API key.

mailcow answers every write with HTTP 200 and says in the body whether it worked
(``[{"type": "danger", "msg": ["max_mailbox_exceeded", 10, 10]}]``): :data:`ANSWERS`
reads success, refusal or "another operation's answer" from it, and :data:`ERRORS` maps
its message keys to typed errors. A plan is a mailbox's quota and access flags; add-ons
are domain limits (``mailboxes``, and ``storage_gb`` as the domain quota); nothing is
licensed.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from mailadmin.sdk import (
    AddonRef,
    AnswerCheck,
    ApiKeyAuth,
    Capabilities,
    Change,
    ChangeResult,
    ConnectionStatus,
    ErrorRule,
    ErrorTable,
    JsonClient,
    LicenceKind,
    LicenceModel,
    Mailbox,
    MailboxCount,
    MailboxKind,
    MailboxRef,
    MailboxSettings,
    NativePlan,
    NewMailbox,
    Operation,
    Provider,
    Refusal,
    TenantRef,
    Verified,
    bounded_int,
    errors,
)

from mailadmin_mailcow.settings import MailcowPlan, MailcowSettings

__all__ = ["ANSWERS", "ERRORS", "MailcowProvider"]

_API = "/api/v1"
_MIB = 1024 * 1024
_GIB_IN_MIB = 1024
#: The access flags a plan sets, as mailbox attributes.
_FLAGS = ("imap_access", "pop3_access", "eas_access", "dav_access")


def _rule(code: str, error: type[errors.MailadminError], message: str) -> ErrorRule:
    return ErrorRule(code=code, error=error, message=message)


#: mailcow's message keys (``lang.en-gb.json``) as mailadmin errors.
ERRORS = ErrorTable(
    [
        # With an admin key, access_denied on a mailbox or domain means it does not exist.
        _rule("access_denied", errors.NotFoundError, "{provider} has no {subject}"),
        _rule("domain_invalid", errors.NotFoundError, "{provider} has no domain {subject}"),
        _rule("domain_not_found", errors.NotFoundError, "{provider} has no domain {subject}"),
        _rule("object_exists", errors.ConflictError, "{subject} already exists on {provider}"),
        _rule("is_alias", errors.ConflictError, "{subject} is already an alias on {provider}"),
        _rule("domain_exists", errors.ConflictError, "{subject} already exists on {provider}"),
        _rule(
            "domain_not_empty",
            errors.ConflictError,
            "{provider} keeps {subject} while it has mailboxes: delete them first",
        ),
        _rule(
            "is_alias_or_mailbox",
            errors.ConflictError,
            "an address for {subject} is already an alias or a mailbox on {provider}",
        ),
        _rule("alias_invalid", errors.ValidationError, "{provider} refused an alias of {subject}"),
        _rule(
            "max_mailbox_exceeded",
            errors.QuotaExceeded,
            "{provider}: the domain of {subject} has no mailbox left",
        ),
        _rule(
            "mailbox_quota_exceeded",
            errors.QuotaExceeded,
            "{provider}: the quota for {subject} is above the domain's mailbox maximum",
        ),
        _rule(
            "mailbox_quota_left_exceeded",
            errors.QuotaExceeded,
            "{provider}: the domain of {subject} has not enough quota left",
        ),
        _rule(
            "mailboxes_in_use",
            errors.ConflictError,
            "{provider}: {subject} has more mailboxes than that",
        ),
        _rule(
            "domain_quota_m_in_use",
            errors.ConflictError,
            "{provider}: the mailboxes of {subject} already hold more quota than that",
        ),
        _rule(
            "max_quota_in_use",
            errors.ConflictError,
            "{provider}: a mailbox of {subject} has a larger quota than that",
        ),
        *(
            _rule(code, errors.ValidationError, "{provider} refused a value for {subject}")
            for code in (
                "mailbox_invalid",
                "username_invalid",
                "password_complexity",
                "password_mismatch",
                "object_is_not_numeric",
                "quarantine_category_invalid",
                "mailbox_quota_exceeds_domain_quota",
                "mailbox_defquota_exceeds_mailbox_maxquota",
            )
        ),
    ]
)

#: The success key each write's answer carries (``["mailbox_added", "anna@..."]``).
_DONE = {
    "add_mailbox": "mailbox_added",
    "edit_mailbox": "mailbox_modified",
    "delete_mailbox": "mailbox_removed",
    "edit_domain": "domain_modified",
}


def _is_active(row: dict[str, Any] | None) -> bool:
    return row is not None and str(row.get("active_int", row.get("active", 1))) != "0"


def _status(active: bool) -> str:
    """The contract's word for access allowed or stopped."""
    return "active" if active else "suspended"


def _verified(held: bool, wanted: bool) -> Verified:
    state = {"active": held}
    return Verified(("active",), (), state) if held == wanted else Verified((), ("active",), state)


def _entries(body: Any) -> list[dict[str, Any]]:
    # Writes answer a list of entries; a single object happens too (reference 9).
    items = body if isinstance(body, list) else [body]
    return [e for e in items if isinstance(e, dict) and "type" in e]


def _key(msg: Any) -> str | None:
    if isinstance(msg, list):
        return str(msg[0]) if msg else None
    return str(msg) if msg is not None else None


def _refusal(body: Any) -> Refusal | None:
    for entry in _entries(body):
        if entry.get("type") in ("danger", "error"):
            return Refusal(code=_key(entry.get("msg")), message=str(entry.get("msg"))[:300])
    return None


def _answers(body: Any, operation: str) -> bool:
    done = _DONE.get(operation)
    if done is None:
        return True  # a read: its shape is checked where it is read
    return any(e.get("type") == "success" and _key(e.get("msg")) == done for e in _entries(body))


#: How a mailcow answer says success, refusal, or that it is another operation's.
ANSWERS = AnswerCheck(refusal=_refusal, errors=ERRORS, expected=_answers)


class MailcowProvider(Provider[MailcowSettings]):
    """Provider of mailcow: user mailboxes, plans as quota and access flags, domain limits."""

    name = "mailcow"
    platform = "mailcow"
    capabilities = Capabilities(
        operations=frozenset(
            {
                Operation.LIST_MAILBOXES,
                Operation.CREATE_MAILBOX,
                Operation.DELETE_MAILBOX,
                Operation.SET_PASSWORD,
                Operation.SUSPEND_MAILBOX,
                Operation.RESUME_MAILBOX,
                Operation.SUSPEND_TENANT,
                Operation.RESUME_TENANT,
                Operation.SET_DISPLAY_NAME,
                Operation.SET_QUOTA,
                Operation.ADD_ALIAS,
                Operation.REMOVE_ALIAS,
                Operation.LIST_ALIASES,
                Operation.LIST_TENANTS,
                Operation.CREATE_TENANT,
                Operation.DELETE_TENANT,
            }
        ),
        mailbox_kinds=frozenset({MailboxKind.USER}),
        addons=frozenset({"mailboxes", "storage_gb"}),
        unsupported={
            **{
                f"{op}:shared": "mailcow has no shared mailboxes (only shared folders)"
                for op in ("create_mailbox", "delete_mailbox")
            },
            **{
                f"{op}:{kind}": "mailcow has no resource mailboxes"
                for op in ("create_mailbox", "delete_mailbox")
                for kind in ("room", "equipment")
            },
            "addon:shared_mailbox": "mailcow has no shared mailboxes",
            "addon:resource_mailbox": "mailcow has no resource mailboxes",
            "set_forwarding": "mailcow forwards through the goto list of an alias that "
            "shadows the mailbox; this plugin does not edit that alias yet",
            "single_sign_on": "mailcow's API hands out no sign-in link for a mailbox user",
        },
        # mailcow is free software: nothing is licensed, get_licence answers "none".
        licence=LicenceModel(kind=LicenceKind.NONE),
    )
    settings_model = MailcowSettings

    @property
    def api(self) -> JsonClient:
        """The admin API with the instance's API key (cheap to build)."""
        key = self.settings.credentials.secret.get_secret_value()
        return JsonClient(
            self.http,
            name=self.instance,
            errors=ERRORS,
            auth=ApiKeyAuth(key, header="X-API-Key"),
            answers=ANSWERS,
        )

    # -- required operations -------------------------------------------------------------

    async def _test_connection(self) -> ConnectionStatus:
        answer = await self.api.get(f"{_API}/get/status/version", operation="version")
        if not isinstance(answer, dict) or "version" not in answer:
            # Without a key, mailcow answers a read with an empty 200.
            raise errors.AuthenticationError(f"{self.instance} did not accept the API key")
        return ConnectionStatus(ok=True, platform=self.platform, version=str(answer["version"]))

    async def _list_plans(self) -> list[NativePlan]:
        # mailcow has no plan catalogue: the configured plans are what it offers.
        return [
            NativePlan(
                native_name=name,
                quota_mb=plan.quota_mb,
                features=tuple(k for k, v in plan.attributes().items() if v == "1"),
                neutral_name=name,
            )
            for name, plan in self.settings.plans.items()
        ]

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        by_plan: dict[str, int] = {}
        rows = await self._mailboxes(tenant)
        for row in rows:
            name = self._neutral(row) or "unmapped"
            by_plan[name] = by_plan.get(name, 0) + 1
        return MailboxCount(
            tenant=tenant.name, by_kind={MailboxKind.USER: len(rows)}, by_plan=by_plan
        )

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> ChangeResult[str]:
        target = self._plan(plan)
        row = await self._mailbox_row(mailbox)
        if row is None:
            raise errors.NotFoundError(f"The mailbox {mailbox.address} does not exist")
        current = self._neutral(row)

        async def edit() -> None:
            await self.api.post(
                f"{_API}/edit/mailbox",
                json={"items": [mailbox.address], "attr": target.attributes()},
                idempotent=True,  # absolute values: sending them twice changes nothing more
                operation="edit_mailbox",
                subject=mailbox.address,
            )

        async def verify() -> Verified:
            now = await self._mailbox_row(mailbox)
            held = now is not None and _holds(now, target)
            return Verified(("plan",), (), now) if held else Verified((), ("plan",), now)

        return await self.change(
            Change(
                subject=mailbox.address,
                before=current or "custom",
                after=plan,
                same=_holds(row, target),
                apply=edit,
                verify=verify,
            )
        )

    # -- mailbox settings ------------------------------------------------------------------

    async def _aliases_of(self, mailbox: MailboxRef) -> dict[str, str]:
        """The alias objects that deliver to this mailbox only: address -> id."""
        answer = await self.api.get(
            f"{_API}/get/alias/all", operation="get_aliases", subject=mailbox.address
        )
        rows = answer if isinstance(answer, list) else []
        return {
            str(row.get("address", "")).lower(): str(row.get("id"))
            for row in rows
            if isinstance(row, dict)
            and str(row.get("goto", "")).strip().lower() == mailbox.address
            and str(row.get("address", "")).lower() != mailbox.address
        }

    async def _list_tenants(self) -> list[TenantRef]:
        answer = await self.api.get(f"{_API}/get/domain/all", operation="get_domains")
        rows = answer if isinstance(answer, list) else []
        return [
            TenantRef(name=str(row["domain_name"]))
            for row in rows
            if isinstance(row, dict) and row.get("domain_name")
        ]

    async def _read_settings(self, mailbox: MailboxRef) -> MailboxSettings:
        row = await self._mailbox_row(mailbox)
        if row is None:
            raise errors.NotFoundError(f"The mailbox {mailbox.address} does not exist")
        quota = bounded_int(row.get("quota"), what="mailbox quota", source=self.instance)
        return MailboxSettings(
            display_name=str(row.get("name") or ""),
            quota_mb=quota // _MIB if quota else None,  # 0 is unlimited
            aliases=tuple(sorted(await self._aliases_of(mailbox))),
        )

    async def _write_settings(
        self, mailbox: MailboxRef, held: MailboxSettings, wanted: MailboxSettings
    ) -> None:
        attr: dict[str, Any] = {}
        if wanted.display_name != held.display_name:
            attr["name"] = wanted.display_name
        if wanted.quota_mb != held.quota_mb and wanted.quota_mb is not None:
            attr["quota"] = wanted.quota_mb  # MiB
        if attr:
            await self.api.post(
                f"{_API}/edit/mailbox",
                json={"items": [mailbox.address], "attr": attr},
                idempotent=True,
                operation="edit_mailbox",
                subject=mailbox.address,
            )
        added = sorted(set(wanted.aliases) - set(held.aliases))
        removed = set(held.aliases) - set(wanted.aliases)
        for alias in added:
            await self.api.post(
                f"{_API}/add/alias",
                json={"address": alias, "goto": mailbox.address, "active": "1"},
                idempotent=False,  # a repeat is refused (is_alias_or_mailbox): read back
                operation="add_alias",
                subject=mailbox.address,
            )
        if removed:
            ids = await self._aliases_of(mailbox)
            await self.api.post(
                f"{_API}/delete/alias",
                json=[ids[a] for a in sorted(removed) if a in ids],
                idempotent=True,
                operation="delete_alias",
                subject=mailbox.address,
            )

    # -- passwords and suspensions ---------------------------------------------------------

    async def _set_password(self, mailbox: MailboxRef, password: str) -> ChangeResult[str]:
        if await self._mailbox_row(mailbox) is None:
            raise errors.NotFoundError(f"The mailbox {mailbox.address} does not exist")

        async def edit() -> None:
            await self.api.post(
                f"{_API}/edit/mailbox",
                json={
                    "items": [mailbox.address],
                    "attr": {"password": password, "password2": password},
                },
                idempotent=True,
                operation="edit_mailbox",
                subject=mailbox.address,
            )

        # A password cannot be read back: always sent, and harmless again.
        return await self.change(
            Change(subject=mailbox.address, before="set", after="set", same=False, apply=edit)
        )

    async def _suspend_mailbox(self, mailbox: MailboxRef) -> ChangeResult[str]:
        return await self._mailbox_active(mailbox, active=False)

    async def _resume_mailbox(self, mailbox: MailboxRef) -> ChangeResult[str]:
        return await self._mailbox_active(mailbox, active=True)

    async def _mailbox_active(self, mailbox: MailboxRef, *, active: bool) -> ChangeResult[str]:
        """A mailbox's ``active`` flag: 0 refuses every login, keeping the mail."""
        row = await self._mailbox_row(mailbox)
        if row is None:
            raise errors.NotFoundError(f"The mailbox {mailbox.address} does not exist")

        async def edit() -> None:
            await self.api.post(
                f"{_API}/edit/mailbox",
                json={"items": [mailbox.address], "attr": {"active": "1" if active else "0"}},
                idempotent=True,
                operation="edit_mailbox",
                subject=mailbox.address,
            )

        async def verify() -> Verified:
            now = await self._mailbox_row(mailbox)
            return _verified(_is_active(now), active)

        return await self.change(
            Change(
                subject=mailbox.address,
                before=_status(_is_active(row)),
                after=_status(active),
                apply=edit,
                verify=verify,
            )
        )

    async def _suspend_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        return await self._domain_active(tenant, active=False)

    async def _resume_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        return await self._domain_active(tenant, active=True)

    async def _create_tenant(
        self, tenant: TenantRef, plan: str | None, max_mailboxes: int | None
    ) -> ChangeResult[str]:
        """``add/domain``: the Default template's quotas; ``max_mailboxes`` is the
        domain's ``mailboxes`` limit (left out: the template's 10). mailcow keeps no
        default plan per domain: a mailbox's plan is set on the mailbox."""
        attr: dict[str, Any] = {"domain": tenant.key.lower(), "active": "1"}
        if max_mailboxes is not None:
            attr["mailboxes"] = max_mailboxes

        async def add() -> None:
            await self.api.post(
                f"{_API}/add/domain", json=attr, operation="add_domain", subject=tenant.name
            )

        async def verify() -> Verified:
            held = await self._find_domain(tenant)
            state = {"present": held}
            return Verified(("present",), (), state) if held else Verified((), ("present",), state)

        held = "present" if await self._find_domain(tenant) else "absent"
        return await self.change(
            Change(subject=tenant.name, before=held, after="present", apply=add, verify=verify)
        )

    async def _delete_tenant(self, tenant: TenantRef) -> ChangeResult[str]:
        """``delete/domain``: mailcow refuses a domain that still has mailboxes
        (``domain_not_empty``)."""

        async def delete() -> None:
            await self.api.post(
                f"{_API}/delete/domain",
                json=[tenant.key.lower()],
                idempotent=True,
                operation="delete_domain",
                subject=tenant.name,
            )

        async def verify() -> Verified:
            held = await self._find_domain(tenant)
            state = {"present": held}
            return Verified((), ("absent",), state) if held else Verified(("absent",), (), state)

        held = "present" if await self._find_domain(tenant) else "absent"
        return await self.change(
            Change(subject=tenant.name, before=held, after="absent", apply=delete, verify=verify)
        )

    async def _find_domain(self, tenant: TenantRef) -> bool:
        try:
            await self._domain(tenant)
        except errors.NotFoundError:
            return False
        return True

    async def _domain_active(self, tenant: TenantRef, *, active: bool) -> ChangeResult[str]:
        """A domain's ``active`` flag: 0 refuses the logins of all its mailboxes."""
        row = await self._domain(tenant)

        async def edit() -> None:
            await self.api.post(
                f"{_API}/edit/domain",
                json={"items": [tenant.key], "attr": {"active": "1" if active else "0"}},
                idempotent=True,
                operation="edit_domain",
                subject=tenant.name,
            )

        async def verify() -> Verified:
            return _verified(_is_active(await self._domain(tenant)), active)

        return await self.change(
            Change(
                subject=tenant.name,
                before=_status(_is_active(row)),
                after=_status(active),
                apply=edit,
                verify=verify,
            )
        )

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        if addon.plan is not None:
            raise errors.ValidationError(f"The add-on '{addon}' is not sold per plan")
        if addon.name == "storage_gb" and quantity == 0:
            # mailcow ignores a domain quota of 0 instead of refusing it.
            raise errors.ValidationError("mailcow cannot set a domain quota of 0 GB")
        domain = await self._domain(tenant)
        if addon.name == "mailboxes":
            field, before, value = "mailboxes", _int(domain, "max_num_mboxes_for_domain"), quantity
        else:
            field = "quota"
            before = _int(domain, "max_quota_for_domain") // (_MIB * _GIB_IN_MIB)
            value = quantity * _GIB_IN_MIB
        attr: dict[str, Any] = {field: value}
        if field == "quota":
            # The mailbox maximum may not exceed the domain quota: keep it within.
            maxquota = _int(domain, "max_quota_for_mbox") // _MIB
            if maxquota > value:
                attr["maxquota"] = value

        async def edit() -> None:
            await self.api.post(
                f"{_API}/edit/domain",
                json={"items": [tenant.key], "attr": attr},
                idempotent=True,
                operation="edit_domain",
                subject=tenant.name,
            )

        async def verify() -> Verified:
            now = await self._domain(tenant)
            if field == "mailboxes":
                held = _int(now, "max_num_mboxes_for_domain") == quantity
            else:
                held = _int(now, "max_quota_for_domain") // _MIB == value
            return Verified((field,), (), {field: held}) if held else Verified((), (field,))

        return await self.change(
            Change(subject=tenant.name, before=before, after=quantity, apply=edit, verify=verify)
        )

    # -- optional operations --------------------------------------------------------------

    async def _list_mailboxes(self, tenant: TenantRef) -> list[Mailbox]:
        return [self._as_mailbox(row) for row in await self._mailboxes(tenant)]

    async def _create_mailbox(
        self, tenant: TenantRef, mailbox: NewMailbox
    ) -> ChangeResult[Mailbox]:
        name = mailbox.plan or next(iter(self.settings.plans), None)
        if name is None:
            raise errors.ConfigurationError(f"{self.instance} has no plan to create mailboxes on")
        plan = self._plan(name)
        local, _, domain = mailbox.address.partition("@")
        planned = Mailbox(
            address=mailbox.address,
            kind=MailboxKind.USER,
            plan=name,
            display_name=mailbox.display_name,
            quota_mb=plan.quota_mb,
        )
        if await self._mailbox_row(MailboxRef(tenant=tenant, address=mailbox.address)):
            raise errors.ConflictError(f"The mailbox {mailbox.address} already exists")

        async def add() -> None:
            if mailbox.password is not None:
                password = mailbox.password.get_secret_value()
            else:
                password = secrets.token_urlsafe(self.settings.initial_password_length)
            self.http.add_secret(password)  # never in a log line or an error's debug
            body = {
                "local_part": local,
                "domain": domain,
                "name": mailbox.display_name,
                "password": password,
                "password2": password,
                "active": "1",
                **plan.attributes(),
            }
            await self.api.post(
                f"{_API}/add/mailbox",
                json=body,
                operation="add_mailbox",
                subject=mailbox.address,
            )

        return await self.change(
            Change(
                subject=mailbox.address,
                before=None,
                after=planned,
                apply=add,
                verify=self._presence(mailbox.address, tenant, wanted=True),
            )
        )

    async def _delete_mailbox(self, mailbox: MailboxRef) -> ChangeResult[Mailbox]:
        row = await self._mailbox_row(mailbox)

        async def delete() -> None:
            await self.api.post(
                f"{_API}/delete/mailbox",
                json=[mailbox.address],
                idempotent=True,
                operation="delete_mailbox",
                subject=mailbox.address,
            )

        return await self.change(
            Change(
                subject=mailbox.address,
                before=self._as_mailbox(row) if row else None,
                after=None,
                apply=delete,
                verify=self._presence(mailbox.address, mailbox.tenant, wanted=False),
            )
        )

    def _presence(
        self, address: str, tenant: TenantRef, *, wanted: bool
    ) -> Callable[[], Awaitable[Verified]]:
        """The read-back of a creation (``wanted``) or a deletion: is the mailbox there."""

        async def verify() -> Verified:
            held = await self._mailbox_row(MailboxRef(tenant=tenant, address=address)) is not None
            state = {"mailbox": held}
            if held == wanted:
                return Verified(("mailbox",), (), state)
            return Verified((), ("mailbox",), state)

        return verify

    # -- mapping ---------------------------------------------------------------------------

    def _plan(self, name: str) -> MailcowPlan:
        self.plan(name)  # a user-safe error for an unknown plan
        return self.settings.plans[name]

    def _neutral(self, row: dict[str, Any]) -> str | None:
        return next((n for n, p in self.settings.plans.items() if _holds(row, p)), None)

    def _as_mailbox(self, row: dict[str, Any]) -> Mailbox:
        return Mailbox(
            address=str(row.get("username", "")),
            kind=MailboxKind.USER,
            plan=self._neutral(row) or "custom",
            display_name=str(row.get("name") or ""),
            quota_mb=_int(row, "quota") // _MIB,
        )

    # -- reading the platform --------------------------------------------------------------

    async def _mailboxes(self, tenant: TenantRef) -> list[dict[str, Any]]:
        domain = tenant.key.lower()
        answer = await self.api.get(
            f"{_API}/get/mailbox/all/{quote(domain, safe='')}",
            operation="get_mailboxes_of",
            subject=tenant.name,
        )
        rows = _rows(answer, self.instance)
        mine = [r for r in rows if str(r.get("domain", "")).lower() == domain]
        # mailcow answers an unknown domain with every mailbox of the server (or, on an
        # empty server, with nothing): only then is the domain itself asked for.
        if len(mine) < len(rows) or not rows:
            await self._domain(tenant)  # NotFoundError for a domain mailcow does not have
        return mine

    async def _mailbox_row(self, mailbox: MailboxRef) -> dict[str, Any] | None:
        answer = await self.api.get(
            f"{_API}/get/mailbox/{quote(mailbox.address, safe='@')}",
            operation="get_mailbox",
            subject=mailbox.address,
        )
        if answer is None:
            raise errors.AuthenticationError(f"{self.instance} did not accept the API key")
        if answer in ({}, []):
            return None
        if not isinstance(answer, dict) or "username" not in answer:
            raise errors.ProtocolError(f"{self.instance} sent an unexpected mailbox answer")
        return answer

    async def _domain(self, tenant: TenantRef) -> dict[str, Any]:
        answer = await self.api.get(
            f"{_API}/get/domain/{quote(tenant.key.lower(), safe='')}",
            operation="get_domain",
            subject=tenant.name,
        )
        if answer is None:
            raise errors.AuthenticationError(f"{self.instance} did not accept the API key")
        if not isinstance(answer, dict) or "domain_name" not in answer:
            raise errors.NotFoundError(f"{self.instance} has no domain {tenant.name}")
        return answer


def _rows(answer: Any, source: str) -> list[dict[str, Any]]:
    if answer is None:
        raise errors.AuthenticationError(f"{source} did not accept the API key")
    if answer == {}:
        return []  # mailcow's empty list
    if isinstance(answer, dict):
        answer = [answer]
    if not isinstance(answer, list):
        raise errors.ProtocolError(f"{source} sent an unexpected list of mailboxes")
    return [r for r in answer if isinstance(r, dict)]


def _int(row: dict[str, Any], field: str) -> int:
    # Numbers and flags may come as JSON numbers or numeric strings (reference 5.1).
    value = row.get(field, 0)
    return bounded_int(
        value if isinstance(value, int) else str(value or 0), what=field, source="mailcow"
    )


def _flag(row: dict[str, Any], name: str) -> bool:
    attributes = row.get("attributes") or {}
    return str(attributes.get(name, "0")).strip() == "1"


def _holds(row: dict[str, Any], plan: MailcowPlan) -> bool:
    """The mailbox has the plan's quota and every one of its access flags."""
    wanted = plan.attributes()
    if _int(row, "quota") != plan.quota_mb * _MIB:
        return False
    return all(_flag(row, name) == (wanted[name] == "1") for name in _FLAGS)

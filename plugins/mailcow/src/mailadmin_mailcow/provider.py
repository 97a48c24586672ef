"""The Mailcow provider: the mailadmin contract over Mailcow's admin API.

It imports from :mod:`mailadmin.sdk` only. Each write reads what is there, describes the
write as a ``Change`` and returns ``await self.change(...)``: the base class decides
unchanged, dry run or change and builds the result. Answers are parsed into small
tolerant models. The platform's error codes map to mailadmin errors in one
``ErrorTable``, with user-safe messages; the platform's own words go in ``error.debug``.

The wire format here is the made-up one the mock in ``mock/`` serves: replace it with
Mailcow's own, in both places, one operation at a time.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from mailadmin.sdk import (
    AddonRef,
    AnswerCheck,
    Applied,
    Capabilities,
    Change,
    ChangeResult,
    ConnectionStatus,
    ErrorRule,
    ErrorTable,
    JsonClient,
    Licence,
    LicenceKind,
    LicenceModel,
    Mailbox,
    MailboxCount,
    MailboxKind,
    MailboxRef,
    NativePlan,
    NewMailbox,
    Operation,
    Provider,
    Refusal,
    TenantRef,
    errors,
)
from pydantic import BaseModel, ConfigDict, Field

from mailadmin_mailcow.settings import MailcowPlan, MailcowSettings

__all__ = ["ANSWERS", "ERRORS", "MailcowProvider"]

_API = "/api/v1"
#: Neutral add-on -> the domain limit that holds its total.
_LIMITS = {"mailboxes": "max_accounts", "storage_gb": "storage_gb"}


# -- the platform's answers, read tolerantly (unknown fields ignored) -------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Account(_Wire):
    address: str
    kind: MailboxKind
    plan: str | None = None
    display_name: str = ""


class _Plan(_Wire):
    name: str
    description: str = ""
    quota_mb: int | None = None
    features: list[str] = Field(default_factory=list)


class _Licence(_Wire):
    seats: int | None
    used: int


class _Limits(_Wire):
    limits: dict[str, int]


class MailcowProvider(Provider[MailcowSettings]):
    """Provider of Mailcow: user and shared mailboxes, seats and storage add-ons."""

    name = "mailcow"
    platform = "Mailcow"
    # What the platform can do, as data: the conformance kit proves every supported
    # feature and reports every gap as a skip carrying its reason.
    capabilities = Capabilities(
        operations=frozenset(
            {Operation.LIST_MAILBOXES, Operation.CREATE_MAILBOX, Operation.DELETE_MAILBOX}
        ),
        mailbox_kinds=frozenset({MailboxKind.USER, MailboxKind.SHARED}),
        addons=frozenset(_LIMITS),
        unsupported={
            "create_mailbox:room": "Mailcow has no resource mailboxes",
            "create_mailbox:equipment": "Mailcow has no resource mailboxes",
            "delete_mailbox:room": "Mailcow has no resource mailboxes",
            "delete_mailbox:equipment": "Mailcow has no resource mailboxes",
            "addon:shared_mailbox": "Mailcow does not limit shared mailboxes",
            "addon:resource_mailbox": "Mailcow has no resource mailboxes",
        },
        # none, per_mailbox (with a minimum), per_seat or cals: see LicenceModel.
        licence=LicenceModel(kind=LicenceKind.PER_SEAT),
    )
    settings_model = MailcowSettings

    @property
    def api(self) -> JsonClient:
        """Mailcow's JSON API, signed in with HTTP Basic (cheap to build)."""
        import httpx

        credentials = self.settings.credentials
        auth = httpx.BasicAuth(credentials.username, credentials.secret.get_secret_value())
        return JsonClient(
            self.http, name=self.instance, errors=ERRORS, auth=auth, answers=ANSWERS
        )

    # -- required operations -------------------------------------------------------------

    async def _test_connection(self) -> ConnectionStatus:
        answer = await self.api.get(f"{_API}/status", operation="status")
        return ConnectionStatus(ok=True, platform=self.platform, version=answer.get("version"))

    async def _list_plans(self) -> list[NativePlan]:
        answer = await self.api.get(f"{_API}/plans", operation="list_plans")
        return [
            NativePlan(
                native_name=plan.name,
                description=plan.description,
                quota_mb=plan.quota_mb,
                features=tuple(plan.features),
                neutral_name=self._neutral(plan.name),
            )
            for plan in (_Plan.model_validate(item) for item in answer.get("plans", []))
        ]

    async def _get_licence(self) -> Licence:
        answer = await self.api.get(f"{_API}/licence", operation="licence")
        licence = _Licence.model_validate(answer)
        return Licence(seats_licensed=licence.seats, seats_used=licence.used)

    async def _count_mailboxes(self, tenant: TenantRef) -> MailboxCount:
        by_kind = dict.fromkeys(MailboxKind, 0)
        by_plan: dict[str, int] = {}
        for account in await self._accounts(tenant):
            by_kind[account.kind] += 1
            if account.kind is MailboxKind.USER:
                plan = self._neutral(account.plan) or "unmapped"
                by_plan[plan] = by_plan.get(plan, 0) + 1
        return MailboxCount(tenant=tenant.name, by_kind=by_kind, by_plan=by_plan)

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> ChangeResult[str]:
        target = self._plan(plan)
        account = await self._account(mailbox)
        if account is None:
            raise errors.NotFoundError(f"The mailbox {mailbox.address} does not exist")

        async def put_plan() -> None:
            await self.api.put(
                f"{_account_path(mailbox)}/plan",
                json={"plan": target.native},
                idempotent=True,  # an absolute target: sending it twice changes nothing more
                operation="set_plan",
                subject=mailbox.address,
            )

        return await self.change(
            Change(
                subject=mailbox.address,
                before=self._neutral(account.plan) or account.plan,
                after=plan,
                apply=put_plan,
            )
        )

    async def _apply_addon(
        self, tenant: TenantRef, addon: AddonRef, quantity: int
    ) -> ChangeResult[int]:
        if addon.plan is not None:
            raise errors.ValidationError(f"The add-on '{addon}' is not sold per plan")
        limit = _LIMITS[addon.name]
        answer = await self.api.get(f"{_domain_path(tenant)}/limits", operation="limits")
        current = _Limits.model_validate(answer).limits.get(limit)

        async def put_limit() -> None:
            await self.api.put(
                f"{_domain_path(tenant)}/limits/{limit}",
                json={"value": quantity},
                idempotent=True,  # absolute, so a retry is harmless
                operation="set_limit",
                subject=tenant.name,
            )

        return await self.change(
            Change(subject=tenant.name, before=current, after=quantity, apply=put_limit)
        )

    # -- optional operations --------------------------------------------------------------

    async def _list_mailboxes(self, tenant: TenantRef) -> list[Mailbox]:
        return [self._mailbox(account) for account in await self._accounts(tenant)]

    async def _create_mailbox(
        self, tenant: TenantRef, mailbox: NewMailbox
    ) -> ChangeResult[Mailbox]:
        plan = self._plan(mailbox.plan or "mail") if mailbox.kind is MailboxKind.USER else None
        planned = Mailbox(
            address=mailbox.address,
            kind=mailbox.kind,
            plan=(mailbox.plan or "mail") if plan else None,
            display_name=mailbox.display_name,
            quota_mb=plan.quota_mb if plan else None,
        )
        existing = await self._account(MailboxRef(tenant=tenant, address=mailbox.address))
        if existing is not None:
            raise errors.ConflictError(f"The mailbox {mailbox.address} already exists")

        async def post_account() -> Applied[Mailbox]:
            body: dict[str, Any] = {
                "address": mailbox.address,
                "kind": mailbox.kind.value,
                "display_name": mailbox.display_name,
                "plan": plan.native if plan else None,
            }
            if mailbox.password is not None:
                password = mailbox.password.get_secret_value()
                self.http.add_secret(password)  # never in a log line or an error's debug
                body["password"] = password
            answer = await self.api.post(
                f"{_domain_path(tenant)}/accounts",
                json=body,
                operation="create_account",
                subject=mailbox.address,
            )
            return Applied(after=self._mailbox(_Account.model_validate(answer)))

        return await self.change(
            Change(subject=mailbox.address, before=None, after=planned, apply=post_account)
        )

    async def _delete_mailbox(self, mailbox: MailboxRef) -> ChangeResult[Mailbox]:
        account = await self._account(mailbox)

        async def delete_account() -> None:
            await self.api.delete(
                _account_path(mailbox),
                operation="delete_account",
                subject=mailbox.address,
                missing="account_not_found",  # deleted meanwhile: the target holds
            )

        return await self.change(
            Change(
                subject=mailbox.address,
                before=self._mailbox(account) if account else None,
                after=None,
                apply=delete_account,
            )
        )

    # -- mapping ---------------------------------------------------------------------------

    def _plan(self, name: str) -> MailcowPlan:
        self.plan(name)  # a user-safe error for an unknown plan
        return self.settings.plans[name]

    def _neutral(self, native: str | None) -> str | None:
        for neutral, plan in self.settings.plans.items():
            if plan.native == native:
                return neutral
        return None

    def _mailbox(self, account: _Account) -> Mailbox:
        plan = self.settings.plans.get(self._neutral(account.plan) or "")
        return Mailbox(
            address=account.address,
            kind=account.kind,
            plan=self._neutral(account.plan) or account.plan,
            display_name=account.display_name,
            quota_mb=plan.quota_mb if plan else None,
        )

    # -- reading the platform --------------------------------------------------------------

    async def _accounts(self, tenant: TenantRef) -> list[_Account]:
        answer = await self.api.get(
            f"{_domain_path(tenant)}/accounts", operation="list_accounts", subject=tenant.name
        )
        return [_Account.model_validate(item) for item in answer.get("accounts", [])]

    async def _account(self, mailbox: MailboxRef) -> _Account | None:
        answer = await self.api.get(
            _account_path(mailbox),
            operation="get_account",
            subject=mailbox.address,
            missing="account_not_found",
        )
        return None if answer is None else _Account.model_validate(answer)


#: Platform error code -> the mailadmin error and its user-safe message (``{provider}``:
#: the instance, ``{subject}``: what the call is about). Other error answers map by their
#: HTTP status (401, 404, 409, 429, 5xx...).
ERRORS = ErrorTable(
    [
        ErrorRule(
            code="unauthorized",
            error=errors.AuthenticationError,
            message="{provider} rejected the credentials",
        ),
        ErrorRule(
            code="domain_not_found",
            error=errors.NotFoundError,
            message="The domain of {subject} does not exist",
        ),
        ErrorRule(
            code="account_not_found",
            error=errors.NotFoundError,
            message="The mailbox {subject} does not exist",
        ),
        ErrorRule(
            code="account_exists", error=errors.ConflictError, message="{subject} already exists"
        ),
        ErrorRule(
            code="below_usage",
            error=errors.ConflictError,
            message="The add-on of {subject} cannot go below its use",
        ),
        ErrorRule(
            code="limit_reached",
            error=errors.QuotaExceeded,
            message="The domain of {subject} has no room left",
        ),
        ErrorRule(
            code="unknown_plan",
            error=errors.ConfigurationError,
            message="A plan configured for {provider} is unknown",
        ),
        ErrorRule(
            code="invalid_request",
            error=errors.ValidationError,
            message="{provider} refused a value sent for {subject} as invalid",
        ),
    ]
)

#: What the answer of each write carries (operation -> keys); an answer without them is
#: another call's, so the write's outcome is unknown, never "changed".
_ANSWER_KEYS: dict[str, frozenset[str]] = {"set_plan": frozenset({"address", "plan"})}


def _refusal(body: Any) -> Refusal | None:
    # The platform's error object is a refusal whatever status it came with (a 200 too).
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    return Refusal(code=error.get("code"), message=error.get("message"))


def _is_answer_of(body: Any, operation: str) -> bool:
    keys = _ANSWER_KEYS.get(operation)
    return keys is None or (isinstance(body, dict) and keys <= body.keys())


#: How an answer says it is the call's own, or a refusal (see AnswerCheck in the docs).
ANSWERS = AnswerCheck(refusal=_refusal, errors=ERRORS, expected=_is_answer_of)


def _domain_path(tenant: TenantRef) -> str:
    return f"{_API}/domains/{quote(tenant.key.lower(), safe='')}"


def _account_path(mailbox: MailboxRef) -> str:
    return f"{_domain_path(mailbox.tenant)}/accounts/{quote(mailbox.address, safe='@')}"

"""The Zextras mock's business rules over its :class:`~.model.Directory` (no HTTP here).

Rules follow the server as ``reference/zimbra.md`` describes it: the effective COS of an
account (explicit ``zimbraCOSId``, else the domain's ``zimbraDomainDefaultCOSId``, else
``default``); ``account.TOO_MANY_ACCOUNTS`` from ``zimbraDomainMaxAccounts`` and
``zimbraDomainCOSMaxAccounts`` on creation and on a COS change; ``CountAccount`` counting
accounts (not calendar resources, not system resources) under their effective COS; the
Zextras licence (trial for 30 days when none is active, activation by token, expiry,
``accountCount`` counted live with the documented LDAP filter).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from mailadmin.mock import ModelState
from mailadmin_zextras.mock.ldap import FilterError, parse
from mailadmin_zextras.mock.model import (
    ALL_FEATURES,
    DEFAULT_COS_ID,
    EDITION_FEATURES,
    Account,
    Cos,
    Directory,
    Domain,
    Entry,
    LicenceInfo,
    default_directory,
)

__all__ = ["LICENSED_MAILBOXES", "Search", "ZextrasState", "ZimbraFault"]

#: The filter Zextras documents for the mailboxes a licence must cover (TD licensing.rst).
LICENSED_MAILBOXES = (
    "(&(!(zimbraIsSystemAccount=*))(!(zimbraIsExternalVirtualAccount=*))"
    "(!(objectClass=zimbraCalendarResource))(objectClass=zimbraAccount)"
    "(zimbraMailDeliveryAddress=*))"
)
_DAY_MS = 86_400_000
_ATTR_NAME = re.compile(r"^[+-]?[A-Za-z][A-Za-z0-9-]*$")
# Attributes that describe the COS itself and are not inherited by its accounts.
_COS_OWN = frozenset({"cn", "description", "zimbranotes"})


class ZimbraFault(Exception):
    """A server fault: ``code`` (``account.NO_SUCH_ACCOUNT``), the Reason text, and whether
    the server blames itself (``soap:Receiver``) rather than the client (``soap:Sender``)."""

    #: Codes the server reports as receiver faults (ZM Soap12Protocol / ServiceException).
    RECEIVER = frozenset(
        {"service.FAILURE", "account.TOO_MANY_ACCOUNTS", "account.TOO_MANY_SEARCH_RESULTS"}
    )

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def receiver(self) -> bool:
        """True for a ``soap:Receiver`` fault."""
        return self.code in self.RECEIVER


def no_such_account(what: str) -> ZimbraFault:
    """``account.NO_SUCH_ACCOUNT``."""
    return ZimbraFault("account.NO_SUCH_ACCOUNT", f"no such account: {what}")


def invalid_request(what: str) -> ZimbraFault:
    """``service.INVALID_REQUEST``."""
    return ZimbraFault("service.INVALID_REQUEST", f"invalid request: {what}")


@dataclass(frozen=True)
class Search:
    """One ``SearchDirectoryRequest``'s result: the page of entries and the total."""

    entries: list[Entry]
    total: int
    more: bool


@dataclass
class _Session:
    account_id: str
    expires_at_ms: int


class ZextrasState(ModelState[Directory]):
    """Directory, sessions and licence of one Zextras mock server."""

    model = Directory

    def defaults(self) -> Directory:
        """The documented start state."""
        return default_directory()

    def reset(self) -> None:
        """Back to the defaults; every session ends."""
        self.sessions: dict[str, _Session] = {}
        #: ``Request/name`` of each parameter a request carried that the server does not
        #: read (it ignores them; see :mod:`.schema`), in the order they came.
        self.ignored: list[str] = []
        self._indexes: dict[str, dict[str, int]] = {}
        # Licence dates are wall-clock epoch ms; the mock's clock (a manual one in tests)
        # moves them forward from the moment of the reset.
        self._epoch = time.time() - self.clock.now()
        self.started_ms = self.now_ms
        super().reset()

    def apply_seed(self, seed: BaseModel) -> None:
        """Merge a validated seed: entries of ``coses``, ``domains`` and ``accounts`` replace
        those of the same name (or are added), ``licence`` fields replace those given, other
        fields replace the defaults; a ``zimbraCOSId`` or ``zimbraDomainDefaultCOSId`` may
        name a COS instead of giving its id."""
        assert isinstance(seed, Directory)
        for name in seed.model_fields_set:
            value = getattr(seed, name)
            if name in ("coses", "domains", "accounts"):
                current: list[Any] = getattr(self.data, name)
                # Each seeded entry replaces those of its name and goes last (a later
                # entry of the same name wins), in one pass: 10k accounts took a minute.
                last: dict[str, Any] = {}
                for entry in value:
                    last.pop(entry.name.lower(), None)
                    last[entry.name.lower()] = entry
                kept = [e for e in current if e.name.lower() not in last]
                current[:] = [*kept, *last.values()]
            elif name == "licence":
                for field in value.model_fields_set:
                    setattr(self.data.licence, field, getattr(value, field))
            else:
                setattr(self.data, name, value)
        by_name = {c.name.lower(): c.id for c in self.data.coses}
        for item, attr in [
            *((a, "zimbraCOSId") for a in self.data.accounts),
            *((d, "zimbraDomainDefaultCOSId") for d in self.data.domains),
        ]:
            cos = item.first(attr)
            if cos is not None and cos.lower() in by_name:
                item.put(attr, [by_name[cos.lower()]])

    @property
    def now_ms(self) -> int:
        """The clock, in epoch milliseconds."""
        return int((self._epoch + self.clock.now()) * 1000)

    # -- sessions ------------------------------------------------------------------------

    def authenticate(self, name: str, password: str) -> tuple[str, int]:
        """An admin token and its lifetime (ms) for good credentials of an admin account."""
        try:
            account = self.account_by_name(name)
        except ZimbraFault:
            raise ZimbraFault(
                "service.PERM_DENIED", "permission denied: Error in Authentication"
            ) from None
        if account.first("zimbraAccountStatus") not in (None, "active"):
            raise ZimbraFault("service.PERM_DENIED", "permission denied: Error in Authentication")
        if not secrets.compare_digest(account.password.encode(), password.encode()):
            raise ZimbraFault("account.AUTH_FAILED", f"authentication failed for [{name}]")
        if (account.first("zimbraIsAdminAccount") or "").upper() != "TRUE":
            raise ZimbraFault("service.PERM_DENIED", "permission denied: not an admin account")
        token = "0_" + secrets.token_hex(24)
        lifetime = self.data.token_lifetime_ms
        self.sessions[token] = _Session(account.id, self.now_ms + lifetime)
        return token, lifetime

    def check_token(self, token: str | None) -> Account:
        """The admin signed in with ``token``; ``AUTH_REQUIRED`` / ``AUTH_EXPIRED`` otherwise."""
        session = self.sessions.get(token or "")
        if session is None:
            raise ZimbraFault("service.AUTH_REQUIRED", "no valid authtoken present")
        if session.expires_at_ms <= self.now_ms:
            raise ZimbraFault("service.AUTH_EXPIRED", "auth credentials have expired")
        try:
            return self.account_by_id(session.account_id)
        except ZimbraFault:
            raise ZimbraFault("service.AUTH_REQUIRED", "no valid authtoken present") from None

    def expire_sessions(self) -> None:
        """End every session now (tests: the next call meets ``AUTH_EXPIRED``)."""
        for session in self.sessions.values():
            session.expires_at_ms = self.now_ms

    # -- lookups ---------------------------------------------------------------------------

    def account_by_name(self, name: str, *, calresource: bool | None = None) -> Account:
        """The account (or calendar resource) called ``name``; a name without a domain is
        in the default domain (the first one, as ``zimbraDefaultDomainName``)."""
        name = name.strip().lower()
        if "@" not in name and self.data.domains:
            name = f"{name}@{self.data.domains[0].name}"
        found = self._indexed("name", name, lambda a: a.name.lower())
        if found is not None and calresource in (None, found.calresource):
            return found
        return self._account(lambda a: a.name.lower() == name, name, calresource)

    def account_by_id(self, account_id: str, *, calresource: bool | None = None) -> Account:
        """The account (or calendar resource) with zimbraId ``account_id``."""
        found = self._indexed("id", account_id, lambda a: a.id)
        if found is not None and calresource in (None, found.calresource):
            return found
        return self._account(lambda a: a.id == account_id, account_id, calresource)

    def _indexed(self, kind: str, key: str, key_of: Callable[[Account], str]) -> Account | None:
        """The first account whose ``key_of`` is ``key``, through a position index.

        Accounts are added, removed and renamed in place all over the state, so a position
        is trusted only when the account there still has that key; else the index is
        rebuilt (a miss costs the scan it replaces)."""
        accounts = self.data.accounts
        index = self._indexes.get(kind)
        for _ in range(2):
            if index is not None:
                at = index.get(key)
                if at is not None and at < len(accounts) and key_of(accounts[at]) == key:
                    return accounts[at]
            index = {}
            for position, account in enumerate(accounts):
                index.setdefault(key_of(account), position)
            self._indexes[kind] = index
        return None

    def _account(
        self, wanted: Callable[[Account], bool], key: str, calresource: bool | None
    ) -> Account:
        # calresource None: either kind; True / False: only that kind.
        for account in self.data.accounts:
            if wanted(account) and calresource in (None, account.calresource):
                return account
        if calresource:
            raise ZimbraFault(
                "account.NO_SUCH_CALENDAR_RESOURCE", f"no such calendar resource: {key}"
            )
        raise no_such_account(key)

    def cos_by(self, by: str, key: str) -> Cos:
        """A COS by ``id`` or ``name``; ``account.NO_SUCH_COS`` otherwise."""
        for cos in self.data.coses:
            if (by == "id" and cos.id == key) or (by == "name" and cos.name == key):
                return cos
        raise ZimbraFault("account.NO_SUCH_COS", f"no such cos: {key}")

    def domain_by(self, by: str, key: str) -> Domain:
        """A domain by ``id`` or ``name``; ``account.NO_SUCH_DOMAIN`` otherwise."""
        for domain in self.data.domains:
            if (by == "id" and domain.id == key) or (
                by != "id" and domain.name.lower() == key.strip().lower()
            ):
                return domain
        raise ZimbraFault("account.NO_SUCH_DOMAIN", f"no such domain: {key}")

    def domain_of(self, account: Account) -> Domain:
        """The domain of an account."""
        return self.domain_by("name", account.domain)

    def effective_cos(self, account: Account) -> Cos:
        """Explicit ``zimbraCOSId``, else the domain default, else ``default``."""
        for candidate in (account.first("zimbraCOSId"), self._domain_default(account.domain)):
            if candidate:
                for cos in self.data.coses:
                    if cos.id == candidate:
                        return cos
        return self.cos_by("id", DEFAULT_COS_ID)

    def _domain_default(self, domain: str) -> str | None:
        for entry in self.data.domains:
            if entry.name.lower() == domain.lower():
                return entry.first("zimbraDomainDefaultCOSId")
        return None

    # -- attribute views ---------------------------------------------------------------------

    def ldap_view(self, entry: Entry) -> dict[str, list[str]]:
        """The entry as the directory sees it for filters: lower-case names, value lists."""
        view: dict[str, list[str]] = {}
        for key, value in entry.attrs.items():
            view[key.lower()] = list(value) if isinstance(value, list) else [value]
        view["zimbraid"] = [entry.id]
        if isinstance(entry, Account):
            view.setdefault("mail", [entry.name])
            view.setdefault("uid", [entry.name.partition("@")[0]])
            view.setdefault("objectclass", ["zimbraAccount"])
        elif isinstance(entry, Cos):
            view["objectclass"] = ["zimbraCOS"]
            view["cn"] = [entry.name]
        elif isinstance(entry, Domain):
            view["objectclass"] = ["dcObject", "zimbraDomain"]
            view["zimbradomainname"] = [entry.name]
        return view

    def effective_attrs(self, account: Account) -> dict[str, list[str]]:
        """The account's attributes with those of its effective COS applied (``applyCos``)."""
        merged: dict[str, list[str]] = {}
        for key, value in self.effective_cos(account).attrs.items():
            if key.lower() not in _COS_OWN:
                merged[key] = list(value) if isinstance(value, list) else [value]
        for key, value in account.attrs.items():
            merged[key] = list(value) if isinstance(value, list) else [value]
        return merged

    # -- accounts --------------------------------------------------------------------------

    def create_account(
        self,
        name: str,
        password: str | None,
        attrs: Sequence[tuple[str, str]],
        *,
        calresource: bool = False,
    ) -> Account:
        """A new account or calendar resource, after the server's checks."""
        name = name.strip().lower()
        local, at, domain_name = name.partition("@")
        if not local or not at or "." not in domain_name:
            raise invalid_request(f"invalid account name: {name}")
        domain = self.domain_by("name", domain_name)
        if any(a.name.lower() == name for a in self.data.accounts):
            raise ZimbraFault("account.ACCOUNT_EXISTS", f"email address already exists: {name}")
        account = Account(name=name, password=password or "", calresource=calresource)
        account.attrs = {
            "zimbraAccountStatus": "active",
            "zimbraMailDeliveryAddress": name,
            "objectClass": ["inetOrgPerson", "zimbraAccount", "amavisAccount"],
        }
        self._apply_attrs(account, attrs)
        if calresource:
            kind = account.first("zimbraCalResType") or ""
            if kind not in ("Location", "Equipment") or not account.first("displayName"):
                raise ZimbraFault(
                    "ldap.OBJECT_CLASS_VIOLATION",
                    "object class violation: zimbraCalResType and displayName are required",
                )
            account.put("zimbraAccountCalendarUserType", ["RESOURCE"])
            account.put("objectClass", ["inetOrgPerson", "zimbraAccount", "zimbraCalendarResource"])
        self._check_cos(account.first("zimbraCOSId"))
        if not calresource and not _is_system(account):
            self._check_limits(domain, self.effective_cos(account).id, adding=1)
        self.data.accounts.append(account)
        return account

    def modify_account(
        self, account_id: str, attrs: Sequence[tuple[str, str]], *, calresource: bool = False
    ) -> Account:
        """Change attributes; a COS change is checked against the domain's per-COS limit."""
        account = self.account_by_id(account_id, calresource=calresource or None)
        changed = account.model_copy(deep=True)
        self._apply_attrs(changed, attrs)
        _check_status(changed.first("zimbraAccountStatus"), "zimbraAccountStatus", _ACCOUNT_STATUS)
        self._check_cos(changed.first("zimbraCOSId"))
        _check_quota(changed)
        new_cos = self.effective_cos(changed).id
        if (
            not account.calresource
            and not _is_system(account)
            and new_cos != self.effective_cos(account).id
        ):
            self._check_cos_limit(self.domain_of(account), new_cos, adding=1)
        account.attrs = changed.attrs
        return account

    def set_password(self, account_id: str, password: str) -> None:
        """``SetPasswordRequest``: the COS's ``zimbraPasswordMinLength`` (6 when unset) and
        ``zimbraPasswordMaxLength`` (64) hold, as the server checks them."""
        account = self.account_by_id(account_id)
        attrs = self.effective_attrs(account)
        shortest = _integer((attrs.get("zimbraPasswordMinLength") or ["6"])[0], "min")
        longest = _integer((attrs.get("zimbraPasswordMaxLength") or ["64"])[0], "max")
        if len(password) < shortest:
            raise ZimbraFault("account.INVALID_PASSWORD", "invalid password: too short")
        if len(password) > longest:
            raise ZimbraFault("account.INVALID_PASSWORD", "invalid password: too long")
        account.password = password

    def add_alias(self, account_id: str, alias: str) -> None:
        """``AddAccountAliasRequest``: the alias's domain must exist and no account may
        hold the address as its name or an alias (``account.ACCOUNT_EXISTS``)."""
        account = self.account_by_id(account_id)
        alias = alias.strip().lower()
        local, at, domain_name = alias.partition("@")
        if not local or not at:
            raise invalid_request(f"invalid alias: {alias}")
        self.domain_by("name", domain_name)
        for other in self.data.accounts:
            if alias == other.name.lower() or alias in map(
                str.lower, other.values("zimbraMailAlias")
            ):
                raise ZimbraFault(
                    "account.ACCOUNT_EXISTS", f"email address already exists: {alias}"
                )
        account.put("zimbraMailAlias", [*account.values("zimbraMailAlias"), alias])

    def remove_alias(self, account_id: str, alias: str) -> None:
        """``RemoveAccountAliasRequest``: an alias the account does not hold is
        ``account.NO_SUCH_ALIAS``."""
        account = self.account_by_id(account_id)
        held = account.values("zimbraMailAlias")
        if alias.strip().lower() not in map(str.lower, held):
            raise ZimbraFault("account.NO_SUCH_ALIAS", f"no such alias: {alias}")
        account.put("zimbraMailAlias", [a for a in held if a.lower() != alias.strip().lower()])

    def delete_account(self, account_id: str, *, calresource: bool = False) -> None:
        """Remove an account (or calendar resource)."""
        account = self.account_by_id(account_id, calresource=calresource or None)
        self.data.accounts.remove(account)

    def create_domain(self, name: str, attrs: Sequence[tuple[str, str]]) -> Domain:
        """``CreateDomainRequest``: a new domain with its attributes (default COS, limits,
        status), checked as :meth:`modify_domain` checks them; ``account.DOMAIN_EXISTS``
        when the name is taken."""
        name = name.strip().lower()
        if not name or "." not in name or "@" in name or " " in name:
            raise invalid_request(f"invalid domain name: {name}")
        if any(d.name.lower() == name for d in self.data.domains):
            raise ZimbraFault("account.DOMAIN_EXISTS", f"domain already exists: {name}")
        domain = Domain(name=name)
        domain.attrs = {"zimbraDomainStatus": "active", "zimbraDomainType": "local"}
        self.data.domains.append(domain)
        try:
            return self.modify_domain(domain.id, attrs)
        except ZimbraFault:
            self.data.domains.remove(domain)
            raise

    def delete_domain(self, domain_id: str) -> None:
        """``DeleteDomainRequest``: refused (``account.DOMAIN_NOT_EMPTY``) while an account
        or calendar resource of the domain is left, as the server refuses it."""
        domain = self.domain_by("id", domain_id)
        if any(a.domain == domain.name.lower() for a in self.data.accounts):
            raise ZimbraFault("account.DOMAIN_NOT_EMPTY", f"domain not empty: {domain.name}")
        self.data.domains.remove(domain)

    def modify_domain(self, domain_id: str, attrs: Sequence[tuple[str, str]]) -> Domain:
        """Change a domain's attributes (limits are validated as the server does)."""
        domain = self.domain_by("id", domain_id)
        changed = domain.model_copy(deep=True)
        self._apply_attrs(changed, attrs)
        _check_status(changed.first("zimbraDomainStatus"), "zimbraDomainStatus", _DOMAIN_STATUS)
        limit = changed.first("zimbraDomainMaxAccounts")
        if limit is not None:
            number = _integer(limit, "zimbraDomainMaxAccounts")
            if number < 0:
                raise ZimbraFault(
                    "account.INVALID_ATTR_VALUE",
                    f"zimbraDomainMaxAccounts value({number}) smaller than minimum allowed: 0",
                )
        for value in changed.values("zimbraDomainCOSMaxAccounts"):
            cos_id, sep, count = value.partition(":")
            if not sep or _integer(count, "zimbraDomainCOSMaxAccounts") < 0:
                raise ZimbraFault(
                    "account.INVALID_ATTR_VALUE",
                    f"invalid attr value: zimbraDomainCOSMaxAccounts must be cosId:max ({value})",
                )
            self.cos_by("id", cos_id)
        quota = changed.first("zimbraDomainAggregateQuota")
        if quota is not None and _integer(quota, "zimbraDomainAggregateQuota") < 0:
            raise ZimbraFault(
                "account.INVALID_ATTR_VALUE", "invalid attr value: zimbraDomainAggregateQuota"
            )
        domain.attrs = changed.attrs
        return domain

    def _apply_attrs(self, entry: Entry, attrs: Sequence[tuple[str, str]]) -> None:
        # Values of one name replace the attribute together; "+name" adds a value, "-name"
        # removes one (the zmprov convention); an empty value removes the attribute.
        replaced: dict[str, list[str]] = {}
        for raw_name, value in attrs:
            if not _ATTR_NAME.match(raw_name):
                raise ZimbraFault("account.INVALID_ATTR_NAME", f"invalid attr name: {raw_name}")
            if raw_name[0] in "+-":
                name = raw_name[1:]
                values = entry.values(name)
                if raw_name[0] == "+" and value not in values:
                    values.append(value)
                elif raw_name[0] == "-":
                    values = [v for v in values if v != value]
                entry.put(name, values)
                continue
            replaced.setdefault(raw_name, [])
            if value != "":
                replaced[raw_name].append(value)
        for name, values in replaced.items():
            entry.put(name, values)

    def _check_cos(self, cos_id: str | None) -> None:
        if cos_id:
            self.cos_by("id", cos_id)

    def _members(self, domain: Domain) -> list[Account]:
        # The accounts a domain limit counts: no calendar resources, external or system
        # resource accounts (ZM Validators, CountObjects internalUserAccount).
        return [
            a
            for a in self.data.accounts
            if a.domain == domain.name.lower()
            and not a.calresource
            and not _is_system(a)
            and (a.first("zimbraIsExternalVirtualAccount") or "").upper() != "TRUE"
        ]

    def _check_limits(self, domain: Domain, cos_id: str, *, adding: int) -> None:
        limit = domain.first("zimbraDomainMaxAccounts")
        if limit is not None:
            maximum = int(limit)
            if len(self._members(domain)) + adding > maximum:
                raise ZimbraFault(
                    "account.TOO_MANY_ACCOUNTS",
                    f"number of accounts reached the limit: domain={domain.name} ({maximum})",
                )
        self._check_cos_limit(domain, cos_id, adding=adding)

    def _check_cos_limit(self, domain: Domain, cos_id: str, *, adding: int) -> None:
        for value in domain.values("zimbraDomainCOSMaxAccounts"):
            limited, _, raw = value.partition(":")
            if limited != cos_id:
                continue
            maximum = int(raw)
            count = sum(1 for a in self._members(domain) if self.effective_cos(a).id == cos_id)
            if count + adding > maximum:
                raise ZimbraFault(
                    "account.TOO_MANY_ACCOUNTS",
                    "number of accounts reached the limit: "
                    f"domain={domain.name}[cos={cos_id},count={count},limit={maximum}]",
                )

    # -- counting and searching ------------------------------------------------------------

    def count_account(self, domain: Domain) -> list[tuple[Cos, int]]:
        """``CountAccount``: accounts of the domain per effective COS (COSes with none are
        left out); calendar resources and system resources are not counted."""
        counts: dict[str, int] = {}
        for account in self.data.accounts:
            if account.domain != domain.name.lower() or account.calresource:
                continue
            if (account.first("zimbraIsSystemResource") or "").upper() == "TRUE":
                continue
            cos = self.effective_cos(account)
            counts[cos.id] = counts.get(cos.id, 0) + 1
        return [(self.cos_by("id", cos_id), n) for cos_id, n in sorted(counts.items())]

    def search(
        self,
        query: str,
        *,
        types: str = "accounts",
        domain: str | None = None,
        offset: int = 0,
        limit: int = 0,
        max_results: int | None = None,
        count_only: bool = False,
    ) -> Search:
        """``SearchDirectory``: entries of ``types`` matching the LDAP filter ``query``.

        The server runs the whole search with ``max_results`` as its size limit (the
        request's ``maxResults``, else the server's ``max_search_results``) before it
        counts or pages, so ``countOnly`` and ``limit``/``offset`` do not lift it: past
        it the answer is ``account.TOO_MANY_SEARCH_RESULTS`` (ZM SearchDirectory.java,
        LdapProvisioning's SizeLimitExceededException)."""
        if max_results is None:
            max_results = self.data.max_search_results
        kinds = {t.strip().lower() for t in (types or "accounts").split(",") if t.strip()}
        unknown = kinds - {
            "accounts",
            "resources",
            "coses",
            "domains",
            "distributionlists",
            "dynamicgroups",
            "aliases",
        }
        if unknown:
            raise invalid_request(f"unknown type: {', '.join(sorted(unknown))}")
        if domain and "coses" in kinds:
            raise invalid_request("cannot specify domain with coses flag")
        in_domain = self.domain_by("name", domain).name.lower() if domain else None
        try:
            matches = parse(query)
        except FilterError as exc:
            raise invalid_request(f"invalid query: {exc}") from None
        candidates: list[Entry] = []
        for account in self.data.accounts:
            wanted = "resources" if account.calresource else "accounts"
            if wanted in kinds and (in_domain is None or account.domain == in_domain):
                candidates.append(account)
        if "coses" in kinds:
            candidates.extend(self.data.coses)
        if "domains" in kinds:
            candidates.extend(
                d for d in self.data.domains if in_domain is None or d.name == in_domain
            )
        found = sorted(
            (e for e in candidates if matches(self.ldap_view(e))), key=lambda e: e.name.lower()
        )
        if max_results and len(found) > max_results:
            raise ZimbraFault(
                "account.TOO_MANY_SEARCH_RESULTS",
                "number of results exceeded the limit: too many search results returned",
            )
        if count_only:
            return Search([], len(found), False)
        page = found[offset : offset + limit] if limit else found[offset:]
        return Search(page, len(found), offset + len(page) < len(found))

    def licensed_mailboxes(self) -> int:
        """The mailboxes a licence must cover, counted with :data:`LICENSED_MAILBOXES`."""
        return self.search(LICENSED_MAILBOXES, count_only=True, max_results=0).total

    # -- the Zextras licence -----------------------------------------------------------------

    def licence_info(self) -> dict[str, Any]:
        """The ``getLicenseInfo`` answer (the inner ``response`` object)."""
        store = self.data.licence
        now = self.now_ms
        if store.active is not None:
            info = store.active
            fields = info.model_dump(exclude_none=True)
            expired = info.dateEnd <= now
            fields.update(
                accountCount=self.licensed_mailboxes(),
                expired=expired,
                notYetValid=info.dateStart > now,
                isWithinGraceInterval=False,
                authenticationToken=store.token or "",
                maintenanceStatus="expired" if expired else "active",
                features=self._features(info),
            )
            return fields
        start = store.installed_at if store.installed_at is not None else self.started_ms
        end = start + store.trial_days * _DAY_MS
        return {
            "type": "Trial" if now < end else "None",
            "subType": "TRIAL",
            "licensedUsers": store.trial_users,
            "accountCount": self.licensed_mailboxes(),
            "dateStart": start,
            "dateEnd": end,
            "expired": now >= end,
            "notYetValid": False,
            "isWithinGraceInterval": False,
            "maintenanceStatus": "active" if now < end else "expired",
            "editions": [{"name": name, "quantity": "unlimited"} for name in EDITION_FEATURES],
            "features": [
                {"name": name, "quantity": "unlimited", "enabled": now < end}
                for name in ALL_FEATURES
            ],
        }

    def _features(self, info: LicenceInfo) -> list[dict[str, Any]]:
        if info.features:
            return [dict(f) for f in info.features]
        owned: dict[str, str] = {}
        for edition in info.editions:
            quantity = str(edition.get("quantity", "0"))
            if quantity in ("0", "none"):
                continue
            for feature in EDITION_FEATURES.get(str(edition.get("name")), []):
                owned.setdefault(feature, quantity)
        return [
            {"name": name, "quantity": owned.get(name, "0"), "enabled": name in owned}
            for name in ALL_FEATURES
        ]

    def activate_licence(self, token: str, *, renewal: bool = False) -> str:
        """Activate the catalogue licence of ``token``; the message the server answers."""
        terms = self.data.licence.catalogue.get(token)
        if terms is None:
            raise ZimbraFault("zextras.INVALID_TOKEN", "invalid licence token")
        if self.data.licence.token == token and not renewal:
            return "License already activated"
        self.data.licence.active = terms.model_copy(deep=True)
        self.data.licence.token = token
        return "License activated"

    def remove_licence(self) -> str:
        """Remove the active licence (the server falls back to its trial, or to none)."""
        self.data.licence.active = None
        self.data.licence.token = None
        return "License removed"


#: The values Zimbra's attribute schema allows (locked: no login, mail still delivered).
_ACCOUNT_STATUS = ("active", "maintenance", "locked", "closed", "lockout", "pending")
#: A suspended domain refuses its users' logins; nothing of it is deleted.
_DOMAIN_STATUS = ("active", "maintenance", "locked", "closed", "suspended", "shutdown")


def _check_status(value: str | None, attr: str, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise ZimbraFault(
            "account.INVALID_ATTR_VALUE",
            f"invalid attr value: {attr} must be one of: {', '.join(allowed)}",
        )


def _is_system(account: Account) -> bool:
    return (account.first("zimbraIsSystemResource") or "").upper() == "TRUE"


def _integer(value: str, attr: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ZimbraFault(
            "account.INVALID_ATTR_VALUE", f"invalid attr value: {attr} must be an integer"
        ) from None


def _check_quota(account: Account) -> None:
    quota = account.first("zimbraMailQuota")
    if quota is not None and _integer(quota, "zimbraMailQuota") < 0:
        raise ZimbraFault("account.INVALID_ATTR_VALUE", "invalid attr value: zimbraMailQuota")

"""The mailcow platform's data and business rules (no HTTP here), after mailcow-dockerized's
``functions.mailbox.inc.php`` as described in the project's mailcow wire reference.

Default state, documented for every client of the mock:

- a read-write API key ``0A1B2C-3D4E5F-6A7B8C-9D0E1F-2A3B4C`` and a read-only key
  ``1F2E3D-4C5B6A-7F8E9D-0C1B2A-3F4E5D``; version ``2026-07a``;
- domain ``example.com`` with the Default template's limits (10 mailboxes, mailbox quota
  at most 10240 MiB, 3072 by default) and a domain quota of 51200 MiB;
- mailboxes ``anna@`` (2048 MiB, IMAP/POP3, no ActiveSync/DAV) and ``ben@`` (5120 MiB,
  every protocol).

Quotas are kept in MiB as requests give them; answers give bytes. Seed format: the shape
``snapshot()`` returns; a key given replaces that part of the defaults::

    {"domains": {"example.com": {"mailboxes": 2, "quota": 4096}},
     "mailboxes": {"anna@example.com": {"quota": 1024, "eas_access": 0}}}
"""

from __future__ import annotations

from typing import Any

from mailadmin.mock import ModelState
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PROTOCOLS", "MailcowData", "MailcowRefused", "MailcowState"]

#: The access flags a mailbox carries (``attributes.<name>`` as ``"0"``/``"1"``).
PROTOCOLS = (
    "imap_access",
    "pop3_access",
    "smtp_access",
    "sieve_access",
    "eas_access",
    "dav_access",
    "sogo_access",
)
_MIB = 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Domain(_Strict):
    """A domain's limits, in the units of ``add/domain`` (MiB)."""

    description: str = ""
    aliases: int = 400
    mailboxes: int = 10
    defquota: int = 3072
    maxquota: int = 10240
    quota: int = 10240
    active: int = 1


class Mailbox(_Strict):
    local_part: str
    domain: str
    name: str = ""
    quota: int = 0  # MiB; 0 is unlimited
    active: int = 1
    password: str = ""
    imap_access: int = 1
    pop3_access: int = 1
    smtp_access: int = 1
    sieve_access: int = 1
    eas_access: int = 1
    dav_access: int = 1
    sogo_access: int = 1


def _default_mailboxes() -> dict[str, Mailbox]:
    return {
        "anna@example.com": Mailbox(
            local_part="anna",
            domain="example.com",
            name="Anna",
            quota=2048,
            eas_access=0,
            dav_access=0,
        ),
        "ben@example.com": Mailbox(local_part="ben", domain="example.com", name="Ben", quota=5120),
    }


class Alias(_Strict):
    """An alias object (``add/alias``): mail to ``address`` goes to ``goto`` (a comma
    list)."""

    id: int
    address: str
    goto: str
    active: int = 1


class MailcowData(_Strict):
    """Everything the mock holds."""

    version: str = "2026-07a"
    rw_keys: list[str] = ["0A1B2C-3D4E5F-6A7B8C-9D0E1F-2A3B4C"]
    ro_keys: list[str] = ["1F2E3D-4C5B6A-7F8E9D-0C1B2A-3F4E5D"]
    domains: dict[str, Domain] = Field(
        default_factory=lambda: {"example.com": Domain(description="example.com", quota=51200)}
    )
    mailboxes: dict[str, Mailbox] = Field(default_factory=_default_mailboxes)
    aliases: list[Alias] = Field(default_factory=list)


class MailcowRefused(Exception):
    """A refusal: ``msg`` is the answer's ``msg`` (a bare key or ``[key, args...]``)."""

    def __init__(self, msg: str | list[Any]) -> None:
        super().__init__(str(msg))
        self.msg = msg


class MailcowState(ModelState[MailcowData]):
    """Domains and mailboxes with mailcow's checks, in its order."""

    model = MailcowData

    # -- reads ---------------------------------------------------------------------------

    def domain_view(self, name: str) -> dict[str, Any] | None:
        """The ``get/domain/<name>`` object (quotas in bytes), or ``None``."""
        domain = self.data.domains.get(name.lower())
        if domain is None:
            return None
        used = self._allocated(name)
        count = len(self._of(name))
        left = max(domain.quota - used, 0)
        return {
            "domain_name": name.lower(),
            "domain_h_name": name.lower(),
            "description": domain.description or name.lower(),
            "max_num_aliases_for_domain": domain.aliases,
            "max_num_mboxes_for_domain": domain.mailboxes,
            "def_quota_for_mbox": domain.defquota * _MIB,
            "max_quota_for_mbox": domain.maxquota * _MIB,
            "max_quota_for_domain": domain.quota * _MIB,
            "max_new_mailbox_quota": min(left, domain.maxquota) * _MIB,
            "def_new_mailbox_quota": min(left, domain.maxquota, domain.defquota) * _MIB,
            "quota_used_in_domain": str(used * _MIB),
            "bytes_total": 0,
            "msgs_total": 0,
            "mboxes_in_domain": count,
            "mboxes_left": max(domain.mailboxes - count, 0),
            "aliases_in_domain": 0,
            "aliases_left": domain.aliases,
            "active": domain.active,
            "active_int": domain.active,
            "backupmx": 0,
            "backupmx_int": 0,
            "gal": 1,
            "gal_int": 1,
            "relay_all_recipients": 0,
            "relay_all_recipients_int": 0,
            "relay_unknown_only": 0,
            "relay_unknown_only_int": 0,
            "relayhost": "0",
            "rl": False,
            "created": "2026-01-01 00:00:00",
            "modified": None,
            "domain_admins": "-",
        }

    def mailbox_view(self, username: str) -> dict[str, Any] | None:
        """The ``get/mailbox/<user>`` object (quota in bytes, flags as strings), or ``None``."""
        box = self.data.mailboxes.get(username.lower())
        if box is None:
            return None
        attributes = {p: str(getattr(box, p)) for p in PROTOCOLS}
        attributes |= {
            "force_pw_update": "0",
            "tls_enforce_in": "0",
            "tls_enforce_out": "0",
            "relayhost": "0",
            "mailbox_format": "maildir:",
            "quarantine_notification": "hourly",
            "quarantine_category": "reject",
        }
        return {
            "username": username.lower(),
            "local_part": box.local_part,
            "domain": box.domain,
            "name": box.name,
            "authsource": "mailcow",
            "active": box.active,
            "active_int": box.active,
            "quota": box.quota * _MIB,
            "quota_used": 0,
            "messages": 0,
            "percent_in_use": "- " if box.quota == 0 else 0,
            "percent_class": "info" if box.quota == 0 else "success",
            "attributes": attributes,
            "custom_attributes": [],
            "last_imap_login": 0,
            "last_smtp_login": 0,
            "last_pop3_login": 0,
            "last_sso_login": 0,
            "spam_aliases": 0,
            "pushover_active": 0,
            "is_relayed": 0,
            "rl": False,
            "rl_scope": "domain",
            "sender_acl": [],
            "created": "2026-01-01 00:00:00",
            "modified": None,
        }

    def mailboxes_of(self, domains: list[str]) -> list[dict[str, Any]]:
        """``get/mailbox/all/<d1,d2>``: a domain that does not exist falls through to every
        mailbox on the server (mailcow's own behaviour)."""
        if any(d.lower() not in self.data.domains for d in domains):
            names = list(self.data.mailboxes)
        else:
            wanted = {d.lower() for d in domains}
            names = [n for n, b in self.data.mailboxes.items() if b.domain in wanted]
        return [view for n in names if (view := self.mailbox_view(n)) is not None]

    # -- writes --------------------------------------------------------------------------

    def add_mailbox(self, attr: dict[str, Any]) -> str:
        """``add/mailbox``: the checks of the reference's section 6.2, in their order."""
        local = str(attr.get("local_part", "")).strip().lower()
        domain_name = str(attr.get("domain", "")).strip().lower()
        username = f"{local}@{domain_name}"
        if not local or not _address(username):
            raise MailcowRefused("mailbox_invalid")
        if not domain_name or "." not in domain_name:
            raise MailcowRefused("domain_invalid")
        domain = self.data.domains.get(domain_name)
        if domain is None:
            raise MailcowRefused("access_denied")
        if username in self.data.mailboxes:
            raise MailcowRefused(["object_exists", username])
        password, again = str(attr.get("password", "")), str(attr.get("password2", ""))
        if not password or not again or len(password) < 6:
            raise MailcowRefused("password_complexity")
        if password != again:
            raise MailcowRefused("password_mismatch")
        quota = _mib(attr.get("quota", 0))
        count = len(self._of(domain_name))
        if count >= domain.mailboxes:
            raise MailcowRefused(["max_mailbox_exceeded", count, domain.mailboxes])
        if quota > domain.maxquota:
            raise MailcowRefused(["mailbox_quota_exceeded", domain.maxquota])
        left = domain.quota - self._allocated(domain_name)
        if quota > left:
            raise MailcowRefused(["mailbox_quota_left_exceeded", left])
        flags = {p: _flag(attr.get(p, 1)) for p in PROTOCOLS}
        self.data.mailboxes[username] = Mailbox(
            local_part=local,
            domain=domain_name,
            name=str(attr.get("name", "")),
            quota=quota,
            active=_flag(attr.get("active", 1)),
            password=password,
            **flags,
        )
        return username

    def edit_mailbox(self, item: str, attr: dict[str, Any]) -> None:
        """``edit/mailbox`` of one item (reference 6.4); omitted attributes are kept."""
        username = str(item).strip().lower()
        if not _address(username):
            raise MailcowRefused(["username_invalid", item])
        box = self.data.mailboxes.get(username)
        if box is None:
            raise MailcowRefused("access_denied")
        domain = self.data.domains[box.domain]
        quota = box.quota
        if attr.get("quota", "") != "":
            quota = _mib(attr["quota"])
            others = self._allocated(box.domain) - box.quota
            allowed = min(domain.quota - others, domain.maxquota)
            if quota > allowed:
                raise MailcowRefused(["mailbox_quota_left_exceeded", allowed])
        changes: dict[str, Any] = {"quota": quota}
        if "password" in attr or "password2" in attr:
            password, again = str(attr.get("password", "")), str(attr.get("password2", ""))
            if len(password) < 6:
                raise MailcowRefused("password_complexity")
            if password != again:
                raise MailcowRefused("password_mismatch")
            changes["password"] = password
        for name in (*PROTOCOLS, "active"):
            if name in attr:
                changes[name] = _flag(attr[name])
        if attr.get("name"):
            changes["name"] = str(attr["name"])
        self.data.mailboxes[username] = box.model_copy(update=changes)

    def add_alias(self, attr: dict[str, Any]) -> str:
        """``add/alias``: the address must be new (no alias, no mailbox holds it), its
        domain one of the server's, ``goto`` non-empty."""
        address = str(attr.get("address", "")).strip().lower()
        goto = str(attr.get("goto", "")).strip().lower()
        if not _address(address) or address.partition("@")[2] not in self.data.domains:
            raise MailcowRefused(["alias_invalid", address])
        if not goto:
            raise MailcowRefused("goto_empty")
        if address in self.data.mailboxes or any(a.address == address for a in self.data.aliases):
            raise MailcowRefused(["is_alias_or_mailbox", address])
        next_id = max((a.id for a in self.data.aliases), default=0) + 1
        active = _flag(attr.get("active", 1))
        self.data.aliases.append(Alias(id=next_id, address=address, goto=goto, active=active))
        return address

    def delete_alias(self, item: Any) -> str:
        """``delete/alias`` of one alias id."""
        for alias in self.data.aliases:
            if str(alias.id) == str(item).strip():
                self.data.aliases.remove(alias)
                return alias.address
        raise MailcowRefused("access_denied")

    def alias_views(self) -> list[dict[str, Any]]:
        """``get/alias/all``: every alias object."""
        return [
            {
                "id": a.id,
                "address": a.address,
                "goto": a.goto,
                "domain": a.address.partition("@")[2],
                "active": a.active,
                "is_catch_all": 0,
            }
            for a in self.data.aliases
        ]

    def delete_mailbox(self, item: str) -> str:
        """``delete/mailbox`` of one item (reference 6.5)."""
        username = str(item).strip().lower()
        if username not in self.data.mailboxes:
            raise MailcowRefused("access_denied")
        del self.data.mailboxes[username]
        return username

    def add_domain(self, attr: dict[str, Any]) -> str:
        """``add/domain`` (reference 5.2): the Default template's limits unless given; the
        first failure of the reference's order ends the request."""
        base = Domain()
        values = {
            key: attr.get(key, getattr(base, key))
            for key in ("aliases", "mailboxes", "defquota", "maxquota", "quota")
        }
        defquota, maxquota, quota = (
            _mib(values["defquota"]),
            _mib(values["maxquota"]),
            _mib(values["quota"]),
        )
        if defquota > maxquota:
            raise MailcowRefused("mailbox_defquota_exceeds_mailbox_maxquota")
        if maxquota > quota:
            raise MailcowRefused("mailbox_quota_exceeds_domain_quota")
        if defquota == 0:
            raise MailcowRefused("defquota_empty")
        if maxquota == 0:
            raise MailcowRefused("maxquota_empty")
        name = str(attr.get("domain", "")).strip().lower()
        if not name or "." not in name or "@" in name or " " in name:
            raise MailcowRefused("domain_invalid")
        if name in self.data.domains:
            raise MailcowRefused(["domain_exists", name])
        self.data.domains[name] = Domain(
            description=str(attr.get("description") or name),
            aliases=_mib(values["aliases"]),
            mailboxes=_mib(values["mailboxes"]),
            defquota=defquota,
            maxquota=maxquota,
            quota=quota,
            active=_flag(attr.get("active", 1)),
        )
        return name

    def delete_domain(self, item: str) -> str:
        """``delete/domain`` of one item (reference 5.4): refused while any mailbox of it
        is left; no existence check (a valid name that is not there is "removed")."""
        name = str(item).strip().lower()
        if not name or "." not in name or "@" in name:
            raise MailcowRefused("domain_invalid")
        if self._of(name):
            raise MailcowRefused(["domain_not_empty", name])
        self.data.domains.pop(name, None)
        return name

    def edit_domain(self, item: str, attr: dict[str, Any]) -> str:
        """``edit/domain`` of one item (reference 5.3): ``0``/``""`` for ``quota`` and
        ``maxquota`` keep the value; ``mailboxes`` takes any value but ``""``."""
        name = str(item).strip().lower()
        domain = self.data.domains.get(name)
        if domain is None:
            raise MailcowRefused("domain_invalid")
        mailboxes = domain.mailboxes if attr.get("mailboxes", "") == "" else _mib(attr["mailboxes"])
        quota = _mib(attr["quota"]) if attr.get("quota") not in (None, "", 0, "0") else domain.quota
        maxquota = (
            _mib(attr["maxquota"])
            if attr.get("maxquota") not in (None, "", 0, "0")
            else domain.maxquota
        )
        if domain.defquota > maxquota:
            raise MailcowRefused("mailbox_defquota_exceeds_mailbox_maxquota")
        if maxquota > quota:
            raise MailcowRefused("mailbox_quota_exceeds_domain_quota")
        boxes = self._of(name)
        biggest = max((b.quota for b in boxes), default=0)
        if biggest > maxquota:
            raise MailcowRefused(["max_quota_in_use", biggest])
        used = self._allocated(name)
        if used > quota:
            raise MailcowRefused(["domain_quota_m_in_use", str(used)])
        if len(boxes) > mailboxes:
            raise MailcowRefused(["mailboxes_in_use", len(boxes)])
        active = _flag(attr["active"]) if "active" in attr else domain.active
        self.data.domains[name] = domain.model_copy(
            update={
                "mailboxes": mailboxes,
                "quota": quota,
                "maxquota": maxquota,
                "active": active,
            }
        )
        return name

    # -- helpers -------------------------------------------------------------------------

    def _of(self, domain: str) -> list[Mailbox]:
        return [b for b in self.data.mailboxes.values() if b.domain == domain.lower()]

    def _allocated(self, domain: str) -> int:
        # Unlimited mailboxes (quota 0) count as nothing toward the domain quota.
        return sum(b.quota for b in self._of(domain))


def _address(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(local and at and "." in domain and " " not in value)


def _mib(value: Any) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise MailcowRefused("object_is_not_numeric") from None
    return max(number, 0)


def _flag(value: Any) -> int:
    return 1 if str(value).strip().lower() in ("1", "true", "on", "yes") else 0

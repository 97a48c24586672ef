"""OX module access: the per-user feature switches and the named access combinations.

An access combination is a named set of module tokens defined on the server in
``ModuleAccessDefinitions.properties``; on the wire the same switches appear as the
boolean fields of ``UserModuleAccess``. :data:`STOCK` is the file shipped with OX (the
table of the wire reference, section 4.1). Deployments replace it, so the provider treats
combination names as configuration and only uses this table to describe plans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = [
    "ADMIN_ONLY",
    "FLAGS",
    "STOCK",
    "TOKEN_TO_FLAG",
    "flags_of",
    "tokens_of",
]

#: Every ``UserModuleAccess`` field, in the WSDL's order.
FLAGS: tuple[str, ...] = (
    "OLOX20",
    "USM",
    "activeSync",
    "calendar",
    "collectEmailAddresses",
    "contacts",
    "delegateTask",
    "deniedPortal",
    "editGroup",
    "editPassword",
    "editPublicFolders",
    "editResource",
    "globalAddressBookDisabled",
    "ical",
    "infostore",
    "multipleMailAccounts",
    "publicFolderEditable",
    "publication",
    "readCreateSharedFolders",
    "subscription",
    "syncml",
    "tasks",
    "vcard",
    "webdav",
    "webdavXml",
    "webmail",
)

#: Token of ``ModuleAccessDefinitions.properties`` -> ``UserModuleAccess`` field.
TOKEN_TO_FLAG: dict[str, str] = {flag.lower(): flag for flag in FLAGS}
_FLAG_TO_TOKEN = {flag: token for token, flag in TOKEN_TO_FLAG.items()}

#: The right OX grants only to context administrators; normal users never hold it, so for
#: them ``all`` is the same set as ``groupware_premium``.
ADMIN_ONLY = "publicfoldereditable"


def _tokens(text: str) -> frozenset[str]:
    return frozenset(token.strip() for token in text.split(",") if token.strip())


_PIM = "webmail,calendar,contacts,tasks,globaladdressbookdisabled,collectemailaddresses,"
_PIM += "multiplemailaccounts,subscription,publication,editpassword"
_GW_STD = "webmail,calendar,contacts,infostore,tasks,webdav,ical,vcard,readcreatesharedfolders,"
_GW_STD += "delegatetask,editpublicfolders,editgroup,editresource,editpassword,"
_GW_STD += "collectemailaddresses,multiplemailaccounts,subscription,publication"

#: OX's stock access combinations, in the file's order (reverse lookup takes the first
#: exact match, so the order decides between equal sets).
STOCK: dict[str, frozenset[str]] = {
    "webmail_plus": _tokens("contacts,webmail"),
    "pim_plus": _tokens("contacts,webmail,calendar,tasks"),
    "groupware_plus": _tokens(
        "contacts,webmail,calendar,delegatetask,tasks,editpublicfolders,infostore,"
        "publicfoldereditable,readcreatesharedfolders"
    ),
    "premium": _tokens(
        "contacts,webmail,calendar,delegatetask,tasks,editpublicfolders,infostore,"
        "publicfoldereditable,readcreatesharedfolders,ical,vcard,webdav,webdavxml"
    ),
    "groupware": _tokens(
        "calendar,contacts,delegatetask,editpublicfolders,ical,infostore,publicfoldereditable,"
        "readcreatesharedfolders,tasks,vcard,webdav,webdavxml,webmail,editresource,editgroup,"
        "editpassword,collectemailaddresses,multiplemailaccounts,subscription,publication"
    ),
    "webmail": _tokens(
        "webmail,contacts,globaladdressbookdisabled,collectemailaddresses,editpassword"
    ),
    "pim": _tokens(_PIM),
    "pim_infostore": _tokens(_PIM + ",infostore,webdav"),
    "pim_mobility": _tokens(_PIM + ",syncml,usm,activesync"),
    "groupware_standard": _tokens(_GW_STD),
    "groupware_premium": _tokens(_GW_STD + ",webdavxml,syncml,usm,olox20,activesync"),
    "drive": _tokens("globaladdressbookdisabled,infostore,deniedportal,publication"),
    "all": _tokens(_GW_STD + ",webdavxml,syncml,usm,olox20,activesync,publicfoldereditable"),
}


def flags_of(tokens: Iterable[str]) -> dict[str, bool]:
    """The full ``UserModuleAccess`` flag set (every field) for a set of tokens."""
    held = {TOKEN_TO_FLAG[t] for t in tokens if t in TOKEN_TO_FLAG}
    return {flag: flag in held for flag in FLAGS}


def tokens_of(flags: Mapping[str, bool]) -> frozenset[str]:
    """The tokens switched on in a ``UserModuleAccess`` flag mapping."""
    return frozenset(_FLAG_TO_TOKEN[f] for f, on in flags.items() if on and f in _FLAG_TO_TOKEN)

"""What the mock speaks: its services, their operations and the data types they carry.

One table drives both the WSDL served at ``/webservices/<Service>?wsdl`` and the lenient
reading of requests (unknown elements are refused, the way OX's CXF stack does). Names,
order and types follow the OX 7.10.6 WSDL as documented in the wire reference (section 3);
types are referred to as ``"prefix:Name"`` with the prefixes of
:data:`mailadmin_ox.namespaces.PREFIXES` (``"d:User"``) or ``"xsd:string"``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from mailadmin_ox.combinations import FLAGS
from mailadmin_ox.namespaces import PREFIXES, RD, RR, RS, D, R, S

__all__ = ["BASES", "SERVICES", "TYPES", "Field", "Operation", "Service", "namespace_of_type"]


@dataclass(frozen=True)
class Field:
    """One element of a sequence: ``name``, ``type`` (``"xsd:int"``, ``"d:User"``),
    ``repeated`` (maxOccurs unbounded), ``nillable``, ``ns`` (the namespace the element
    is qualified in; empty: the namespace of the type or operation that holds it, which
    differs only for fields a type inherits, e.g. ``Context``'s inside ``ResellerContext``).
    """

    name: str
    type: str
    repeated: bool = False
    nillable: bool = False
    ns: str = ""

    @property
    def is_simple(self) -> bool:
        """True for XML Schema built-in types."""
        return self.type.startswith("xsd:")


@dataclass(frozen=True)
class Operation:
    """One operation: its request children in order, its ``return`` (``None``: void) and
    whether it changes state."""

    name: str
    params: tuple[Field, ...]
    returns: Field | None = None
    write: bool = False

    @property
    def bare(self) -> bool:
        """Void operations are declared ``ParameterStyle.BARE`` in OX's port types (the
        wrapper is the single part), which changes how CXF words an unmarshalling fault."""
        return self.returns is None


@dataclass(frozen=True)
class Service:
    """One endpoint under ``/webservices/``: name, target namespace, operations."""

    name: str
    namespace: str
    operations: dict[str, Operation]


_BY_PREFIX = {prefix: ns for ns, prefix in PREFIXES.items()}


def namespace_of_type(type_name: str) -> str:
    """``"d:User"`` -> the data-object namespace."""
    return _BY_PREFIX[type_name.partition(":")[0]]


def _f(spec: str) -> Field:
    # "name type", "name type*" (repeated) or "name type?" (nillable)
    name, _, type_name = spec.partition(" ")
    repeated = type_name.endswith("*")
    nillable = type_name.endswith("?")
    return Field(name, type_name.rstrip("*?"), repeated, nillable)


def _fields(specs: str) -> tuple[Field, ...]:
    return tuple(_f(line.strip()) for line in specs.strip().splitlines() if line.strip())


# The elements of User in the order of its JAXB ``propOrder`` (MW ``.../soap/dataobjects/
# User.java``); ``drive_user_folder_mode`` and ``convert_drive_user_folders`` come from newer
# WSDL dumps (UCS) without a stored order and are placed last but one.
_USER_ORDER = """
aliases anniversary assistant_name birthday branches business_category categories
cellular_telephone1 cellular_telephone2 city_business city_home city_other commercial_register
company contextadmin country_business country_home country_other defaultSenderAddress
default_group department display_name email1 email2 email3 employeeType fax_business fax_home
fax_other filestoreId filestore_name folderTree given_name guiPreferencesForSoap
gui_spam_filter_enabled id imapLogin imapPort imapSchema imapServer imapServerString info
instant_messenger1 instant_messenger2 language mail_folder_confirmed_ham_name
mail_folder_confirmed_spam_name mail_folder_drafts_name mail_folder_sent_name
mail_folder_spam_name mail_folder_trash_name mail_folder_archive_full_name mailenabled
manager_name marital_status maxQuota middle_name name nickname note number_of_children
number_of_employee password passwordMech password_expired position postal_code_business
postal_code_home postal_code_other primaryEmail profession room_number sales_volume smtpPort
smtpSchema smtpServer smtpServerString spouse_name state_business state_home state_other
street_business street_home street_other suffix sur_name tax_id telephone_assistant
telephone_business1 telephone_business2 telephone_callback telephone_car telephone_company
telephone_home1 telephone_home2 telephone_ip telephone_isdn telephone_other telephone_pager
telephone_primary telephone_radio telephone_telex telephone_ttytdd timezone title
uploadFileSizeLimit uploadFileSizeLimitPerFile url usedQuota userAttributes userfield01
userfield02 userfield03 userfield04 userfield05 userfield06 userfield07 userfield08 userfield09
userfield10 userfield11 userfield12 userfield13 userfield14 userfield15 userfield16 userfield17
userfield18 userfield19 userfield20 drive_user_folder_mode convert_drive_user_folders
primaryAccountName
"""
_TYPED_USER_FIELDS = {
    "aliases": "xsd:string*",
    "anniversary": "xsd:date",
    "birthday": "xsd:date",
    "contextadmin": "xsd:boolean",
    "default_group": "d:Group",
    "filestoreId": "xsd:int",
    "folderTree": "xsd:int",
    "guiPreferencesForSoap": "d:SOAPStringMap",
    "gui_spam_filter_enabled": "xsd:boolean",
    "id": "xsd:int",
    "imapPort": "xsd:int",
    "mailenabled": "xsd:boolean",
    "maxQuota": "xsd:long",
    "password_expired": "xsd:boolean",
    "smtpPort": "xsd:int",
    "uploadFileSizeLimit": "xsd:int",
    "uploadFileSizeLimitPerFile": "xsd:int",
    "usedQuota": "xsd:long",
    "userAttributes": "d:SOAPStringMapMap",
    "convert_drive_user_folders": "xsd:boolean",
}


def _user_fields() -> tuple[Field, ...]:
    return tuple(
        _f(f"{name} {_TYPED_USER_FIELDS.get(name, 'xsd:string')}") for name in _USER_ORDER.split()
    )


_CONTEXT = """
average_size xsd:long
enabled xsd:boolean
filestoreId xsd:int
filestore_name xsd:string
id xsd:int
loginMappings xsd:string*
maxQuota xsd:long
name xsd:string
usedQuota xsd:long
userAttributes d:SOAPStringMapMap
"""


def _qualified(ns: str, fields: tuple[Field, ...]) -> tuple[Field, ...]:
    """``fields`` as inherited into another namespace's type: each keeps its own ``ns``."""
    return tuple(replace(field, ns=field.ns or ns) for field in fields)


#: Every complex type, by namespace and name; a derived type lists its base's fields first
#: (each qualified in the base's namespace), then its own.
TYPES: dict[tuple[str, str], tuple[Field, ...]] = {
    (R, "Credentials"): _fields("login xsd:string\npassword xsd:string"),
    (D, "Context"): _fields(_CONTEXT),
    (D, "User"): _user_fields(),
    (D, "UserModuleAccess"): tuple(Field(flag, "xsd:boolean") for flag in FLAGS),
    (D, "SOAPStringMapMap"): _fields("entries d:SOAPMapEntry*"),
    (D, "SOAPMapEntry"): _fields("key xsd:string\nvalue d:SOAPStringMap"),
    (D, "SOAPStringMap"): _fields("entries d:Entry*"),
    (D, "Entry"): _fields("key xsd:string\nvalue xsd:string"),
    (D, "Group"): _fields("displayname xsd:string\nid xsd:int\nmembers xsd:int*\nname xsd:string"),
    (D, "Resource"): _fields(
        "available xsd:boolean\ndescription xsd:string\ndisplayname xsd:string\n"
        "email xsd:string\nid xsd:int\nname xsd:string"
    ),
    # Functional accounts (7.10.6+). The create payload is documented; the list answer
    # carrying the same fields is inferred.
    (D, "AccountDataOnCreate"): _fields(
        "name xsd:string\nprimaryAddress xsd:string\npersonal xsd:string\nlogin xsd:string\n"
        "mailEndpointSource xsd:string"
    ),
    (D, "AccountData"): _fields(
        "name xsd:string\nprimaryAddress xsd:string\npersonal xsd:string\nlogin xsd:string\n"
        "mailEndpointSource xsd:string\nusers xsd:int*\ngroups xsd:int*"
    ),
    # MW-res ResellerContext.java: ``extends ...soap.dataobjects.Context`` (namespace D, from
    # that package's package-info.java); its own fields are in RD.
    (RD, "ResellerContext"): _qualified(D, _fields(_CONTEXT))
    + _fields(
        "customid xsd:string\nextensionError xsd:string\nowner rr:ResellerAdmin\n"
        "restriction rr:Restriction*\nsid xsd:int"
    ),
    (RR, "ResellerAdmin"): _fields(
        "name xsd:string\npasswordMech xsd:string\npassword xsd:string\nparentId xsd:int\n"
        "restrictions rr:Restriction*\ndisplayname xsd:string\nid xsd:int"
    ),
    (RR, "Restriction"): _fields("name xsd:string\nvalue xsd:string\nid xsd:int"),
}
#: Derived types and their base (for the WSDL's ``xsd:extension``).
BASES: dict[tuple[str, str], tuple[str, str]] = {(RD, "ResellerContext"): (D, "Context")}


def _op(name: str, params: str, returns: str | None = None, *, write: bool = False) -> Operation:
    ret = _f(f"return {returns}") if returns else None
    return Operation(name, _fields(params.replace(",", "\n")), ret, write)


def _user_service(ctx: str) -> dict[str, Operation]:
    # The reseller service's users are OX's own User type (MW-res ChangeByModuleAccessName.java:
    # ``user`` typed {http://dataobjects.soap.admin.openexchange.com/xsd}User).
    c, a, p = f"ctx {ctx}", "auth r:Credentials", "d"
    u = f"{p}:User"
    ops = [
        _op("create", f"{c}, usrdata {u}, {a}", u, write=True),
        _op(
            "createByModuleAccess",
            f"{c}, usrdata {u}, access {p}:UserModuleAccess, {a}",
            u,
            write=True,
        ),
        _op(
            "createByModuleAccessName",
            f"{c}, usrdata {u}, access_combination_name xsd:string, {a}",
            u,
            write=True,
        ),
        _op("change", f"{c}, usrdata {u}, {a}", write=True),
        _op(
            "changeByModuleAccess",
            f"{c}, user {u}, moduleAccess {p}:UserModuleAccess, {a}",
            write=True,
        ),
        _op(
            "changeByModuleAccessName",
            f"{c}, user {u}, access_combination_name xsd:string, {a}",
            write=True,
        ),
        _op("delete", f"{c}, user {u}, {a}, reassign xsd:int", write=True),
        _op("deleteMultiple", f"{c}, users {u}*, {a}, reassign xsd:int", write=True),
        _op("exists", f"{c}, user {u}, {a}", "xsd:boolean"),
        _op("getAccessCombinationName", f"{c}, user {u}, {a}", "xsd:string?"),
        _op("getContextAdmin", f"{c}, {a}", u),
        _op("getData", f"{c}, user {u}, {a}", u),
        _op("getModuleAccess", f"{c}, user {u}, {a}", f"{p}:UserModuleAccess"),
        _op("getMultipleData", f"{c}, users {u}*, {a}", f"{u}*"),
        _op(
            "list",
            f"{c}, search_pattern xsd:string, {a}, include_guests xsd:boolean, "
            "exclude_users xsd:boolean",
            f"{u}*",
        ),
        _op("listAll", f"{c}, {a}, include_guests xsd:boolean, exclude_users xsd:boolean", f"{u}*"),
    ]
    return {op.name: op for op in ops}


def _context_service(ctx: str) -> dict[str, Operation]:
    c, a, p = f"ctx {ctx}", "auth r:Credentials", "d"
    ops = [
        _op("change", f"{c}, {a}", write=True),
        _op("create", f"{c}, admin_user {p}:User, {a}", ctx, write=True),
        _op(
            "createModuleAccessByName",
            f"{c}, admin_user {p}:User, access_combination_name xsd:string, {a}",
            ctx,
            write=True,
        ),
        _op("delete", f"{c}, {a}", write=True),
        _op("disable", f"{c}, {a}", write=True),
        _op("enable", f"{c}, {a}", write=True),
        _op("exists", f"{c}, {a}", "xsd:boolean"),
        _op("getAdminId", f"{c}, {a}", "xsd:int"),
        _op("getData", f"{c}, {a}", ctx),
        _op("list", f"search_pattern xsd:string, {a}", f"{ctx}*"),
        _op("listAll", a, f"{ctx}*"),
    ]
    return {op.name: op for op in ops}


def _resource_service() -> dict[str, Operation]:
    c, a, res = "ctx d:Context", "auth r:Credentials", "d:Resource"
    ops = [
        _op("create", f"{c}, res {res}, {a}", res, write=True),
        _op("change", f"{c}, res {res}, {a}", write=True),
        _op("delete", f"{c}, res {res}, {a}", write=True),
        _op("getData", f"{c}, res {res}, {a}", res),
        _op("getMultipleData", f"{c}, resources {res}*, {a}", f"{res}*"),
        _op("list", f"{c}, pattern xsd:string, {a}", f"{res}*"),
        _op("listAll", f"{c}, {a}", f"{res}*"),
    ]
    return {op.name: op for op in ops}


def _group_service() -> dict[str, Operation]:
    c, a, grp = "ctx d:Context", "auth r:Credentials", "d:Group"
    ops = [
        _op("create", f"{c}, grp {grp}, {a}", grp, write=True),
        _op("delete", f"{c}, grp {grp}, {a}", write=True),
        _op("getData", f"{c}, grp {grp}, {a}", grp),
        _op("getDefaultGroup", f"{c}, {a}", grp),
        _op("listAll", f"{c}, {a}", f"{grp}*"),
    ]
    return {op.name: op for op in ops}


def _secondary_account_service() -> dict[str, Operation]:
    c, a = "context d:Context", "auth r:Credentials"
    ops = [
        _op(
            "create",
            f"{c}, accountDataOnCreate d:AccountDataOnCreate, users d:User*, groups d:Group*, {a}",
            write=True,
        ),
        _op(
            "delete",
            f"{c}, primaryAddress xsd:string, users d:User*, groups d:Group*, {a}",
            write=True,
        ),
        _op("list", f"{c}, {a}", "d:AccountData*"),
    ]
    return {op.name: op for op in ops}


def _reseller_service() -> dict[str, Operation]:
    adm, cr = "rr:ResellerAdmin", "creds r:Credentials"
    ops = [
        _op("create", f"adm {adm}, {cr}", adm, write=True),
        _op("change", f"adm {adm}, {cr}", write=True),
        _op("delete", f"adm {adm}, {cr}", write=True),
        _op("getData", f"adm {adm}, {cr}", adm),
        _op("getMultipleData", f"admins {adm}*, {cr}", f"{adm}*"),
        _op("list", f"search_pattern xsd:string, {cr}", f"{adm}*"),
        _op("getAvailableRestrictions", cr, "rr:Restriction*"),
        _op("getRestrictionsFromContext", f"ctx rd:ResellerContext, {cr}", "rr:Restriction*"),
    ]
    return {op.name: op for op in ops}


#: Every service the mock serves, by the name in its path.
SERVICES: dict[str, Service] = {
    service.name: service
    for service in (
        Service("OXUserService", S, _user_service("d:Context")),
        Service("OXContextService", S, _context_service("d:Context")),
        Service("OXResourceService", S, _resource_service()),
        Service("OXGroupService", S, _group_service()),
        Service("OXSecondaryAccountService", S, _secondary_account_service()),
        Service("OXResellerService", RS, _reseller_service()),
        Service("OXResellerContextService", RS, _context_service("rd:ResellerContext")),
        Service("OXResellerUserService", RS, _user_service("rd:ResellerContext")),
    )
}

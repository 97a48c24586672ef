"""What the mock speaks: its services, their operations and the data types they carry.

One table drives both the WSDL served at ``/webservices/<Service>?wsdl`` and the lenient
reading of requests (unknown elements are refused, the way OX's CXF stack does). Names,
order and types follow the OX 7.10.6 WSDL as documented in the wire reference (section 3);
types are referred to as ``"prefix:Name"`` with the prefixes of
:data:`mailadmin_ox.namespaces.PREFIXES` (``"d:User"``) or ``"xsd:string"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailadmin_ox.combinations import FLAGS
from mailadmin_ox.namespaces import PREFIXES, RD, RR, RS, D, R, S

__all__ = ["SERVICES", "TYPES", "Field", "Operation", "Service", "namespace_of_type"]


@dataclass(frozen=True)
class Field:
    """One element of a sequence: ``name``, ``type`` (``"xsd:int"``, ``"d:User"``),
    ``repeated`` (maxOccurs unbounded), ``nillable``."""

    name: str
    type: str
    repeated: bool = False
    nillable: bool = False

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


_STRING_USER_FIELDS = """
assistant_name branches business_category categories cellular_telephone1 cellular_telephone2
city_business city_home city_other commercial_register company country_business country_home
country_other drive_user_folder_mode defaultSenderAddress department display_name email1
email2 email3 employeeType fax_business fax_home fax_other filestore_name given_name
imapLogin imapSchema imapServer imapServerString info instant_messenger1 instant_messenger2
language mail_folder_confirmed_ham_name mail_folder_confirmed_spam_name
mail_folder_drafts_name mail_folder_sent_name mail_folder_spam_name mail_folder_trash_name
mail_folder_archive_full_name manager_name marital_status middle_name name nickname note
number_of_children number_of_employee password passwordMech position postal_code_business
postal_code_home postal_code_other primaryEmail profession room_number sales_volume
smtpSchema smtpServer smtpServerString spouse_name state_business state_home state_other
street_business street_home street_other suffix sur_name tax_id telephone_assistant
telephone_business1 telephone_business2 telephone_callback telephone_car telephone_company
telephone_home1 telephone_home2 telephone_ip telephone_isdn telephone_other telephone_pager
telephone_primary telephone_radio telephone_telex telephone_ttytdd timezone title url
userfield01 userfield02 userfield03 userfield04 userfield05 userfield06 userfield07
userfield08 userfield09 userfield10 userfield11 userfield12 userfield13 userfield14
userfield15 userfield16 userfield17 userfield18 userfield19 userfield20 primaryAccountName
"""
_TYPED_USER_FIELDS = {
    "aliases": "xsd:string*",
    "anniversary": "xsd:date",
    "birthday": "xsd:date",
    "contextadmin": "xsd:boolean",
    "default_group": "{p}:Group",
    "filestoreId": "xsd:int",
    "folderTree": "xsd:int",
    "guiPreferencesForSoap": "{p}:SOAPStringMap",
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
    "userAttributes": "{p}:SOAPStringMapMap",
    "convert_drive_user_folders": "xsd:boolean",
}


def _user_fields(prefix: str) -> tuple[Field, ...]:
    specs = {name: "xsd:string" for name in _STRING_USER_FIELDS.split()}
    specs.update({k: v.format(p=prefix) for k, v in _TYPED_USER_FIELDS.items()})
    # The WSDL lists the fields alphabetically (case-insensitive), as JAXB does.
    return tuple(_f(f"{name} {specs[name]}") for name in sorted(specs, key=str.lower))


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
userAttributes {p}:SOAPStringMapMap
"""


def _data_types(prefix: str) -> dict[str, tuple[Field, ...]]:
    return {
        "User": _user_fields(prefix),
        "UserModuleAccess": tuple(Field(flag, "xsd:boolean") for flag in FLAGS),
        "SOAPStringMapMap": _fields(f"entries {prefix}:SOAPMapEntry*"),
        "SOAPMapEntry": _fields(f"key xsd:string\nvalue {prefix}:SOAPStringMap"),
        "SOAPStringMap": _fields(f"entries {prefix}:Entry*"),
        "Entry": _fields("key xsd:string\nvalue xsd:string"),
        "Group": _fields("displayname xsd:string\nid xsd:int\nmembers xsd:int*\nname xsd:string"),
    }


#: Every complex type, by namespace and name.
TYPES: dict[tuple[str, str], tuple[Field, ...]] = {
    (R, "Credentials"): _fields("login xsd:string\npassword xsd:string"),
    (D, "Context"): _fields(_CONTEXT.format(p="d")),
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
    (RD, "ResellerContext"): _fields(
        _CONTEXT.format(p="rd")
        + "customid xsd:string\nextensionError xsd:string\nowner rr:ResellerAdmin\n"
        "restriction rr:Restriction*\nsid xsd:int"
    ),
    (RR, "ResellerAdmin"): _fields(
        "name xsd:string\npasswordMech xsd:string\npassword xsd:string\nparentId xsd:int\n"
        "restrictions rr:Restriction*\ndisplayname xsd:string\nid xsd:int"
    ),
    (RR, "Restriction"): _fields("name xsd:string\nvalue xsd:string\nid xsd:int"),
}
for _ns, _prefix in ((D, "d"), (RD, "rd")):
    for _name, _type_fields in _data_types(_prefix).items():
        TYPES[(_ns, _name)] = _type_fields


def _op(name: str, params: str, returns: str | None = None, *, write: bool = False) -> Operation:
    ret = _f(f"return {returns}") if returns else None
    return Operation(name, _fields(params.replace(",", "\n")), ret, write)


def _user_service(p: str, ctx: str) -> dict[str, Operation]:
    c, a = f"ctx {ctx}", "auth r:Credentials"
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


def _context_service(p: str, ctx: str) -> dict[str, Operation]:
    c, a = f"ctx {ctx}", "auth r:Credentials"
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
        Service("OXUserService", S, _user_service("d", "d:Context")),
        Service("OXContextService", S, _context_service("d", "d:Context")),
        Service("OXResourceService", S, _resource_service()),
        Service("OXGroupService", S, _group_service()),
        Service("OXSecondaryAccountService", S, _secondary_account_service()),
        Service("OXResellerService", RS, _reseller_service()),
        Service("OXResellerContextService", RS, _context_service("rd", "rd:ResellerContext")),
        Service("OXResellerUserService", RS, _user_service("rd", "rd:ResellerContext")),
    )
}

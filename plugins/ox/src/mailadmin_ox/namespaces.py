"""The XML namespaces of OX's provisioning SOAP services, with their usual prefixes.

Operation wrappers and their direct children live in the service namespace (``S`` for the
core services, ``RS`` for the reseller services); the fields of data objects live in the
namespace of the type that declares them (``D`` for contexts and users, also inside a
reseller ``ctx``; ``RD`` for ResellerContext's own fields; ``R`` for credentials; ``RR``
for reseller admins and restrictions), as the ``package-info.java`` of OX's JAXB packages
say.
"""

from __future__ import annotations

from mailadmin.sdk import soap as _soap

__all__ = ["PREFIXES", "RD", "RR", "RS", "XSI", "D", "R", "S", "X"]

#: XML Schema instance (``xsi:nil``), the core SOAP codec's constant.
XSI = _soap.XSI
#: Core services: operation wrappers, their children and fault elements.
S = "http://soap.admin.openexchange.com"
#: Core data objects: Context, User, UserModuleAccess, Resource, maps.
D = "http://dataobjects.soap.admin.openexchange.com/xsd"
#: RMI data objects: Credentials, Quota.
R = "http://dataobjects.rmi.admin.openexchange.com/xsd"
#: Exception types inside fault details.
X = "http://exceptions.rmi.admin.openexchange.com/xsd"
#: Reseller services: operation wrappers and their children.
RS = "http://soap.reseller.admin.openexchange.com"
#: Reseller data objects: ResellerContext's own fields (``restriction``, ``owner``...);
#: the fields it inherits from Context stay in ``D``, and reseller users are ``D``'s User.
RD = "http://dataobjects.soap.reseller.admin.openexchange.com/xsd"
#: Reseller RMI data objects: ResellerAdmin, Restriction.
RR = "http://dataobjects.rmi.reseller.admin.openexchange.com/xsd"

#: Prefix used for each namespace when writing XML, in declaration order.
PREFIXES: dict[str, str] = {
    S: "s",
    D: "d",
    R: "r",
    RS: "rs",
    RD: "rd",
    RR: "rr",
    X: "x",
    XSI: "xsi",
}

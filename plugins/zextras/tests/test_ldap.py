"""The LDAP filters SearchDirectoryRequest takes, as the mock evaluates them."""

from __future__ import annotations

import pytest
from mailadmin_zextras.mock.ldap import FilterError, parse

ANNA = {
    "objectclass": ["inetOrgPerson", "zimbraAccount"],
    "mail": ["anna@example.com"],
    "zimbramailquota": ["2147483648"],
    "zimbranotes": ["a*b (x)"],
}


def test_the_documented_licence_filter() -> None:
    matches = parse(
        "(&(!(zimbraIsSystemAccount=*))(!(zimbraIsExternalVirtualAccount=*))"
        "(!(objectClass=zimbraCalendarResource))(objectClass=zimbraAccount)"
        "(zimbraMailDeliveryAddress=*))"
    )
    assert not matches(ANNA)  # no delivery address
    assert matches({**ANNA, "zimbramaildeliveryaddress": ["anna@example.com"]})
    assert not matches(
        {**ANNA, "zimbramaildeliveryaddress": ["x"], "zimbraissystemaccount": ["TRUE"]}
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(mail=anna@example.com)", True),
        ("(MAIL=ANNA@EXAMPLE.COM)", True),
        ("(mail=an*@*.com)", True),
        ("(mail=*ben*)", False),
        ("(|(mail=ben@x)(objectClass=zimbraAccount))", True),
        ("(zimbraMailQuota>=2147483648)", True),
        ("(zimbraMailQuota<=1000)", False),
        ("(zimbraNotes=a\\2ab \\28x\\29)", True),
        ("(zimbraNotes=a\\2a*)", True),
        ("(zimbraNotes=ab*)", False),
        ("mail=anna@example.com", True),
        ("", True),
    ],
)
def test_filter_items(text: str, expected: bool) -> None:
    assert parse(text)(ANNA) is expected


@pytest.mark.parametrize(
    "text", ["(mail=x", "(&(mail=x)", "(mail)", "(=x)", "(mail=x))", "(mail=\\2)"]
)
def test_malformed_filters(text: str) -> None:
    with pytest.raises(FilterError):
        parse(text)

"""Redaction: known secrets and secret-named fields never reach logs or error detail."""

from __future__ import annotations

import pytest

from mailadmin.wire.redaction import Redactor, is_sensitive_header, redact_fields


def test_known_secrets_are_masked_in_every_wire_form() -> None:
    redactor = Redactor(["p@ss w&rd<1>"])
    text = (
        "raw p@ss w&rd<1> | url p%40ss%20w%26rd%3C1%3E | form p%40ss+w%26rd%3C1%3E"
        " | xml p@ss w&amp;rd&lt;1&gt;"
    )
    assert redactor.redact(text) == "raw *** | url *** | form *** | xml ***"


def test_a_secret_containing_another_is_masked_whole() -> None:
    redactor = Redactor(["abc", "abcdef"])
    assert redactor.redact("x abcdef y abc") == "x *** y ***"


def test_secrets_can_be_added_later_and_empty_ones_are_ignored() -> None:
    redactor = Redactor([""])
    assert redactor.redact("token-less text") == "token-less text"
    redactor.add("T0K3N-xyz")
    assert redactor.redact("got T0K3N-xyz") == "got ***"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '{"password": "abc", "user": "x", "access_token": "e\\"yJ", "n": 3}',
            '{"password": "***", "user": "x", "access_token": "***", "n": 3}',
        ),
        ('{"apiKey": 1234, "clientSecret": null}', '{"apiKey": "***", "clientSecret": "***"}'),
        (
            '{"a": [{"n": "userPassword", "_content": "zz"}, {"n": "cn", "_content": "Anna"}]}',
            '{"a": [{"n": "userPassword", "_content": "***"}, {"n": "cn", "_content": "Anna"}]}',
        ),
        (
            '{"authToken": [{"_content": "0_tok"}], "lifetime": 172800000}',
            '{"authToken": [{"_content": "***"}], "lifetime": 172800000}',
        ),
        ('{"authToken": {"_content": "0_tok"}}', '{"authToken": {"_content": "***"}}'),
        (
            "<AuthRequest><account>admin</account><password>hunter2</password></AuthRequest>",
            "<AuthRequest><account>admin</account><password>***</password></AuthRequest>",
        ),
        (
            '<soap:Header><ctx><ns1:authToken a="1">0_tok</ns1:authToken></ctx></soap:Header>',
            '<soap:Header><ctx><ns1:authToken a="1">***</ns1:authToken></ctx></soap:Header>',
        ),
        (
            '<a n="zimbraPassword">x1</a><a n="displayName">Anna</a>',
            '<a n="zimbraPassword">***</a><a n="displayName">Anna</a>',
        ),
        ("<pwd><![CDATA[a<b]]></pwd>", "<pwd>***</pwd>"),
        ('<user password="abc" name="x"/>', '<user password="***" name="x"/>'),
        (
            "GET https://h/x?user=a&password=s1&session=abc#frag",
            "GET https://h/x?user=a&password=***&session=***#frag",
        ),
        (
            "grant_type=client_credentials&client_secret=s3",
            "grant_type=client_credentials&client_secret=***",
        ),
        ("Authorization: Basic YWRtaW46c2VjcmV0", "Authorization: ***"),
        ("sent Bearer eyJhbGciOi.J9x1", "sent Bearer ***"),
        ("Cookie: open-xchange-session=abc; JSESSIONID=1", "Cookie: ***"),
    ],
)
def test_secret_named_fields_are_masked(text: str, expected: str) -> None:
    assert redact_fields(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "the Basic plan and the Premium plan",
        '{"name": "anna", "quota_mb": 1024}',
        '<cos name="default">12</cos>',
        "GET https://h/users?context=1&page=2",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_fields(text) == text


def test_header_maps_lose_credential_values_only() -> None:
    redactor = Redactor(["s3cr3t"])
    headers = {
        "Authorization": "Basic YWRtaW46czNjcjN0",
        "Cookie": "a=b",
        "X-Api-Key": "k",
        "Content-Type": "text/xml",
        "X-Note": "has s3cr3t inside",
    }
    assert redactor.redact_headers(headers) == {
        "Authorization": "***",
        "Cookie": "***",
        "X-Api-Key": "***",
        "Content-Type": "text/xml",
        "X-Note": "has *** inside",
    }


@pytest.mark.parametrize(
    ("name", "sensitive"),
    [
        ("Authorization", True),
        ("set-cookie", True),
        ("X-Auth-Token", True),
        ("X-ZM-Session", True),
        ("Content-Type", False),
        ("X-Request-Id", False),
    ],
)
def test_sensitive_headers(name: str, sensitive: bool) -> None:
    assert is_sensitive_header(name) is sensitive


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"user": "anna", "password": "hunt', '{"user": "anna", "password": "***"'),
        ('{"n": "userPassword", "_content": "hun', '{"n": "userPassword", "_content": "***"'),
        ("<AuthRequest><password>hunt", "<AuthRequest><password>***"),
        ("<pwd><![CDATA[hun", "<pwd>***"),
        ('<user password="hun', '<user password="***"'),
        ("login?user=a&password=hun", "login?user=a&password=***"),
    ],
)
def test_a_secret_cut_off_at_the_end_of_the_text_is_masked(text: str, expected: str) -> None:
    assert redact_fields(text) == expected


def test_debug_detail_redacts_the_body_before_cutting_it() -> None:
    """A body longer than the excerpt, cut in the middle of a secret, leaks none of it."""
    import httpx

    from mailadmin.wire.responses import excerpt, response_debug

    filler = "x" * (1999 - len('{"note": "", "password": "'))
    body = '{"note": "' + filler + '", "password": "hunter2-the-secret"}'
    cut = len('{"note": "' + filler + '", "password": "hun')
    assert len(excerpt("y" * 3000)) < cut + 10 and "hun" in body[:cut]  # the cut is mid-secret
    response = httpx.Response(400, text=body, request=httpx.Request("POST", "https://h/api"))
    debug = response_debug(response)
    assert debug["body"].endswith('"password": "*...')  # cut inside the mask, not the secret
    # also when the platform itself sent a cut body
    cut_body = httpx.Response(500, text=body[:cut], request=httpx.Request("GET", "https://h/"))
    assert "hun" not in response_debug(cut_body)["body"].rsplit(":", 1)[1]

"""Microsoft's own token client, msal, gets tokens from the mock unchanged, and they open
the admin API and Graph; a wrong secret comes back as Entra ID's error.

msal insists on an https authority, so its ``http_client`` carries each request to the mock
served on loopback (path, query, headers, body and ``Host`` as msal sent them).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from mailadmin_exchange.mock import ExchangeMock
from mailadmin_exchange.mock.model import DEFAULT_TENANT, DEFAULT_TENANT_ID

from mailadmin.mock import MockServer, serve

msal = pytest.importorskip("msal")

AUTHORITY = f"https://login.microsoftonline.com/{DEFAULT_TENANT}"


class _ToMock:
    """A requests-like session for msal: every URL goes to the mock, every call is kept."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.Client(base_url=base_url)
        self.calls: list[tuple[str, str]] = []

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        parts = urlsplit(url)
        self.calls.append((method, f"{parts.netloc}{parts.path}"))
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for unused in ("timeout", "verify", "proxies", "allow_redirects"):
            kwargs.pop(unused, None)
        # Keep the host msal addressed, as a forwarding proxy would.
        headers = {**(kwargs.pop("headers", None) or {}), "Host": parts.netloc}
        return self._http.request(method, target, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._send("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._send("POST", url, **kwargs)

    def close(self) -> None:
        self._http.close()


@pytest.fixture
def mock_url() -> Iterator[str]:
    with serve(MockServer(ExchangeMock)) as url:
        yield url


def _app(session: _ToMock, secret: str = "secret") -> Any:
    return msal.ConfidentialClientApplication(
        "mock-client",
        client_credential=secret,
        authority=AUTHORITY,
        http_client=session,
    )


def test_msal_tokens_open_the_admin_api_and_graph(mock_url: str) -> None:
    session = _ToMock(mock_url)
    try:
        app = _app(session)
        admin = app.acquire_token_for_client(scopes=["https://outlook.office365.com/.default"])
        graph = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
        assert "access_token" in admin, admin
        assert "access_token" in graph, graph
        assert admin["token_type"] == "Bearer" and admin["expires_in"] > 0
        again = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
        assert again["access_token"] == graph["access_token"]  # msal's cache, no new request
        # msal discovered the token endpoint (named by tenant GUID) and asked it twice.
        assert (
            "GET",
            f"login.microsoftonline.com/{DEFAULT_TENANT}/v2.0/.well-known/openid-configuration",
        ) in session.calls
        posts = [c for c in session.calls if c[0] == "POST"]
        token_url = f"login.microsoftonline.com/{DEFAULT_TENANT_ID}/oauth2/v2.0/token"
        assert posts == [("POST", token_url)] * 2

        with httpx.Client(base_url=mock_url) as http:
            invoke = http.post(
                f"/adminapi/beta/{DEFAULT_TENANT_ID}/InvokeCommand",
                json={"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {}}},
                headers={"Authorization": f"Bearer {admin['access_token']}"},
            )
            assert invoke.status_code == 200 and len(invoke.json()["value"]) == 6
            skus = http.get(
                "/v1.0/subscribedSkus",
                headers={"Authorization": f"Bearer {graph['access_token']}"},
            )
            assert skus.status_code == 200
            # A token is for its audience only.
            crossed = http.get(
                "/v1.0/subscribedSkus", headers={"Authorization": f"Bearer {admin['access_token']}"}
            )
            assert crossed.status_code == 401
    finally:
        session.close()


def test_msal_reports_a_wrong_secret_as_entra_does(mock_url: str) -> None:
    session = _ToMock(mock_url)
    try:
        result = _app(session, secret="wrong").acquire_token_for_client(
            scopes=["https://graph.microsoft.com/.default"]
        )
    finally:
        session.close()
    assert "access_token" not in result
    assert result["error"] == "invalid_client" and 7000215 in result["error_codes"]

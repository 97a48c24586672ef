"""An OAuth2 client-credentials token endpoint for mocks, shaped like Microsoft Entra ID.

The state owns a :class:`TokenIssuer` (so tokens are per server and expire on its clock);
one route serves the token endpoint and every protected handler checks the bearer::

    class ExchangeState(MockState):
        def reset(self) -> None:
            super().reset()
            self.oauth = TokenIssuer({"mock-client": "secret"}, clock=self.clock,
                                     tenants={"contoso.onmicrosoft.com", TENANT_GUID})

    ROUTES = [
        token_route(lambda state: state.oauth, host="login"),   # POST /{tenant}/oauth2/v2.0/token
        Route("GET", "/v1.0/subscribedSkus", skus, host="graph"),
    ]

    def skus(request, state):
        state.oauth.check(request, scope="https://graph.microsoft.com/.default")
        ...

Errors follow Entra ID's form: a JSON body with ``error``, ``error_description`` starting
``AADSTS<code>:``, ``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id`` and
``error_uri`` (401 ``invalid_client`` for a wrong secret, 400 ``unauthorized_client`` for
an unknown client, 400 ``invalid_request`` for an unknown tenant or a missing field, 400
``unsupported_grant_type``, 400 ``invalid_scope``). A protected call without a valid
token gets 401 with ``WWW-Authenticate: Bearer ...`` (``error="invalid_token"`` when the
token expired or is unknown).
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx

from mailadmin.mock.clock import Clock
from mailadmin.mock.platform import Reply
from mailadmin.mock.request import MockRequest
from mailadmin.mock.routes import Handler, Route

__all__ = ["IssuedToken", "TokenIssuer", "token_handler", "token_route"]

#: Where Entra ID's token endpoint lives, per tenant.
TOKEN_PATH = "/{tenant}/oauth2/v2.0/token"
_AUTHORIZATION_URI = "https://login.microsoftonline.com/common/oauth2/authorize"


@dataclass(frozen=True)
class IssuedToken:
    """A token the mock issued: ``value``, for ``client_id`` and ``scope`` in ``tenant``
    (``None`` when the endpoint has no tenant in its path), valid until ``expires_at`` on
    the mock's clock."""

    value: str
    client_id: str
    scope: str
    tenant: str | None
    expires_at: float


class TokenIssuer:
    """Issues expiring bearer tokens to known clients and checks them on protected calls.

    ``clients``: client id -> client secret; ``clock``: the mock's clock (a
    :class:`~mailadmin.mock.ManualClock` lets a test expire tokens by advancing it);
    ``lifetime``: seconds a token lives (``expires_in``); ``tenants``: the tenant names or
    ids the token path accepts (``None``: any).
    """

    def __init__(
        self,
        clients: Mapping[str, str],
        *,
        clock: Clock,
        lifetime: int = 3599,
        tenants: Collection[str] | None = None,
    ) -> None:
        self.clients = dict(clients)
        self.clock = clock
        self.lifetime = lifetime
        self.tenants = None if tenants is None else {t.lower() for t in tenants}
        self._tokens: dict[str, IssuedToken] = {}
        #: How many tokens were issued (tests assert "one login").
        self.issued = 0

    # -- the token endpoint ---------------------------------------------------------------

    def token_endpoint(self, request: MockRequest) -> httpx.Response:
        """Answer a client-credentials token request (form-encoded, as Entra ID takes it)."""
        form = {k: v[-1] for k, v in parse_qs(request.text(), keep_blank_values=True).items()}
        basic = request.basic_auth()  # client_secret_basic is allowed too
        if basic is not None:
            form.setdefault("client_id", basic[0])
            form.setdefault("client_secret", basic[1])
        tenant = request.path_params.get("tenant")
        if tenant is not None and self.tenants is not None and tenant.lower() not in self.tenants:
            return _aad_error(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant "
                "ID and are signing into the correct cloud.",
            )
        grant = form.get("grant_type", "")
        if not grant:
            return _missing("grant_type")
        if grant != "client_credentials":
            return _aad_error(
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant}'.",
            )
        client_id = form.get("client_id", "")
        if not client_id:
            return _missing("client_id")
        if client_id not in self.clients:
            return _aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant or 'common'}'.",
            )
        if not secrets.compare_digest(form.get("client_secret", ""), self.clients[client_id]):
            return _aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request "
                "is the client secret value, not the client secret ID.",
            )
        scope = form.get("scope", "")
        if not scope:
            return _missing("scope")
        if not scope.endswith("/.default") or " " in scope:
            return _aad_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier.",
            )
        token = self.issue(client_id, scope, tenant)
        return httpx.Response(
            200,
            json={
                "token_type": "Bearer",
                "expires_in": self.lifetime,
                "ext_expires_in": self.lifetime,
                "access_token": token.value,
            },
        )

    def issue(self, client_id: str, scope: str, tenant: str | None = None) -> IssuedToken:
        """A new token for ``client_id`` and ``scope``, valid ``lifetime`` seconds from now."""
        now = self.clock.now()
        self._tokens = {v: t for v, t in self._tokens.items() if t.expires_at > now}
        token = IssuedToken(
            value=_token_value(client_id, scope, tenant),
            client_id=client_id,
            scope=scope,
            tenant=tenant,
            expires_at=now + self.lifetime,
        )
        self._tokens[token.value] = token
        self.issued += 1
        return token

    # -- protected calls ------------------------------------------------------------------

    def check(
        self,
        request: MockRequest,
        *,
        scope: str | None = None,
        tenant: str | None = None,
        reply: Callable[[str], httpx.Response] | None = None,
    ) -> IssuedToken:
        """The valid token of ``request``'s ``Authorization: Bearer`` header.

        Otherwise raises :class:`~mailadmin.mock.Reply` with 401 and a
        ``WWW-Authenticate`` challenge: no token, an unknown or expired one, one issued for
        another ``scope`` or ``tenant`` (when given). ``reply(message)`` shapes the body in
        the platform's form (default: Graph's ``InvalidAuthenticationToken`` error).
        """
        value = request.bearer_token()
        if value is None:
            raise Reply(self._unauthorized("Access token is empty.", None, reply))
        token = self._tokens.get(value)
        if token is None:
            raise Reply(self._unauthorized("Access token validation failure.", "", reply))
        if self.clock.now() >= token.expires_at:
            raise Reply(
                self._unauthorized(
                    "Lifetime validation failed, the token is expired.", "expired", reply
                )
            )
        if scope is not None and token.scope != scope:
            raise Reply(
                self._unauthorized("Access token validation failure. Invalid audience.", "", reply)
            )
        if tenant is not None and (token.tenant or "").lower() != tenant.lower():
            raise Reply(self._unauthorized("The token was issued for another tenant.", "", reply))
        return token

    def expire_all(self) -> None:
        """Make every token issued so far expired (as after a long pause or a revocation)."""
        now = self.clock.now()
        self._tokens = {
            v: IssuedToken(t.value, t.client_id, t.scope, t.tenant, min(t.expires_at, now))
            for v, t in self._tokens.items()
        }

    def _unauthorized(
        self,
        message: str,
        problem: str | None,
        reply: Callable[[str], httpx.Response] | None,
    ) -> httpx.Response:
        challenge = f'Bearer realm="", authorization_uri="{_AUTHORIZATION_URI}"'
        if problem is not None:
            challenge += ', error="invalid_token"'
            if problem == "expired":
                challenge += ', error_description="The access token has expired"'
        if reply is not None:
            shaped = reply(message)
            headers = [h for h in shaped.headers.raw if h[0].lower() != b"content-length"]
            headers.append((b"WWW-Authenticate", challenge.encode("latin-1")))
            return httpx.Response(401, headers=headers, content=shaped.content)
        return httpx.Response(
            401,
            headers={"WWW-Authenticate": challenge},
            json={
                "error": {
                    "code": "InvalidAuthenticationToken",
                    "message": message,
                    "innerError": {"date": _now_iso(), "request-id": str(uuid.uuid4())},
                }
            },
        )


def token_handler(issuer_of: Callable[[Any], TokenIssuer]) -> Handler:
    """A route handler serving ``issuer_of(state)``'s token endpoint."""

    def handle(request: MockRequest, state: Any) -> httpx.Response:
        return issuer_of(state).token_endpoint(request)

    return handle


def token_route(
    issuer_of: Callable[[Any], TokenIssuer],
    *,
    path: str = TOKEN_PATH,
    host: str | None = None,
    name: str = "oauth2_token",
) -> Route:
    """The token endpoint as a route: ``POST /{tenant}/oauth2/v2.0/token`` by default."""
    return Route("POST", path, token_handler(issuer_of), name=name, host=host)


# -- private ---------------------------------------------------------------------------------


def _token_value(client_id: str, scope: str, tenant: str | None) -> str:
    # Shaped like a JWT (unsigned) so clients that read the "tid" claim, as Exchange
    # clients do, find it; the random id makes every token unique.
    def part(data: Mapping[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    audience = scope.removesuffix("/.default")
    claims = {"aud": audience, "appid": client_id, "tid": tenant, "jti": secrets.token_hex(8)}
    return f"{part({'typ': 'JWT', 'alg': 'none'})}.{part(claims)}.{secrets.token_urlsafe(16)}"


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _aad_error(status: int, error: str, code: int, text: str) -> httpx.Response:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return httpx.Response(
        status,
        json={
            "error": error,
            "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
    )


def _missing(field: str) -> httpx.Response:
    return _aad_error(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{field}'.",
    )

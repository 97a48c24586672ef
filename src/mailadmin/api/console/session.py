"""The console's session: the API key in a cookie, a form token against cross-site posts,
and what the signed-in key may do.

The cookie holds the key itself (HttpOnly, ``SameSite=Strict``, path ``/console``, no
expiry: it goes with the browser session), so every page authenticates exactly as the HTTP
API does and a revoked key is refused on its next page. It never appears in a URL. Each
form carries a token derived from the key (an HMAC), checked on every post: a page of
another site can neither read it nor make it.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs

from fastapi import Request
from starlette.responses import Response

from mailadmin.api.admission import CONSOLE, CONSOLE_COOKIE
from mailadmin.api.deps import ApiError, Caller
from mailadmin.rules.identities import IdentityKind

__all__ = ["forget", "form", "form_token", "is_site_admin", "keep", "may_act", "require_act"]

_TOKEN_LABEL = b"mailadmin console form"


def keep(response: Response, request: Request, key: str) -> None:
    """Put ``key`` in the console's session cookie."""
    response.set_cookie(
        CONSOLE_COOKIE,
        key,
        path=CONSOLE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def forget(response: Response) -> None:
    """Drop the session cookie (sign out)."""
    response.delete_cookie(CONSOLE_COOKIE, path=CONSOLE, httponly=True, samesite="strict")


def form_token(request: Request) -> str:
    """The form token of the signed-in key (the same on every page of the session)."""
    key = request.cookies.get(CONSOLE_COOKIE, "")
    return hmac.new(key.encode("utf-8"), _TOKEN_LABEL, hashlib.sha256).hexdigest()


async def form(request: Request) -> dict[str, str]:
    """A posted form's fields (the first value of each); its form token is checked."""
    body = (await request.body()).decode("utf-8", errors="replace")
    fields = {name: values[0] for name, values in parse_qs(body).items()}
    if not hmac.compare_digest(fields.get("token", ""), form_token(request)):
        raise ApiError(403, "form_token", "The form is stale or not the console's; reload it")
    return fields


def may_act(caller: Caller) -> bool:
    """Whether the key may cancel runs and resume journal rows (a read-only key sees,
    never acts; the admission layer refuses its posts before a route runs, this hides
    the buttons)."""
    return not caller.key.read_only


def require_act(caller: Caller, what: str) -> None:
    """Refuse an action to a key that may only read."""
    if not may_act(caller):
        raise ApiError(403, "read_only", f"This key may only read; it may not {what}")


def is_site_admin(caller: Caller) -> bool:
    """The site admin (resumes journal rows, sees the licences)."""
    return caller.identity.kind is IdentityKind.SITE_ADMIN

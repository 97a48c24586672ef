"""Who is calling: the master admin, a reseller, a context admin or a user (reference
section 1.4)."""

from __future__ import annotations

from mailadmin_ox.mock.model import MockContext, MockReseller
from mailadmin_ox.mock.state.base import Actor, OXStateBase, Ref

__all__ = ["AuthRules"]


class AuthRules(OXStateBase):
    """Authentication of each kind of caller."""

    # -- authentication ----------------------------------------------------------------------

    def _creds(self, creds: Ref | None) -> tuple[str, str]:
        if not creds or creds.get("login") is None:
            raise self.auth_fault("credential object is null")
        return str(creds.get("login") or ""), str(creds.get("password") or "")

    def _is_master(self, login: str, password: str) -> bool:
        return (login, password) == self.master

    def _reseller_login(self, login: str, password: str) -> MockReseller | None:
        found = next((r for r in self.resellers.values() if r.name == login), None)
        return found if found is not None and found.password == password else None

    def authenticate_master(self, creds: Ref | None) -> Actor:
        """Master-admin calls (OXContextService)."""
        login, password = self._creds(creds)
        if not self._is_master(login, password):
            raise self.auth_fault()
        return Actor("master")

    def authenticate_reseller(self, creds: Ref | None) -> Actor:
        """Reseller-service calls: the master admin or a sub-admin."""
        login, password = self._creds(creds)
        if self._is_master(login, password):
            return Actor("master")
        reseller = self._reseller_login(login, password)
        if reseller is None:
            raise self.auth_fault()
        return Actor("reseller", reseller=reseller)

    def authenticate_context(
        self, ctx: Ref | None, creds: Ref | None, *, allow_user: bool = False
    ) -> tuple[MockContext, Actor]:
        """Context-level calls: the context admin, the master (override on), the reseller
        owning the context, or (``allow_user``) a user of the context acting on himself.

        An unknown context is ``Authentication failed``, never "no such context", so that
        a caller cannot probe which contexts exist.
        """
        login, password = self._creds(creds)
        if self._is_master(login, password) and self.allow_master_override:
            return self.context(ctx), Actor("master")
        context = self._find_context(ctx)
        reseller = self._reseller_login(login, password)
        if reseller is not None:
            if context is None or not self._owns(reseller, context):
                raise self.auth_fault()
            return context, Actor("reseller", reseller=reseller)
        if context is None:
            raise self.auth_fault()
        if not context.enabled:
            # A disabled context (a suspended customer) lets none of its users in.
            raise self.auth_fault(f"Context {context.id} is disabled")
        user = context.user_named(login)
        if user is not None and user.context_admin and user.password == password:
            return context, Actor("admin", user=user)
        if allow_user and user is not None and not user.context_admin:
            if user.password != password or user.fields.get("mailenabled") is False:
                raise self.auth_fault(f"Authentication failed for user {login}")
            return context, Actor("user", user=user)
        raise self.auth_fault()

    def authenticate_owned_context(self, ctx: Ref | None, creds: Ref | None) -> MockContext:
        """Reseller context/user services: the master, or the reseller owning the context."""
        actor = self.authenticate_reseller(creds)
        if actor.kind == "master":
            return self.context(ctx)
        context = self._find_context(ctx)
        assert actor.reseller is not None
        if context is None or not self._owns(actor.reseller, context):
            raise self.auth_fault()
        return context

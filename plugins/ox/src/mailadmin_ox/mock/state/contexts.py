"""Contexts: create (with their context admin), change, delete (reference section 3.2)."""

from __future__ import annotations

from mailadmin_ox.mock.model import MockContext, MockGroup, MockUser
from mailadmin_ox.mock.state.base import (
    USER_MANDATORY,
    Actor,
    Ref,
    apply_fields,
    int_or_none,
    merge_attributes,
)
from mailadmin_ox.mock.state.restrictions import CONTEXT_LIMIT, RestrictionRules

__all__ = ["ContextRules"]


class ContextRules(RestrictionRules):
    """Contexts and their fields."""

    def _add_context(
        self,
        context_id: int,
        name: str,
        *,
        max_quota: int = -1,
        owner: int | None = None,
        admin: Ref | None = None,
        admin_access: frozenset[str] | None = None,
    ) -> MockContext:
        context = MockContext(id=context_id, name=name, max_quota=max_quota, owner=owner)
        admin = dict(admin or {})
        admin_name = str(admin.get("name") or "oxadmin")
        user = MockUser(
            id=2,
            name=admin_name,
            password=str(admin.get("password") or "secret"),
            access=admin_access
            if admin_access is not None
            else self.combinations.get("all", frozenset()),
            context_admin=True,
        )
        apply_fields(
            user,
            {
                "display_name": "Context Admin",
                "given_name": "Context",
                "sur_name": "Admin",
                "primaryEmail": f"{admin_name}@{name}",
                "email1": f"{admin_name}@{name}",
                **{k: v for k, v in admin.items() if k not in ("name", "password", "id")},
            },
        )
        context.users[2] = user
        context.groups[1] = MockGroup(1, "users", "All users", [2])
        self.contexts[context_id] = context
        self.data.next_context_id = max(self.data.next_context_id, context_id + 1)
        return context

    def create_context(
        self,
        actor: Actor,
        ctx: Ref,
        admin_user: Ref | None,
        combination: str | None = None,
    ) -> MockContext:
        """``create`` / ``createModuleAccessByName`` of a context."""
        if actor.kind == "reseller":
            assert actor.reseller is not None
            limit = int_or_none(actor.reseller.restrictions.get(CONTEXT_LIMIT))
            if limit is not None and len(self.contexts_of(actor)) >= limit:
                raise self.reseller_fault(f"Maximum number of contexts reached: {limit}")
        if ctx.get("maxQuota") is None:
            raise self.fault(
                "InvalidDataException", "Mandatory fields in context not set: maxQuota"
            )
        missing = [f for f in USER_MANDATORY if not (admin_user or {}).get(f)]
        if missing:
            raise self.fault(
                "InvalidDataException",
                "Mandatory fields in admin user not set: " + ", ".join(missing),
            )
        context_id = int(ctx.get("id") or self.data.next_context_id)
        name = str(ctx.get("name") or context_id)
        if context_id in self.contexts or any(c.name == name for c in self.contexts.values()):
            raise self.fault("ContextExistsException", f"Context {name} already exists")
        access = None
        if combination is not None:
            access = self.combination(combination)
        context = self._add_context(
            context_id,
            name,
            max_quota=int(ctx["maxQuota"]),
            owner=actor.reseller.id if actor.reseller else None,
            admin=admin_user,
            admin_access=access,
        )
        self._change_context_fields(context, ctx)
        return context

    def change_context(self, context: MockContext, ctx: Ref, *, restrictions: bool) -> None:
        """``change`` of a context: name, maxQuota, login mappings, attributes and (reseller
        service) the per-context restrictions.

        As OX's reseller bundle does, restrictions sent replace the context's whole list
        (delete all, insert those sent); a change carrying none leaves them untouched.
        """
        self._change_context_fields(context, ctx)
        # The decoder gives [] for an absent repeated element: "none sent", not "clear all".
        if restrictions and ctx.get("restriction"):
            new = {}
            for item in ctx["restriction"]:
                name = str(item.get("name") or "")
                self._check_restriction_name(name, context_level=True)
                new[name] = str(item.get("value") or "")
            context.restrictions = new

    def _change_context_fields(self, context: MockContext, ctx: Ref) -> None:
        if ctx.get("name") and ctx.get("id") is not None:
            context.name = str(ctx["name"])
        if ctx.get("maxQuota") is not None:
            context.max_quota = int(ctx["maxQuota"])
        if ctx.get("loginMappings") is not None:
            context.login_mappings = list(ctx["loginMappings"])
        if ctx.get("userAttributes"):
            merge_attributes(context.attributes, ctx["userAttributes"])
        if ctx.get("customid") is not None:
            context.customid = str(ctx["customid"])

    def delete_context(self, context: MockContext) -> None:
        """``delete`` of a context and everything in it."""
        del self.contexts[context.id]

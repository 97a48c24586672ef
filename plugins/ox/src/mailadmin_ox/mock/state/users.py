"""Users: create, change, module access, delete, list (reference section 3.1)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from mailadmin_ox.combinations import tokens_of
from mailadmin_ox.mock.model import MockContext, MockUser
from mailadmin_ox.mock.state.base import USER_MANDATORY, Actor, Ref, merge_attributes
from mailadmin_ox.mock.state.contexts import ContextRules

__all__ = ["UserRules"]


class UserRules(ContextRules):
    """Users of a context and their module access."""

    def user(
        self, context: MockContext, ref: Ref | None, *, default_message: bool = False
    ) -> MockUser:
        """The user referenced by ``id`` or ``name``, or ``NoSuchUserException``."""
        ref = ref or {}
        found: MockUser | None = None
        if ref.get("id") is not None:
            found = context.users.get(int(ref["id"]))
            what = ref["id"]
        else:
            found = context.user_named(str(ref.get("name") or ""))
            what = ref.get("name") or "null"
        if found is None:
            message = (
                "User does not exist"
                if default_message
                else (f"No such user {what} in context {context.id}")
            )
            raise self.fault("NoSuchUserException", message)
        return found

    def create_user(
        self, context: MockContext, usrdata: Ref, access: frozenset[str] | None = None
    ) -> MockUser:
        """``create`` (rights copied from the context admin) and ``createByModuleAccess*``."""
        missing = [f for f in USER_MANDATORY if not usrdata.get(f)]
        if missing:
            raise self.fault(
                "InvalidDataException", "Mandatory fields in user not set: " + ", ".join(missing)
            )
        name = str(usrdata["name"])
        if context.user_named(name) is not None:
            raise self.fault("InvalidDataException", f"User {name} already exists in this context")
        self._check_address_free(context, str(usrdata["primaryEmail"]), None)
        if str(usrdata["email1"]).lower() != str(usrdata["primaryEmail"]).lower():
            raise self.fault("InvalidDataException", "primaryEmail and email1 must be equal")
        if access is None:
            access = context.users[context.admin_id].access
        access = self.effective(access, context_admin=False)
        self._check_user_limits(context, access, user=None)
        user = MockUser(
            id=context.next_id, name=name, password=str(usrdata["password"]), access=access
        )
        context.next_id += 1
        self._apply_user_data(context, user, usrdata)
        context.users[user.id] = user
        context.groups[1].members.append(user.id)
        return user

    def _check_address_free(
        self, context: MockContext, address: str, user: MockUser | None
    ) -> None:
        wanted = address.lower()
        for other in context.users.values():
            if other is user:
                continue
            held = {
                str(other.fields.get("primaryEmail", "")).lower(),
                *map(str.lower, other.aliases),
            }
            if wanted in held:
                raise self.fault(
                    "InvalidDataException",
                    f'Primary mail address "{address}" already exists in context {context.id}',
                )

    def _check_alias_free(self, context: MockContext, alias: str, user: MockUser) -> None:
        """An alias another user of the context holds (address or alias) is refused."""
        wanted = alias.strip().lower()
        for other in context.users.values():
            if other is user:
                continue
            held = {
                str(other.fields.get("primaryEmail", "")).lower(),
                *map(str.lower, other.aliases),
            }
            if wanted in held:
                raise self.fault(
                    "InvalidDataException",
                    f'Alias "{alias}" already exists in context {context.id}',
                )

    def change_user(self, context: MockContext, actor: Actor, usrdata: Ref) -> None:
        """``change``: the fields sent, nothing else. A user may change only himself."""
        user = self.user(context, usrdata)
        if actor.kind == "user" and actor.user is not user:
            raise self.auth_fault()
        if usrdata.get("primaryEmail"):
            self._check_address_free(context, str(usrdata["primaryEmail"]), user)
        if usrdata.get("id") is not None and usrdata.get("name"):
            new_name = str(usrdata["name"])
            clash = context.user_named(new_name)
            if clash is not None and clash is not user:
                raise self.fault(
                    "InvalidDataException", f"User {new_name} already exists in this context"
                )
            user.name = new_name
        self._apply_user_data(context, user, usrdata)

    def _apply_user_data(self, context: MockContext, user: MockUser, usrdata: Ref) -> None:
        for key, value in usrdata.items():
            if value is None or key in ("id", "name", "contextadmin", "usedQuota"):
                continue
            if key == "password":
                user.password = str(value)
            elif key == "maxQuota":
                user.max_quota = int(value)
            elif key == "userAttributes":
                merge_attributes(user.attributes, value)
            elif key == "aliases":
                aliases = [str(a) for a in value]
                for alias in aliases:
                    self._check_alias_free(context, alias, user)
                user.aliases = aliases
            else:
                user.fields[key] = value

    def change_access(self, context: MockContext, user: MockUser, tokens: frozenset[str]) -> None:
        """Set a user's module access (restrictions checked first)."""
        access = self.effective(tokens, context_admin=user.context_admin)
        self._check_user_limits(context, access, user=user)
        user.access = access

    def change_access_flags(
        self, context: MockContext, user: MockUser, flags: Mapping[str, bool]
    ) -> None:
        """``changeByModuleAccess``: flags not sent keep their current value."""
        granted = tokens_of({k: True for k, v in flags.items() if v is True})
        revoked = tokens_of({k: True for k, v in flags.items() if v is False})
        self.change_access(context, user, (user.access | granted) - revoked)

    def delete_user(self, context: MockContext, user: MockUser) -> None:
        """``delete``; the context admin cannot be deleted."""
        if user.context_admin:
            raise self.fault("InvalidDataException", "Admin delete not supported")
        del context.users[user.id]
        for group in context.groups.values():
            if user.id in group.members:
                group.members.remove(user.id)
        for account in context.accounts.values():
            if user.id in account.users:
                account.users.remove(user.id)

    def list_users(
        self, context: MockContext, pattern: str = "*", *, exclude_users: bool = False
    ) -> list[MockUser]:
        """``list`` / ``listAll``: SQL-LIKE pattern on the login, ``*`` for everything."""
        if exclude_users:
            return []  # the mock holds no guests
        like = pattern.replace("%", "*") or "*"
        return [u for u in context.users.values() if fnmatch.fnmatchcase(u.name, like)]

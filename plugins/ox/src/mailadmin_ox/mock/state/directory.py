"""Resources (rooms, equipment), functional accounts and groups of a context (reference
section 3.3)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from mailadmin_ox.mock.model import MockAccount, MockContext, MockGroup, MockResource
from mailadmin_ox.mock.state.base import Ref
from mailadmin_ox.mock.state.users import UserRules

__all__ = ["DirectoryRules"]


class DirectoryRules(UserRules):
    """Resources, functional accounts and groups."""

    # -- resources ------------------------------------------------------------------------------

    def resource(self, context: MockContext, ref: Ref | None) -> MockResource:
        """The resource referenced by ``id`` or ``name``."""
        ref = ref or {}
        if ref.get("id") is not None:
            found = context.resources.get(int(ref["id"]))
            what = ref["id"]
        else:
            found = next((r for r in context.resources.values() if r.name == ref.get("name")), None)
            what = ref.get("name") or "null"
        if found is None:
            raise self.fault("NoSuchResourceException", f"Resource {what} does not exist")
        return found

    def create_resource(self, context: MockContext, res: Ref) -> MockResource:
        """``create`` of a resource: ``name``, ``displayname`` and ``email`` are mandatory."""
        missing = [f for f in ("name", "displayname", "email") if not res.get(f)]
        if missing:
            raise self.fault(
                "InvalidDataException",
                "Mandatory fields in resource not set: " + ", ".join(missing),
            )
        name = str(res["name"])
        if any(r.name == name for r in context.resources.values()):
            raise self.fault(
                "InvalidDataException", f"Resource {name} already exists in this context"
            )
        if any(r.email.lower() == str(res["email"]).lower() for r in context.resources.values()):
            raise self.fault(
                "InvalidDataException", f"Resource address {res['email']} already exists"
            )
        resource = MockResource(
            id=context.next_resource_id,
            name=name,
            display_name=str(res["displayname"]),
            email=str(res["email"]),
            description=str(res.get("description") or ""),
            available=res.get("available") is not False,
        )
        context.next_resource_id += 1
        context.resources[resource.id] = resource
        return resource

    def change_resource(self, context: MockContext, res: Ref) -> None:
        """``change`` of a resource: the fields sent."""
        resource = self.resource(context, res)
        if res.get("displayname"):
            resource.display_name = str(res["displayname"])
        if res.get("email"):
            resource.email = str(res["email"])
        if res.get("description") is not None:
            resource.description = str(res["description"])
        if res.get("available") is not None:
            resource.available = bool(res["available"])

    def list_resources(self, context: MockContext, pattern: str = "*") -> list[MockResource]:
        """``list`` / ``listAll`` of resources (pattern on the name)."""
        like = pattern.replace("%", "*") or "*"
        return [r for r in context.resources.values() if fnmatch.fnmatchcase(r.name, like)]

    # -- functional accounts ----------------------------------------------------------------------

    def create_account(
        self, context: MockContext, data: Ref, users: Iterable[Ref], groups: Iterable[Ref]
    ) -> MockAccount:
        """OXSecondaryAccountService ``create``."""
        missing = [f for f in ("name", "primaryAddress", "login") if not data.get(f)]
        if missing:
            raise self.fault(
                "InvalidDataException", "Mandatory fields in account not set: " + ", ".join(missing)
            )
        address = str(data["primaryAddress"])
        if address.lower() in context.accounts:
            raise self.fault("InvalidDataException", f'Account "{address}" already exists')
        user_ids = [self.user(context, ref).id for ref in users]
        group_ids = []
        for ref in groups:
            group_id = int(ref.get("id") or 0)
            if group_id and group_id not in context.groups:
                raise self.fault("NoSuchGroupException", f"Group {group_id} does not exist")
            group_ids.append(group_id)
        account = MockAccount(
            primary_address=address,
            name=str(data["name"]),
            login=str(data["login"]),
            personal=str(data.get("personal") or ""),
            mail_endpoint_source=str(data.get("mailEndpointSource") or "primary"),
            users=user_ids,
            groups=group_ids,
        )
        context.accounts[address.lower()] = account
        return account

    def delete_account(self, context: MockContext, address: str | None) -> None:
        """OXSecondaryAccountService ``delete`` (the whole account)."""
        if not address or address.lower() not in context.accounts:
            raise self.fault("InvalidDataException", f'No such account "{address}"')
        del context.accounts[address.lower()]

    # -- groups -------------------------------------------------------------------------------

    def group(self, context: MockContext, ref: Ref | None) -> MockGroup:
        """The group referenced by ``id`` or ``name``."""
        ref = ref or {}
        if ref.get("id") is not None:
            found = context.groups.get(int(ref["id"]))
        else:
            found = next((g for g in context.groups.values() if g.name == ref.get("name")), None)
        if found is None:
            what = ref.get("id") or ref.get("name") or "null"
            raise self.fault("NoSuchGroupException", f"Group {what} does not exist")
        return found

    def create_group(self, context: MockContext, grp: Ref) -> MockGroup:
        """``create`` of a group."""
        if not grp.get("name") or not grp.get("displayname"):
            raise self.fault(
                "InvalidDataException", "Mandatory fields in group not set: name, displayname"
            )
        if any(g.name == grp["name"] for g in context.groups.values()):
            raise self.fault(
                "InvalidDataException", f"Group {grp['name']} already exists in this context"
            )
        members = [self.user(context, {"id": m}).id for m in grp.get("members") or []]
        group = MockGroup(context.next_id, str(grp["name"]), str(grp["displayname"]), members)
        context.next_id += 1
        context.groups[group.id] = group
        return group

    def delete_group(self, context: MockContext, group: MockGroup) -> None:
        """``delete`` of a group; the default group stays."""
        if group.id == 1:
            raise self.fault("InvalidDataException", "The default group cannot be deleted")
        del context.groups[group.id]

"""Resellers (sub-admins): create, change, delete, with their own restrictions (reference
section 3.4)."""

from __future__ import annotations

from collections.abc import Iterable

from mailadmin_ox.mock.model import MockReseller
from mailadmin_ox.mock.state.base import Actor, Ref, int_or_none
from mailadmin_ox.mock.state.directory import DirectoryRules

__all__ = ["ResellerRules"]


class ResellerRules(DirectoryRules):
    """Sub-admins the actor may manage."""

    def reseller(self, actor: Actor, ref: Ref | None) -> MockReseller:
        """A sub-admin the actor may manage: itself, one it created, or any (master)."""
        ref = ref or {}
        found: MockReseller | None
        if ref.get("id") is not None:
            found = self.resellers.get(int(ref["id"]))
        else:
            found = next((r for r in self.resellers.values() if r.name == ref.get("name")), None)
        if found is None:
            what = ref.get("id") or ref.get("name") or "null"
            raise self.reseller_fault(f"The admin {what} does not exist")
        if actor.kind == "reseller":
            assert actor.reseller is not None
            if found is not actor.reseller and found.parent_id != actor.reseller.id:
                raise self.auth_fault("authentication failed")
        return found

    def resellers_of(self, actor: Actor) -> list[MockReseller]:
        """The sub-admins the actor may see."""
        if actor.kind == "master":
            return list(self.resellers.values())
        assert actor.reseller is not None
        return [r for r in self.resellers.values() if r.parent_id == actor.reseller.id]

    def create_reseller(self, actor: Actor, adm: Ref) -> MockReseller:
        """``OXResellerService.create``."""
        parent = 0
        if actor.kind == "reseller":
            assert actor.reseller is not None
            if actor.reseller.restrictions.get("Subadmin.CanCreateSubadmin") != "true":
                raise self.auth_fault("authentication failed")
            limit = int_or_none(actor.reseller.restrictions.get("Subadmin.MaxSubadmin"))
            if limit is not None and len(self.resellers_of(actor)) >= limit:
                raise self.reseller_fault(f"Maximum number of subadmins reached: {limit}")
            parent = actor.reseller.id
        missing = [f for f in ("name", "password", "displayname") if not adm.get(f)]
        if missing:
            raise self.fault(
                "InvalidDataException", "Mandatory fields not set: " + ", ".join(missing)
            )
        if (
            any(r.name == adm["name"] for r in self.resellers.values())
            or adm["name"] == self.master[0]
        ):
            raise self.fault("InvalidDataException", f"Reseller admin {adm['name']} already exists")
        reseller = MockReseller(
            id=self.data.next_reseller_id,
            name=str(adm["name"]),
            password=str(adm["password"]),
            display_name=str(adm["displayname"]),
            parent_id=parent,
        )
        self._set_reseller_restrictions(reseller, adm.get("restrictions") or [])
        self.data.next_reseller_id += 1
        self.resellers[reseller.id] = reseller
        return reseller

    def change_reseller(self, actor: Actor, adm: Ref) -> None:
        """``OXResellerService.change``: display name, password, restrictions (replaced)."""
        reseller = self.reseller(actor, adm)
        if actor.kind == "reseller" and reseller is actor.reseller and adm.get("restrictions"):
            raise self.auth_fault("authentication failed")  # nobody raises his own limits
        if adm.get("displayname"):
            reseller.display_name = str(adm["displayname"])
        if adm.get("password"):
            reseller.password = str(adm["password"])
        if adm.get("restrictions") is not None:
            reseller.restrictions = {}
            self._set_reseller_restrictions(reseller, adm["restrictions"])

    def _set_reseller_restrictions(self, reseller: MockReseller, items: Iterable[Ref]) -> None:
        for item in items:
            name = str(item.get("name") or "")
            self._check_restriction_name(name, context_level=False)
            if name.startswith("Context."):
                raise self.fault("InvalidDataException", f"{name} is a context restriction")
            reseller.restrictions[name] = str(item.get("value") or "")

    def delete_reseller(self, actor: Actor, adm: Ref) -> None:
        """``OXResellerService.delete``; refused while the sub-admin owns contexts."""
        reseller = self.reseller(actor, adm)
        if any(c.owner == reseller.id for c in self.contexts.values()):
            raise self.reseller_fault(f"Unable to delete {reseller.name}, still owns Context(s)")
        del self.resellers[reseller.id]

"""The OX mock's business rules, without HTTP (reference sections 1.4, 3.4, 4 and 10)."""

from __future__ import annotations

import pytest
from mailadmin_ox.combinations import STOCK
from mailadmin_ox.mock.state import OXData, OXFault, OXState

from mailadmin.mock import SeedError

ADMIN = {"login": "oxadmin", "password": "secret"}
MASTER = {"login": "oxadminmaster", "password": "secret"}
RESELLER = {"login": "reseller", "password": "secret"}
CTX = {"id": 1}


def _new_user(name: str) -> dict[str, str]:
    address = f"{name}@example.com"
    return {
        "name": name,
        "display_name": name,
        "password": "pw",
        "given_name": name,
        "sur_name": name,
        "primaryEmail": address,
        "email1": address,
    }


def test_the_defaults_are_the_documented_ones() -> None:
    state = OXState()
    context = state.contexts[1]

    assert state.master == ("oxadminmaster", "secret")
    assert state.combinations == STOCK
    assert context.name == "example.com"
    admin = context.users[2]
    assert (admin.name, admin.password, admin.context_admin) == ("oxadmin", "secret", True)
    assert state.combination_of(admin.access) == "all"


def test_reverse_lookup_is_an_exact_match() -> None:
    state = OXState()

    assert state.combination_of(STOCK["pim_mobility"]) == "pim_mobility"
    assert state.combination_of(STOCK["pim"] | {"usm"}) is None
    assert state.combination_of(frozenset()) is None


def test_only_context_admins_hold_publicfoldereditable() -> None:
    state = OXState()
    context = state.contexts[1]
    anna, admin = context.user_named("anna"), context.users[2]
    assert anna is not None

    state.change_access(context, anna, state.combination("all"))
    state.change_access(context, admin, state.combination("all"))

    # For a normal user "all" is stored as groupware_premium's rights and named so...
    assert state.combination_of(anna.access) == "groupware_premium"
    assert state.combination_of(admin.access) == "all"
    # ...and "groupware" (which includes the admin-only right) matches no name at all.
    state.change_access(context, anna, state.combination("groupware"))
    assert state.combination_of(anna.access) is None


def test_unknown_and_blank_combinations_are_refused_with_ox_texts() -> None:
    state = OXState()

    with pytest.raises(OXFault) as unknown:
        state.combination("platinum")
    with pytest.raises(OXFault) as blank:
        state.combination("  ")

    assert unknown.value.exception == "InvalidDataException"
    assert unknown.value.message.startswith(
        'No such access combination name "platinum"; exceptionId '
    )
    assert blank.value.message.startswith("User or UserModuleAccess is null; exceptionId ")


def test_fault_ids_count_up_and_credentials_faults_carry_none() -> None:
    state = OXState()

    first = state.fault("StorageException", "x").message
    second = state.fault("StorageException", "x").message
    with pytest.raises(OXFault) as auth:
        state.authenticate_master({"login": "oxadminmaster", "password": "no"})

    assert first.endswith(f"; exceptionId {state.jvm_id}-1")
    assert second.endswith(f"; exceptionId {state.jvm_id}-2")
    assert auth.value.message == "Authentication failed"


def test_an_unknown_context_under_context_admin_credentials_is_authentication_failed() -> None:
    state = OXState()

    with pytest.raises(OXFault) as caught:
        state.authenticate_context({"id": 99}, ADMIN)

    assert (caught.value.exception, caught.value.message) == (
        "InvalidCredentialsException",
        "Authentication failed",
    )


def test_the_master_is_accepted_in_contexts_only_with_the_override() -> None:
    state = OXState()
    context, actor = state.authenticate_context(CTX, MASTER)
    assert (context.id, actor.kind) == (1, "master")
    with pytest.raises(OXFault) as missing:
        state.authenticate_context({"id": 99}, MASTER)
    assert missing.value.exception == "NoSuchContextException"

    state.allow_master_override = False
    with pytest.raises(OXFault) as refused:
        state.authenticate_context(CTX, MASTER)
    assert refused.value.message == "Authentication failed"


def test_a_reseller_reaches_only_the_contexts_it_owns() -> None:
    state = OXState()
    state.load_seed(
        {
            "resellers": [{"name": "other", "password": "pw"}],
            "contexts": [{"id": 7, "name": "other.example", "owner": "other"}],
        }
    )

    assert state.authenticate_owned_context(CTX, RESELLER).id == 1
    with pytest.raises(OXFault) as caught:
        state.authenticate_owned_context({"id": 7}, RESELLER)
    assert caught.value.message == "Authentication failed"


def test_users_sign_in_only_where_ox_allows_it() -> None:
    state = OXState()
    anna = {"login": "anna", "password": "secret"}

    _, actor = state.authenticate_context(CTX, anna, allow_user=True)
    assert actor.kind == "user"
    with pytest.raises(OXFault) as wrong:
        state.authenticate_context(CTX, {"login": "anna", "password": "x"}, allow_user=True)
    with pytest.raises(OXFault) as not_admin:
        state.authenticate_context(CTX, anna)
    with pytest.raises(OXFault) as nobody:
        state.authenticate_context(CTX, None)

    assert wrong.value.message == "Authentication failed for user anna"
    assert not_admin.value.message == "Authentication failed"
    assert nobody.value.message == "credential object is null"


def test_context_max_user_counts_the_context_admin() -> None:
    state = OXState()
    context = state.contexts[1]
    context.restrictions["Context.MaxUser"] = str(len(context.users) + 1)  # 5 users allowed

    state.create_user(context, _new_user("dora"))
    with pytest.raises(OXFault) as caught:
        state.create_user(context, _new_user("eric"))

    assert len(context.users) == 5
    assert caught.value.exception == "OXResellerException"
    assert caught.value.message.startswith("Maximum number of users per context reached: 5;")


def test_per_plan_limits_apply_when_a_user_moves_not_when_it_stays() -> None:
    state = OXState()
    context = state.contexts[1]
    context.restrictions["Context.MaxUserByModuleaccess_pim_mobility"] = "1"  # ben holds it
    ben, anna = context.user_named("ben"), context.user_named("anna")
    assert ben is not None and anna is not None

    state.change_access(context, ben, state.combination("pim_mobility"))  # already there
    with pytest.raises(OXFault) as caught:
        state.change_access(context, anna, state.combination("pim_mobility"))

    assert "by moduleaccess per context reached: 1" in caught.value.message
    assert state.combination_of(anna.access) == "pim"


def test_overall_limits_sum_every_context_of_the_reseller() -> None:
    state = OXState()
    state.load_seed(
        {
            "resellers": [
                {
                    "name": "reseller",
                    "password": "secret",
                    "restrictions": {"Subadmin.MaxOverallUser": "5"},
                }
            ],
            "contexts": [{"id": 8, "name": "second.example", "owner": "reseller"}],
        }
    )
    second = state.contexts[8]  # four users in context 1 and this one's admin: five

    with pytest.raises(OXFault) as caught:
        state.create_user(second, _new_user("zed"))

    assert caught.value.message.startswith("Maximum overall number of users reached: 5;")


def test_context_restrictions_are_replaced_as_a_whole_and_checked() -> None:
    state = OXState()
    context = state.contexts[1]
    context.restrictions = {"Context.MaxUser": "10"}

    state.change_context(
        context,
        {"restriction": [{"name": "Context.MaxUserByModuleaccess_pim", "value": "3"}]},
        restrictions=True,
    )
    with pytest.raises(OXFault) as bad:
        state.change_context(
            context,
            {"restriction": [{"name": "Subadmin.MaxContext", "value": "3"}]},
            restrictions=True,
        )

    assert context.restrictions == {"Context.MaxUserByModuleaccess_pim": "3"}
    assert bad.value.exception == "InvalidDataException"


def test_change_sets_quota_and_attributes_and_removes_attributes_sent_empty() -> None:
    state = OXState()
    context = state.contexts[1]
    _, admin = state.authenticate_context(CTX, ADMIN)

    state.change_user(
        context,
        admin,
        {
            "name": "anna",
            "maxQuota": 5120,
            "userAttributes": {"cloud": {"service": "cloud_pim"}, "config": {"a": "1"}},
        },
    )
    state.change_user(context, admin, {"name": "anna", "userAttributes": {"config": {"a": None}}})

    anna = context.user_named("anna")
    assert anna is not None
    assert anna.max_quota == 5120
    assert anna.attributes == {"cloud": {"service": "cloud_pim"}}


def test_duplicates_and_the_context_admin_are_protected() -> None:
    state = OXState()
    context = state.contexts[1]

    with pytest.raises(OXFault) as duplicate:
        state.create_user(context, _new_user("Anna"))
    with pytest.raises(OXFault) as address:
        state.create_user(
            context,
            {
                **_new_user("anna2"),
                "primaryEmail": "anna@example.com",
                "email1": "anna@example.com",
            },
        )
    with pytest.raises(OXFault) as admin:
        state.delete_user(context, context.users[2])

    assert duplicate.value.message.startswith("User Anna already exists in this context;")
    assert "already exists" in address.value.message
    assert admin.value.message.startswith("Admin delete not supported;")


def test_a_reseller_with_contexts_cannot_be_deleted() -> None:
    state = OXState()
    master = state.authenticate_reseller(MASTER)

    with pytest.raises(OXFault) as caught:
        state.delete_reseller(master, {"name": "reseller"})

    assert caught.value.message.startswith("Unable to delete reseller, still owns Context(s);")


def test_a_snapshot_seeds_an_identical_state() -> None:
    state = OXState()
    context = state.contexts[1]
    state.create_user(context, {**_new_user("dora"), "maxQuota": 1})
    state.create_resource(
        context,
        {
            "name": "beamer",
            "displayname": "Beamer",
            "email": "beamer@example.com",
            "description": "equipment",
        },
    )
    snapshot = state.snapshot()

    copy = OXState()
    copy.load_seed(snapshot)

    assert copy.snapshot() == snapshot


@pytest.mark.parametrize(
    "seed",
    [
        {"contexts": [{"name": "no id"}]},
        {"contexts": [{"id": 3, "owner": "ghost"}]},
        {"contexts": [{"id": 3, "users": [{"name": "x", "access_combination": "platinum"}]}]},
        {"tenants": []},
    ],
)
def test_a_bad_seed_is_refused_with_a_clear_error(seed: dict[str, object]) -> None:
    with pytest.raises(SeedError):
        OXState().load_seed(seed)


def test_the_state_is_one_pydantic_model_and_its_dump_is_the_snapshot() -> None:
    state = OXState()
    state.contexts[1].restrictions["Context.MaxUser"] = "20"

    assert isinstance(state.data, OXData)
    assert state.snapshot() == {"operations": [], **state.data.model_dump(mode="json")}
    [context] = [c for c in state.snapshot()["contexts"] if c["id"] == 1]
    assert context["restrictions"] == {"Context.MaxUser": "20"}
    assert {u["name"]: u["access_combination"] for u in context["users"]}["anna"] == "pim"


@pytest.mark.parametrize(
    ("seed", "where"),
    [
        ({"contexts": [{"id": "seven"}]}, "contexts.0.id"),
        ({"tenants": []}, "tenants"),
        ({"resellers": [{"password": "x"}]}, "resellers.0.name"),
        ({"contexts": [{"id": 3, "resources": [{"name": "r"}]}]}, "contexts.0.resources.0.email"),
    ],
)
def test_a_bad_seed_names_the_wrong_field_and_changes_nothing(
    seed: dict[str, object], where: str
) -> None:
    state = OXState()
    before = state.snapshot()

    with pytest.raises(SeedError) as caught:
        state.load_seed(seed)

    assert where in str(caught.value)
    assert state.snapshot() == before


def test_reset_returns_to_the_documented_defaults() -> None:
    state = OXState()
    state.load_seed({"contexts": [{"id": 9, "name": "nine.example"}]})
    state.contexts[1].restrictions["Context.MaxUser"] = "1"

    state.reset()

    assert sorted(state.contexts) == [1]
    assert state.contexts[1].restrictions == {}
    assert state.snapshot() == OXState().snapshot()

"""The conformance kit fails broken providers, skips undeclared features with their reasons,
and runs in both modes. Each test runs the suites in a nested pytest session, as a plugin
author's CI would."""

from __future__ import annotations

import textwrap

import pytest

from mailadmin.contract.capabilities import KNOWN_ADDONS, REQUIRED, Capabilities, Operation
from mailadmin.contract.models import MailboxKind
from mailadmin.testing import requires
from mailadmin.testing.requirements import proven_features
from mailadmin.testing.suite import SUITES, ConformanceSuite, all_suites

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

_HEADER = """
import pytest

from mailadmin.contract.capabilities import KNOWN_ADDONS, Capabilities, Operation
from mailadmin.contract.models import ChangeResult, MailboxKind, Outcome
from mailadmin.reference.mock import MemoryMock
from mailadmin.reference.mock.refusals import REFUSALS
from mailadmin.reference.provider import MemoryProvider
from mailadmin.testing import ConformanceTarget, suite
from mailadmin.testing.probe import MemoryProbe


def target(provider, **more):
    return ConformanceTarget(
        provider=provider,
        mock=MemoryMock,
        settings=lambda url: {"endpoint": url},
        tenant="example.com",
        mailbox="anna@example.com",
        plans=("mail", "sync"),
        check_registration=provider is MemoryProvider,
        **{"probe": MemoryProbe(), "refusals": REFUSALS, **more},
    )
"""


def _module(body: str) -> str:
    return _HEADER + textwrap.dedent(body)


@pytest.fixture(autouse=True)
def _strict_asyncio(pytester: pytest.Pytester) -> None:
    # pytest-asyncio in its default strict mode, as in a plugin repository without set-up.
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def test_a_sound_provider_passes_in_both_modes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_sound=_module(
            """
            @pytest.fixture
            def mailadmin_target():
                return target(MemoryProvider)

            class TestSetPlan(suite.SetPlanSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*test_set_plan_then_set_plan_again_is_unchanged?in-process? PASSED*",
            "*test_set_plan_then_set_plan_again_is_unchanged?server? PASSED*",
        ]
    )


def test_a_wrong_set_plan_answer_fails_the_suite_in_both_modes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_broken=_module(
            """
            class AlwaysChanged(MemoryProvider):
                '''Claims every plan change did something, even a repeat.'''

                async def _set_plan(self, mailbox, plan):
                    result = await super()._set_plan(mailbox, plan)
                    return result.model_copy(update={"outcome": Outcome.CHANGED})

            @pytest.fixture
            def mailadmin_target():
                return target(AlwaysChanged)

            class TestSetPlan(suite.SetPlanSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*test_set_plan_then_set_plan_again_is_unchanged?in-process? FAILED*",
            "*test_set_plan_then_set_plan_again_is_unchanged?server? FAILED*",
            "*set_plan answered changed; expected unchanged*",
        ]
    )


def test_a_declared_capability_that_does_not_work_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_broken=_module(
            """
            class LosesMailboxes(MemoryProvider):
                '''Declares list_mailboxes but lists nothing.'''

                async def _list_mailboxes(self, tenant):
                    return []

            @pytest.fixture
            def mailadmin_target():
                return target(LosesMailboxes)

            class TestMailboxes(suite.MailboxSuite):
                pass

            class TestCounts(suite.CountSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-v", "--mailadmin-mode=in-process")
    result.stdout.fnmatch_lines(
        [
            "*TestMailboxes::test_list_includes_the_known_mailbox?in-process? FAILED*",
            "*TestMailboxes::test_create_mailbox?in-process-user? FAILED*",
            "*TestCounts::test_counts_agree_with_the_list?in-process? FAILED*",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_dry_run_that_writes_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_broken=_module(
            """
            class WritesAnyway(MemoryProvider):
                '''Writes during a dry run, telling the transport the call is a read.'''

                async def _apply_addon(self, tenant, addon, quantity):
                    result = await super()._apply_addon(tenant, addon, quantity)
                    if self.dry_run and result.outcome is Outcome.CHANGED:
                        await self.http.request(
                            "PUT", f"/api/tenants/{tenant.name}/allocations/extra_storage_gb",
                            write=False, json={"quantity": quantity},
                        )
                    return result

            @pytest.fixture
            def mailadmin_target():
                return target(WritesAnyway)

            class TestDryRun(suite.DryRunSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-v", "--mailadmin-mode=in-process", "-k", "apply_addon")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*a dry-run apply_addon of * sent writes: PUT *"])


def test_errors_that_are_not_typed_fail(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_broken=_module(
            """
            from mailadmin.contract.models import MailboxCount

            class HidesFailures(MemoryProvider):
                '''Answers an empty count whatever the platform says.'''

                async def _count_mailboxes(self, tenant):
                    try:
                        return await super()._count_mailboxes(tenant)
                    except Exception:
                        return MailboxCount(tenant=tenant.name, by_kind={})

            @pytest.fixture
            def mailadmin_target():
                return target(HidesFailures)

            class TestFailures(suite.FailureSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-v", "--mailadmin-mode=in-process")
    result.stdout.fnmatch_lines(
        [
            "*test_wrong_secret_is_an_authentication_error?in-process? FAILED*",
            "*test_unknown_mailbox_is_not_found?in-process? PASSED*",
            "*test_rate_limit_is_rate_limited?in-process? FAILED*",
            "*test_server_error_is_unavailable?in-process? FAILED*",
            "*test_dropped_connection_is_unavailable?in-process? FAILED*",
        ]
    )


def test_an_unsupported_capability_is_a_skip_with_the_declared_reason(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_gaps=_module(
            """
            class NoResources(MemoryProvider):
                '''The same platform, sold without rooms, equipment or extra storage.'''

                capabilities = Capabilities(
                    operations=frozenset(
                        {Operation.LIST_MAILBOXES, Operation.CREATE_MAILBOX, Operation.DELETE_MAILBOX}
                    ),
                    mailbox_kinds=frozenset({MailboxKind.USER, MailboxKind.SHARED}),
                    addons=frozenset({"mailboxes", "shared_mailbox"}),
                    unsupported={
                        "create_mailbox:room": "rooms are booked in the facilities system",
                        "create_mailbox:equipment": "rooms are booked in the facilities system",
                        "delete_mailbox:room": "rooms are booked in the facilities system",
                        "delete_mailbox:equipment": "rooms are booked in the facilities system",
                        "addon:resource_mailbox": "no resource mailboxes to sell",
                        "addon:storage_gb": "storage is fixed per plan",
                    },
                )

            @pytest.fixture
            def mailadmin_target():
                return target(NoResources)

            class TestConformance(suite.ConformanceSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-rs", "--mailadmin-mode=in-process")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED * memory does not support create_mailbox:room: rooms are booked in the facilities system",
            "SKIPPED * memory does not support create_mailbox:equipment: rooms are booked in the facilities system",
            "SKIPPED * memory does not support addon:storage_gb: storage is fixed per plan",
            "SKIPPED * memory does not support addon:resource_mailbox: no resource mailboxes to sell",
            "SKIPPED * memory does not support set_password: not implemented by this plugin",
            "SKIPPED * memory does not support set_display_name: not implemented by this plugin",
        ]
    )
    # Rooms and equipment: created, created twice, counted, deleted and dry-run created
    # (10); two add-ons,
    # set, dry-run set and the dry-run rule (6); no add-on beyond the known ones, no
    # over-licence seed, a variant that is not the registered class (3); the memory
    # platform never refuses inside a 200 (1); passwords and suspensions, which a class
    # that does not mention them lacks "not implemented by this plugin" (3 + 2 + 2); the
    # mailbox settings and sign-on, lacked the same way (3 display name, 1 forwarding,
    # 2 quota, 2 aliases, 1 sign-on); creating and removing tenants, the same way (3), and listing them (1).
    assert outcomes["skipped"] == 10 + 6 + 3 + 1 + 7 + 9 + 3 + 1
    assert outcomes["passed"] > 30


def test_the_mode_option_runs_one_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_modes=_module(
            """
            @pytest.fixture
            def mailadmin_target():
                return target(MemoryProvider)

            class TestConnection(suite.ConnectionSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-v", "--mailadmin-mode=server")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*in-process*")


def test_require_all_suites_refuses_a_partial_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_partial=_module(
            """
            @pytest.fixture
            def mailadmin_target():
                return target(MemoryProvider)

            class TestContract(suite.ContractSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("--mailadmin-require-all-suites")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*not run against the target: ConnectionSuite, SetPlanSuite*"])
    one = pytester.runpytest(
        "--mailadmin-require-all-suites",
        "test_partial.py::TestContract::test_every_gap_has_a_reason",
    )
    one.assert_outcomes(passed=1)
    # Naming the file is a deliberate partial run too (the docs promised it).
    by_file = pytester.runpytest("--mailadmin-require-all-suites", "test_partial.py")
    assert by_file.ret == pytest.ExitCode.OK, by_file.stderr.str()
    by_folder = pytester.runpytest("--mailadmin-require-all-suites", str(pytester.path))
    assert by_folder.ret == pytest.ExitCode.USAGE_ERROR

    pytester.makepyfile(
        test_complete=_module(
            """
            @pytest.fixture
            def mailadmin_target():
                return target(MemoryProvider)

            class TestConformance(suite.ConformanceSuite):
                pass
            """
        )
    )
    complete = pytester.runpytest("--mailadmin-require-all-suites", "--collect-only", "-q")
    assert complete.ret == pytest.ExitCode.OK


def test_the_contract_suite_runs_once_and_checks_registration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_contract=_module(
            """
            @pytest.fixture
            def mailadmin_target():
                return target(MemoryProvider)

            class TestContract(suite.ContractSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=7)


def test_every_suite_is_in_the_combined_suite() -> None:
    assert list(all_suites()) == list(SUITES)
    assert all(issubclass(ConformanceSuite, s) for s in SUITES)
    names = [n for s in SUITES for n in vars(s) if n.startswith("test_")]
    assert len(names) == len(set(names)), "two suites define a test of the same name"


def test_every_optional_feature_of_the_matrix_is_proven_by_a_suite() -> None:
    """A "yes" in the capability matrix is only worth what the kit checks behind it."""
    everything = Capabilities(
        operations=frozenset(Operation),
        mailbox_kinds=frozenset(MailboxKind),
        addons=frozenset(KNOWN_ADDONS),
    )
    optional = {f.key for f in everything.features()} - {op.value for op in REQUIRED}
    # The operation-wide keys are proven kind by kind.
    optional -= {Operation.CREATE_MAILBOX.value, Operation.DELETE_MAILBOX.value}
    assert optional - proven_features(ConformanceSuite) == set()


def test_requires_refuses_what_is_not_a_feature_key() -> None:
    requires("list_mailboxes", "create_mailbox:room", "addon:storage_gb", "delete_mailbox:{kind}")
    for bad in ("list_mailbox", "create_mailbox:garage", "addon:", "storage_gb"):
        with pytest.raises(ValueError, match="not a feature key"):
            requires(bad)


_QUOTA_AS_PLAN = """
from mailadmin.contract.models import MailboxKind
from mailadmin.reference.provider import MemoryProvider


class QuotaAsPlan(MemoryProvider):
    '''Writes a plan change into the mailbox's quota only, and reads the plan back from
    the quota: to itself it is consistent, on the platform the plan never changes.'''

    async def _get_mailbox(self, mailbox):
        found = await super()._get_mailbox(mailbox)
        if found is None or found.kind is not MailboxKind.USER:
            return found
        for plan in self.settings.plans.values():
            if plan.quota_mb == found.quota_mb:
                return found.model_copy(update={"plan": plan.native})
        return found

    @property
    def api(self):
        return _PlanIntoQuota(super().api)


class _PlanIntoQuota:
    '''The provider's JSON client, but a plan write keeps the held plan and sends only the quota.'''

    def __init__(self, api):
        self._api = api

    def __getattr__(self, name):
        return getattr(self._api, name)

    async def put(self, path, *, json=None, **more):
        if path.endswith("/plan"):
            held = await self._api.get(path.removesuffix("/plan"), operation="get")
            json = {"plan": held["plan"], "quota_mb": json["quota_mb"]}
        return await self._api.put(path, json=json, **more)
"""


def test_a_provider_that_reads_back_its_own_wrong_write_fails_on_the_platform(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_wrong_field=_QUOTA_AS_PLAN
        + _module(
            """
            @pytest.fixture(params=["blind", "probed"])
            def mailadmin_target(request):
                if request.param == "blind":
                    return target(QuotaAsPlan, probe=None)
                return target(QuotaAsPlan)

            class TestSetPlan(suite.SetPlanSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-v", "--mailadmin-mode=in-process")
    # Asking the provider alone, the bug is invisible; reading the platform, it shows.
    result.assert_outcomes(passed=2, failed=2)
    for line in (
        "*test_set_plan_then_set_plan_again_is_unchanged?blind-in-process? PASSED*",
        "*test_set_plan_reports_before_and_after?blind-in-process? PASSED*",
        "*test_set_plan_then_set_plan_again_is_unchanged?probed-in-process? FAILED*",
        "*test_set_plan_reports_before_and_after?probed-in-process? FAILED*",
        "*the platform holds plan 'mail' for anna@example.com, not 'sync'*",
    ):
        result.stdout.fnmatch_lines([line])


def test_a_target_without_a_probe_fails_the_contract_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_no_probe=_module(
            """
            class Unprobed(MemoryProvider):
                pass

            @pytest.fixture
            def mailadmin_target():
                return target(Unprobed, probe=None)

            class TestContract(suite.ContractSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=5, skipped=1, failed=1)  # skipped: the registration check
    result.stdout.fnmatch_lines(["*test_the_target_reads_the_platform FAILED*"])
    result.stdout.fnmatch_lines(["*the conformance target has no probe*"])


def test_a_provider_that_ignores_refusals_fails_the_kit(pytester: pytest.Pytester) -> None:
    """A plan write whose answer is never read looks right to every other suite; the
    refusal suite injects each refusal and fails it."""
    pytester.makepyfile(
        _module(
            """
            from mailadmin.sdk import Change
            from mailadmin.reference.provider import _mailbox_path

            class IgnoresRefusals(MemoryProvider):
                async def _set_plan(self, mailbox, plan):
                    target = self._plan(plan)
                    current = await self._get_mailbox(mailbox)

                    async def put_plan():
                        # Sent, and the answer never read: any refusal passes as done.
                        await self.http.request(
                            "PUT", f"{_mailbox_path(mailbox)}/plan",
                            json={"plan": target.native, "quota_mb": target.quota_mb},
                            write=True, idempotent=True, operation="change_plan",
                            auth=self.api.auth,
                        )

                    return await self.change(Change(
                        subject=mailbox.address,
                        before=self._neutral(current.plan) or current.plan,
                        after=plan,
                        apply=put_plan,
                    ))

            @pytest.fixture
            def mailadmin_target():
                return target(IgnoresRefusals)

            class TestRefusals(suite.RefusalSuite):
                pass

            class TestSetPlan(suite.SetPlanSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-v", "--mailadmin-mode=in-process")
    # Every other plan test passes: only the refusals show the fault.
    result.assert_outcomes(failed=4, skipped=1, passed=_passed_set_plan_tests())
    result.stdout.fnmatch_lines(["*set_plan answered changed although the platform refused*"])


def test_a_refusal_kind_left_undeclared_fails_with_what_to_declare(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        _module(
            """
            @pytest.fixture
            def mailadmin_target():
                return target(MemoryProvider, refusals={})

            class TestRefusals(suite.RefusalSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-v", "--mailadmin-mode=in-process")
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(["*does not say how its mock refuses with 'not_found'*"])


def test_a_platform_without_licences_must_not_report_seats(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        _module(
            """
            from mailadmin.sdk import LicenceModel, Provider

            FREE = MemoryProvider.capabilities.model_copy(
                update={"licence": LicenceModel(kind="none")}
            )

            class Free(MemoryProvider):
                capabilities = FREE

                async def _get_licence(self):   # what the base answers for "none"
                    return await Provider._get_licence(self)

            class SaysNoneButCounts(MemoryProvider):
                capabilities = FREE             # keeps the memory platform's seat count

            @pytest.fixture(params=[Free, SaysNoneButCounts], ids=["free", "counts"])
            def mailadmin_target(request):
                return target(request.param)

            class TestLicence(suite.LicenceSuite):
                pass
            """
        )
    )
    result = pytester.runpytest("-v", "--mailadmin-mode=in-process", "-k", "declared_model")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*counts*FAILED*"])


def _passed_set_plan_tests() -> int:
    from mailadmin.testing.suite import SetPlanSuite

    return len([n for n in vars(SetPlanSuite) if n.startswith("test_")])

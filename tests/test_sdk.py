"""mailadmin.sdk: the one module plugins import from; its ``__all__`` is pinned here."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

import mailadmin.sdk as sdk

#: The public surface. Changing it is a decision: update this list, the docs and the plugins.
PINNED = {
    "KNOWN_ADDONS",
    "with_cookie",
    "with_body",
    "retry_after_of",
    "request_headers",
    "odata_next_link",
    "items",
    "PollTimeout",
    "OffsetPage",
    "EnvelopeError",
    "REQUIRED",
    "AddonRef",
    "AnswerCheck",
    "ApiKeyAuth",
    "LicenceKind",
    "LicenceModel",
    "Reading",
    "Refusal",
    "Verdict",
    "Applied",
    "CallHooks",
    "CallInfo",
    "Capabilities",
    "Change",
    "ChangeResult",
    "ClientCredentialsAuth",
    "ConnectionStatus",
    "Credentials",
    "DemoScenario",
    "ErrorRule",
    "ErrorTable",
    "Feature",
    "JsonClient",
    "Licence",
    "LicenceFeature",
    "LicenceState",
    "Mailbox",
    "MailboxCount",
    "MailboxKind",
    "MailboxRef",
    "MailboxSettings",
    "SignOn",
    "NativePlan",
    "NewMailbox",
    "Node",
    "Operation",
    "Outcome",
    "PlanMapping",
    "Provider",
    "ProviderSettings",
    "Redactor",
    "Register",
    "SessionAuth",
    "SettingsT",
    "SoapClient",
    "SoapFault",
    "SoapMessage",
    "SoapVersion",
    "TenantRef",
    "Token",
    "Verified",
    "Streamed",
    "Transport",
    "auth",
    "bounded_int",
    "child",
    "child_text",
    "children",
    "content_type",
    "envelope",
    "errors",
    "fault_envelope",
    "hookimpl",
    "is_nil",
    "local_name",
    "namespace_of",
    "native_name",
    "next_link_pages",
    "node",
    "offset_pages",
    "paging",
    "parse_json",
    "poll",
    "polling",
    "raise_for_status",
    "read_envelope",
    "read_fault",
    "soap",
}


def test_a_plugin_gets_the_building_blocks_from_one_module() -> None:
    from mailadmin.sdk import Change, ErrorTable, JsonClient, Provider, ProviderSettings, errors

    assert issubclass(errors.NotFoundError, errors.MailadminError)
    assert Provider.settings_model is ProviderSettings
    assert Change and ErrorTable and JsonClient


def test_all_is_pinned() -> None:
    assert set(sdk.__all__) == PINNED
    assert len(sdk.__all__) == len(PINNED), "a name is listed twice"


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.parametrize("name", sorted(PINNED))
def test_every_name_resolves(name: str) -> None:
    module = sdk.lazy_names().get(name)
    if module is not None and not _present(module):
        pytest.skip(f"{name} comes with {module}, which is not in this tree yet")
    assert getattr(sdk, name) is not None


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        sdk.Nope  # noqa: B018


def test_the_sdk_loads_no_cli_database_or_mock_server_pieces() -> None:
    script = "import json, sys, mailadmin.sdk\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in json.loads(out.stdout)}
    assert not loaded & {"sqlalchemy", "click", "rich", "uvicorn", "respx", "aiohttp"}


def test_a_plain_embedder_installs_no_cli_or_mock_server_pieces() -> None:
    """click, rich, respx, uvicorn and fastapi are extras; the README's two commands
    install them."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {dep.split(">")[0].split("=")[0] for dep in project["dependencies"]}
    assert not runtime & {"click", "rich", "respx", "uvicorn", "fastapi"}
    extras = project["optional-dependencies"]
    assert {d.split(">")[0] for d in extras["cli"]} == {"click", "rich"}
    assert {d.split(">")[0] for d in extras["mock"]} == {"respx", "uvicorn"}
    # fastapi-offline serves /docs' assets from the package (no CDN); jinja2 renders the
    # operator console's pages.
    api = {d.split(">")[0] for d in extras["api"]}
    assert api == {"fastapi", "uvicorn", "fastapi-offline", "jinja2"}
    assert (
        "mailadmin[cli,mock,api,distributed,browser,metrics,tracing]" in extras["test"]
        and "mailadmin[test]" in extras["dev"]
    )
    demo = (root / "requirements" / "demo.txt").read_text(encoding="utf-8").split()
    test = (root / "requirements" / "test.txt").read_text(encoding="utf-8").split()
    # The demo installs the CLI, the mocks and the HTTP API (and may add extras).
    assert "-e" in demo and any(t.startswith(".[cli,mock,api") for t in demo)
    assert ".[dev]" in test


def test_every_building_block_module_is_exported_whole() -> None:
    """Each public name of the SOAP, auth, paging and polling modules is in the SDK."""
    from mailadmin.wire import auth, paging, polling, soap

    for module in (soap, auth, paging, polling):
        missing = set(module.__all__) - set(sdk.__all__) - {"XSI"}
        assert not missing, f"{module.__name__} exports {sorted(missing)} the SDK does not"
        for name in module.__all__:
            if name != "XSI":
                assert getattr(sdk, name) is getattr(module, name)


def test_the_mock_toolkit_exports_model_state_and_documents_its_wire_helpers() -> None:
    import mailadmin.mock as mock
    from mailadmin.mock import oauth, odata, soap
    from mailadmin.mock.state import ModelState

    assert mock.ModelState is ModelState and "ModelState" in mock.__all__
    for helper in (soap, odata, oauth):
        assert f":mod:`{helper.__name__}`" in (mock.__doc__ or "")


def test_ox_the_reference_provider_and_the_template_import_only_the_public_modules() -> None:
    """Plugins reach the core through mailadmin.sdk, mailadmin.mock and mailadmin.testing
    (submodules of the mock toolkit included), so the rest of the core may move."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = [
        *(root / "plugins" / "ox" / "src").rglob("*.py"),
        # mailcow, the fourth platform, was written as a third party would write it.
        *(root / "plugins" / "mailcow").rglob("*.py"),
        root / "src" / "mailadmin" / "reference" / "provider.py",
        *(root / "src" / "mailadmin" / "scaffold" / "template").rglob("*.py.tmpl"),
    ]
    # mailadmin.reference: the reference provider's own package (its mock).
    allowed = re.compile(r"mailadmin\.(sdk|mock|testing|reference)(\.|\s|$)")
    wrong = [
        f"{path.relative_to(root)}: {line.strip()}"
        for path in files
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"\s*(from|import) mailadmin\.", line)
        and not allowed.search(line.split(None, 2)[1] + " ")
    ]
    assert not wrong, "\n".join(wrong)

"""The TOML configuration: instances, tenants, catalogue, secrets from env or file."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailadmin.contract import errors
from mailadmin.orchestration.config import Config

SAMPLE = """
[plans.mail]
rank = 1
[plans.sync]
rank = 2

[addons.shared_mailbox]

[instances.main]
provider = "memory"
credentials = { username = "admin", secret_env = "MAILADMIN_TEST_SECRET" }
plans.mail = { native = "basic", quota_mb = 2048 }

[instances.other]
provider = "memory"
credentials = { username = "admin", secret_file = "secret.txt" }

[tenants."example.com"]
instance = "main"
native_id = 7
domains = ["example.com", "example.org"]
"""


def test_a_configuration_file_is_read_and_cross_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mailadmin.toml"
    path.write_text(SAMPLE)
    (tmp_path / "secret.txt").write_text("from-a-file\n")
    monkeypatch.setenv("MAILADMIN_TEST_SECRET", "from-the-env")
    config = Config.load(path)
    assert config.tenant_ref("example.org").name == "example.com"
    assert config.tenant_ref("example.com").native_id == "7"
    assert config.tenant_of_address("anna@example.org").name == "example.com"
    main = config.instances["main"].provider_settings(config.base_dir, "main")
    assert main["credentials"] == {"username": "admin", "secret": "from-the-env"}
    assert main["plans"] == {"mail": {"native": "basic", "quota_mb": 2048}}
    other = config.instances["other"].provider_settings(config.base_dir, "other")
    assert other["credentials"]["secret"] == "from-a-file"


def test_a_missing_secret_variable_is_a_clear_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mailadmin.toml"
    path.write_text(SAMPLE)
    monkeypatch.delenv("MAILADMIN_TEST_SECRET", raising=False)
    config = Config.load(path)
    with pytest.raises(errors.ConfigurationError, match="MAILADMIN_TEST_SECRET is not set"):
        config.instances["main"].provider_settings(config.base_dir, "main")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("instances = 3", "instances"),
        (
            "[instances.a]\nprovider='memory'\n[tenants.t]\ninstance='nope'",
            "unknown instance 'nope'",
        ),
        ("[plans.mail]\n[instances.a]\nprovider='memory'\nplans.gold={}", "plan 'gold' missing"),
        ("[instances.a\nprovider=", "not valid TOML"),
    ],
)
def test_invalid_configurations_are_refused_with_a_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(errors.ConfigurationError, match=message):
        Config.load(path)


def test_unknown_tenants_and_missing_files_are_reported() -> None:
    config = Config.from_dict({"instances": {"a": {"provider": "memory"}}})
    with pytest.raises(errors.ValidationError, match="Unknown tenant 'nobody.example'"):
        config.tenant_of_address("x@nobody.example")
    with pytest.raises(errors.ConfigurationError, match="does not exist"):
        Config.load("/nonexistent/mailadmin.toml")


def test_nested_secrets_of_plugin_settings_come_from_env_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ctx7.secret").write_text("from-file-7\n")
    monkeypatch.setenv("CTX_3_SECRET", "from-env-3")
    config = Config.from_dict(
        {
            "instances": {
                "ox": {
                    "provider": "ox",
                    "context_credentials": {
                        "3": {"username": "admin3", "secret_env": "CTX_3_SECRET"},
                        "7": {"username": "admin7", "secret_file": "ctx7.secret"},
                    },
                }
            }
        },
        base_dir=tmp_path,
    )
    settings = config.instances["ox"].provider_settings(tmp_path, "ox")
    assert settings["context_credentials"] == {
        "3": {"username": "admin3", "secret": "from-env-3"},
        "7": {"username": "admin7", "secret": "from-file-7"},
    }
    monkeypatch.delenv("CTX_3_SECRET")
    with pytest.raises(errors.ConfigurationError, match="CTX_3_SECRET is not set"):
        config.instances["ox"].provider_settings(tmp_path, "ox")


def test_one_domain_under_two_tenants_is_refused_when_loaded() -> None:
    data = {
        "instances": {"a": {"provider": "memory"}},
        "tenants": {
            "first": {"instance": "a", "domains": ["example.com"]},
            "second": {"instance": "a", "domains": ["Example.com", "example.net"]},
        },
    }
    with pytest.raises(errors.ConfigurationError, match="domain 'Example.com' is listed under"):
        Config.from_dict(data)
    data["tenants"] = {
        "example.com": {"instance": "a"},
        "other": {"instance": "a", "domains": ["example.com"]},
    }
    with pytest.raises(errors.ConfigurationError, match="'example.com' and 'other'"):
        Config.from_dict(data)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:99999", "https://ox.example.net:0"])
def test_a_port_out_of_range_has_its_own_message(endpoint: str) -> None:
    with pytest.raises(errors.ConfigurationError, match="must be a number from 1 to 65535"):
        Config.from_dict({"instances": {"a": {"provider": "memory", "endpoint": endpoint}}})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("journal.sqlite", "is not a database URL"),
        ("sqlite:///missing-folder/journal.sqlite", "folder of the journal file"),
    ],
)
def test_a_journal_url_that_is_not_one_or_names_a_missing_folder_is_refused(
    tmp_path: Path, url: str, message: str
) -> None:
    data = {"instances": {"a": {"provider": "memory"}}, "journal": {"url": url}}
    with pytest.raises(errors.ConfigurationError, match=message):
        Config.from_dict(data, base_dir=tmp_path)

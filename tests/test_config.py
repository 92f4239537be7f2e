"""qbtrace.toml: overrides per provider, custom RFC 6749 providers, the app's facts, and the
record of what a config changed (the outputs disclose it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qbtrace.config import load_profile, profile_from_dict
from qbtrace.errors import ConfigError
from qbtrace.model import Kind
from qbtrace.profile import Profile
from qbtrace.providers import DEFAULT
from qbtrace.providers.quickbooks import TOKEN as QUICKBOOKS_TOKEN

APP = "https://app.example.com"

NUMBERS = {
    "access_token_lifetime": 1800,
    "refresh_token_lifetime": 86_400.5,
    "rotation_grace": 60,
    "legacy_rotation_grace": 0,
    "code_lifetime": 300,
    "outage_window": 120,
    "outage_min_lineages": 5,
    "race_window": 1.5,
}


def test_each_provider_setting_is_applied() -> None:
    urls = {
        "token_endpoint": "https://auth.example.com/token",
        "authorize_endpoint": "https://auth.example.com/authorize",
        "revoke_endpoint": "https://auth.example.com/revoke",
    }
    profile = profile_from_dict({"provider": {**NUMBERS, **urls}})
    for key, value in {**NUMBERS, **urls}.items():
        assert getattr(profile.default, key) == value, key
        assert getattr(profile.default, key) != getattr(Profile().default, key), key
        assert profile.overrides[key] == value, key


def test_each_app_setting_is_applied() -> None:
    profile = profile_from_dict(
        {
            "app": {
                "redirect_uris": [f"{APP}/cb", "http://localhost:3000/cb"],
                "disconnect_urls": [f"{APP}/unlink"],
                "disconnect_url": f"{APP}/disconnect",
                "client_ids": {"production": ["ABprod"]},
            }
        }
    )
    assert profile.redirect_uris == (f"{APP}/cb", "http://localhost:3000/cb")
    assert profile.disconnect_urls == (f"{APP}/unlink", f"{APP}/disconnect")
    assert dict(profile.client_ids) == {"ABprod": "production"}
    assert profile_from_dict({"app": {"redirect_uris": f"{APP}/cb"}}).redirect_uris == (
        f"{APP}/cb",
    )


def test_an_empty_config_is_the_quickbooks_profile() -> None:
    assert profile_from_dict({}) == Profile()


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"provider": {"code_lifetime": -1}}, "provider.code_lifetime"),
        ({"provider": {"outage_window": "5m"}}, "provider.outage_window"),
        ({"provider": {"rotation_grace": True}}, "provider.rotation_grace"),
        ({"provider": {"token_endpoint": "/oauth/token"}}, "provider.token_endpoint"),
        ({"provider": {"revoke_endpoint": 3}}, "provider.revoke_endpoint"),
        ({"provider": {"authorize_endpoint": "appcenter.intuit.com"}}, "authorize_endpoint"),
        ({"provider": {"code_lifetme": 60}}, "provider.code_lifetme"),
        ({"provider": {"rotation_period": 60}}, "provider.rotation_period"),
        ({"app": {"redirect_uri": f"{APP}/cb"}}, "app.redirect_uri"),
        ({"app": {"redirect_uris": [f"{APP}/cb", 3]}}, "app.redirect_uris"),
        ({"app": {"disconnect_urls": {"a": "b"}}}, "app.disconnect_urls"),
        ({"app": {"client_ids": ["ABprod"]}}, "app.client_ids"),
        ({"app": {"client_ids": {"production": ["ABprod", 7]}}}, "app.client_ids.production"),
        ({"provider": "quickbooks"}, "[provider]"),
        ({"app": ["x"]}, "[app]"),
    ],
)
def test_a_bad_setting_is_a_config_error_naming_it(data: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)) as err:
        profile_from_dict(data, "qbtrace.toml")
    assert err.value.source == "qbtrace.toml"


def test_a_client_ids_value_that_is_no_list_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"app\.client_ids\.production"):
        profile_from_dict({"app": {"client_ids": {"production": 5}}})


def test_load_profile_reads_the_given_file(tmp_path: Path) -> None:
    path = tmp_path / "custom.toml"
    path.write_text(
        '[provider]\ncode_lifetime = 120\n[app]\nredirect_uris = ["https://a.example.com/cb"]\n'
    )
    profile = load_profile(path)
    assert profile.default.code_lifetime == 120
    assert profile.redirect_uris == ("https://a.example.com/cb",)


def test_load_profile_picks_up_qbtrace_toml_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_profile(None) == Profile()
    (tmp_path / "qbtrace.toml").write_text("[provider]\noutage_min_lineages = 7\n")
    assert load_profile(None).default.outage_min_lineages == 7
    other = tmp_path / "other.toml"
    other.write_text("[provider]\noutage_min_lineages = 4\n")
    assert load_profile(other).default.outage_min_lineages == 4  # an explicit file wins


def test_load_profile_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[provider\ncode_lifetime = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML") as err:
        load_profile(broken)
    assert err.value.source == str(broken)
    with pytest.raises(ConfigError, match=r"no such config file$"):  # no exception names
        load_profile(tmp_path / "missing.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[app]\nredirect_uris = ["https://caf\xe9.example.com/cb"]\n')
    with pytest.raises(ConfigError, match="config is not UTF-8 text"):
        load_profile(latin)
    bad = tmp_path / "bad.toml"
    bad.write_text("[provider]\ncode_lifetime = -5\n")
    with pytest.raises(ConfigError, match=r"provider\.code_lifetime") as err:
        load_profile(bad)
    assert err.value.source == str(bad)


def test_misspelled_tables_and_wrong_types_are_config_errors() -> None:
    for data, says in (
        ({"providr": {}}, r"unknown table \[providr\]"),
        ({"app": {"disconnect_url": ["https://a.example.com/d"]}}, r"app\.disconnect_url"),
        ({"app": {"client_ids": {"production": {"x": "y"}}}}, r"app\.client_ids\.production"),
    ):
        with pytest.raises(ConfigError, match=says):
            profile_from_dict(data)


def test_a_custom_provider_is_defined_by_its_token_endpoint_and_gets_generic_defaults() -> None:
    profile = profile_from_dict(
        {
            "providers": {
                "acme": {
                    "token_endpoint": "https://login.acme.example/oauth/token",
                    "revoke_endpoint": "https://login.acme.example/oauth/revoke",
                    "rotation_grace": 1800,
                    "refresh_token_lifetime": 86_400,
                    "title": "Acme ID",
                }
            }
        }
    )
    acme = profile.named("acme")
    assert (acme.rotation_grace, acme.refresh_token_lifetime, acme.label) == (
        1800,
        86_400,
        "Acme ID",
    )
    # nothing of QuickBooks leaks into it: no legacy grace, no Intuit fields or words
    assert acme.legacy_rotation_grace == 0 and acme.request_id_header is None
    assert acme.phrases()["provider"] == "the provider"
    assert profile.kind_of("POST", "https://login.acme.example/oauth/revoke") == Kind.REVOKE
    assert profile.default == DEFAULT  # the default provider untouched
    assert profile.overrides == {
        "acme.token_endpoint": "https://login.acme.example/oauth/token",
        "acme.revoke_endpoint": "https://login.acme.example/oauth/revoke",
        "acme.rotation_grace": 1800,
        "acme.refresh_token_lifetime": 86_400,
        "acme.title": "Acme ID",
    }


def test_a_built_in_provider_is_tuned_by_name_and_only_real_changes_are_overrides() -> None:
    profile = profile_from_dict(
        {"providers": {"quickbooks": {"rotation_grace": 86_400, "code_lifetime": 600}}}
    )
    assert profile.default.rotation_grace == 86_400
    assert profile.overrides == {"rotation_grace": 86_400}  # 600 s is the default already
    assert profile.default.token_endpoint == QUICKBOOKS_TOKEN


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"providers": {"acme": {"rotation_grace": 5}}}, r"needs a token_endpoint"),
        ({"providers": {"acme": "x"}}, r"\[providers\.acme\] must be a table"),
        ({"providers": {"my-idp": {"token_endpoint": "https://a.example/t"}}}, r"letters"),
        ({"providers": {"acme": {"token_endpoint": "/t"}}}, r"acme\.token_endpoint"),
        ({"providers": {"quickbooks": {"intuit_tid": 1}}}, r"providers\.quickbooks\.intuit"),
        ({"provider": {"title": 3}}, r"provider\.title must be a string"),
    ],
)
def test_bad_provider_tables_are_config_errors(data: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        profile_from_dict(data, "qbtrace.toml")


def test_app_settings_are_disclosed_without_the_client_ids_themselves() -> None:
    profile = profile_from_dict(
        {"app": {"client_ids": {"production": ["ABprod1", "ABprod2"], "development": "ABdev"}}}
    )
    assert profile.overrides == {"app.client_ids": {"production": 2, "development": 1}}


def test_a_config_in_the_current_folder_is_marked_and_can_be_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qbtrace.toml").write_text("[provider]\nrotation_grace = 86400\n")
    found = load_profile(None)
    assert (found.config_file, found.config_implicit) == ("qbtrace.toml", True)
    assert found.overrides == {"rotation_grace": 86_400}
    assert load_profile(None, local=False) == Profile()
    named = load_profile(tmp_path / "qbtrace.toml", local=False)
    assert not named.config_implicit and named.default.rotation_grace == 86_400


def test_a_custom_provider_can_switch_on_reuse_detection_and_a_token_limit() -> None:
    profile = profile_from_dict(
        {
            "providers": {
                "okta": {
                    "token_endpoint": "https://dev-1.okta.example/oauth2/default/v1/token",
                    "reuse_detection": True,
                    "rotation_grace": 30,
                },
                "zoho": {
                    "token_endpoint": "https://accounts.zoho.example/oauth/v2/token",
                    "token_limit": 20,
                },
            }
        }
    )
    okta, zoho = profile.named("okta"), profile.named("zoho")
    assert okta.reuse_detection and okta.rotation_grace == 30 and okta.token_limit is None
    assert zoho.token_limit == 20 and not zoho.reuse_detection
    assert profile.overrides["okta.reuse_detection"] is True
    assert profile.overrides["zoho.token_limit"] == 20


def test_reuse_detection_must_be_true_or_false() -> None:
    with pytest.raises(
        ConfigError, match=r"providers\.xero\.reuse_detection must be true or false"
    ):
        profile_from_dict({"providers": {"xero": {"reuse_detection": "yes"}}})


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"provider": {"code_lifetime": float("nan")}}, "code_lifetime must be a non-negative"),
        ({"provider": {"code_lifetime": float("inf")}}, "code_lifetime must be a non-negative"),
        ({"provider": {"code_lifetime": True}}, "code_lifetime must be a non-negative"),
        ({"provider": {"outage_min_lineages": 2.5}}, "outage_min_lineages must be a non-neg"),
        ({"provider": {"token_endpoint": "https://[::1/oauth"}}, "not a valid URL"),
        ({"app": {"redirect_uris": ["/callback"]}}, r"app\.redirect_uris\[0\] must be a list"),
        ({"app": {"disconnect_url": "https://[fe80::1/d"}}, r"app\.disconnect_url is not a"),
        ({"app": {"client_ids": {"production": ["AB", 7]}}}, r"production\[1\] must list"),
    ],
)
def test_values_are_validated_by_type_and_form(data: dict[str, object], says: str) -> None:
    # TOML allows nan, inf and unclosed brackets in strings: each is one ConfigError
    with pytest.raises(ConfigError, match=says):
        profile_from_dict(data, "qbtrace.toml")

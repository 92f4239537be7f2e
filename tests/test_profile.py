"""Which requests are OAuth traffic, and how qbtrace.toml overrides the QuickBooks defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qbtrace.errors import ConfigError
from qbtrace.model import Kind
from qbtrace.profile import (
    QUICKBOOKS_AUTHORIZE,
    QUICKBOOKS_REVOKE,
    QUICKBOOKS_TOKEN,
    Profile,
    load_profile,
    profile_from_dict,
)

APP = "https://app.example.com"
AUTHORIZE_QUERY = "?client_id=ABc&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&state=s1"

KINDS = [
    ("POST", QUICKBOOKS_TOKEN, Kind.TOKEN),
    ("post", QUICKBOOKS_TOKEN, Kind.TOKEN),
    ("GET", QUICKBOOKS_TOKEN, None),
    ("POST", QUICKBOOKS_TOKEN + "/", Kind.TOKEN),
    ("POST", "https://OAUTH.Platform.Intuit.COM/oauth2/v1/tokens/bearer", Kind.TOKEN),
    ("POST", "https://oauth.platform.intuit.com:443/oauth2/v1/tokens/bearer", Kind.TOKEN),
    ("POST", QUICKBOOKS_TOKEN + "?minorversion=65", Kind.TOKEN),
    ("POST", "https://oauth.platform.intuit.com/OAUTH2/v1/tokens/bearer", None),
    ("POST", "https://sandbox.platform.intuit.com/oauth2/v1/tokens/bearer", None),
    ("POST", QUICKBOOKS_REVOKE, Kind.REVOKE),
    ("GET", QUICKBOOKS_REVOKE, None),
    ("GET", QUICKBOOKS_AUTHORIZE + AUTHORIZE_QUERY, Kind.AUTHORIZE),
    ("GET", QUICKBOOKS_AUTHORIZE + "/" + AUTHORIZE_QUERY, Kind.AUTHORIZE),
    ("GET", f"{APP}/cb?code=AB11abc&state=s1&realmId=4620816365", Kind.CALLBACK),
    ("GET", f"{APP}/cb?code=AB11abc&state=s1", Kind.CALLBACK),
    ("GET", f"{APP}/cb?code=AB11abc&realmId=4620816365", Kind.CALLBACK),
    ("GET", f"{APP}:8443/cb?code=AB11abc&state=s1", Kind.CALLBACK),
    ("GET", f"{APP}/cb?code=AB11abc", None),
    ("POST", f"{APP}/cb?code=AB11abc&state=s1", None),
    ("GET", f"{APP}/cb?error=access_denied&state=s1", None),
    ("GET", f"{APP}/quickbooks/disconnect?realmId=4620816365", Kind.DISCONNECT),
    ("GET", f"{APP}/quickbooks/Disconnect?realmId=4620816365", Kind.DISCONNECT),
    ("GET", f"{APP}/quickbooks/disconnect", None),
    ("GET", f"{APP}/quickbooks/unlink?realmId=4620816365", None),
    ("GET", "https://quickbooks.api.intuit.com/v3/company/4620816365/query?query=x", None),
    ("GET", "https://www.example.com/", None),
    ("POST", "https://login.example.com/oauth2/token", None),
]


@pytest.mark.parametrize(("method", "url", "kind"), KINDS)
def test_kind_of_the_quickbooks_endpoints(method: str, url: str, kind: Kind | None) -> None:
    assert Profile().kind_of(method, url) == kind


def test_a_configured_disconnect_url_needs_no_realm_id_nor_the_usual_name() -> None:
    profile = Profile(disconnect_urls=(f"{APP}/hooks/qbo-unlink",))
    assert profile.kind_of("GET", f"{APP}/hooks/qbo-unlink") == Kind.DISCONNECT
    assert profile.kind_of("POST", "https://APP.example.com/hooks/qbo-unlink/") == Kind.DISCONNECT
    assert profile.is_configured_disconnect(f"{APP}/hooks/qbo-unlink/")
    assert Profile().kind_of("GET", f"{APP}/hooks/qbo-unlink") is None
    assert not Profile().is_configured_disconnect(f"{APP}/quickbooks/disconnect?realmId=1")


def test_configured_endpoints_replace_the_quickbooks_ones() -> None:
    profile = profile_from_dict(
        {"provider": {"token_endpoint": "http://localhost:8080/mock/oauth/token"}}
    )
    assert profile.kind_of("POST", "http://localhost:8080/mock/oauth/token") == Kind.TOKEN
    assert profile.kind_of("POST", QUICKBOOKS_TOKEN) is None
    assert profile.kind_of("POST", QUICKBOOKS_REVOKE) == Kind.REVOKE


def test_a_configured_disconnect_url_at_the_root_of_its_host_is_recognised() -> None:
    profile = Profile(disconnect_urls=("https://qbo-hooks.example.com/",))
    assert profile.kind_of("GET", "https://qbo-hooks.example.com/") == Kind.DISCONNECT


def test_every_url_kind_of_accepts_contains_a_needle() -> None:
    profile = Profile(disconnect_urls=(f"{APP}/hooks/qbo-unlink",))
    accepted = [(m, u) for m, u, k in KINDS if k is not None]
    accepted.append(("GET", f"{APP}/hooks/qbo-unlink"))
    for method, url in accepted:
        assert profile.kind_of(method, url) is not None, url
        assert any(n in url for n in profile.needles), url
    assert "" not in profile.needles  # an empty needle would let every URL through
    assert "/hooks/qbo-unlink" in profile.needles


def test_environment_of_a_client_id() -> None:
    profile = profile_from_dict(
        {"app": {"client_ids": {"development": ["ABdev1", "ABdev2"], "production": "ABprod"}}}
    )
    assert profile.environment_of("ABdev2") == "development"
    assert profile.environment_of("ABprod") == "production"
    assert profile.environment_of("ABother") is None
    assert profile.environment_of(None) is None
    assert Profile().environment_of("ABdev1") is None


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
        assert getattr(profile, key) == value, key
        assert getattr(profile, key) != getattr(Profile(), key), key


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
    assert profile.code_lifetime == 120
    assert profile.redirect_uris == ("https://a.example.com/cb",)


def test_load_profile_picks_up_qbtrace_toml_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_profile(None) == Profile()
    (tmp_path / "qbtrace.toml").write_text("[provider]\noutage_min_lineages = 7\n")
    assert load_profile(None).outage_min_lineages == 7
    other = tmp_path / "other.toml"
    other.write_text("[provider]\noutage_min_lineages = 4\n")
    assert load_profile(other).outage_min_lineages == 4  # an explicit file wins


def test_load_profile_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[provider\ncode_lifetime = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML") as err:
        load_profile(broken)
    assert err.value.source == str(broken)
    with pytest.raises(ConfigError, match="cannot read config"):
        load_profile(tmp_path / "missing.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[app]\nredirect_uris = ["https://caf\xe9.example.com/cb"]\n')
    with pytest.raises(ConfigError, match="cannot read config"):
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


def test_ports_tell_endpoints_apart_and_parameter_names_are_matched_whole() -> None:
    profile = Profile(token_endpoint="http://localhost:8080/oauth2/v1/tokens/bearer")
    assert profile.kind_of("POST", "http://localhost:8080/oauth2/v1/tokens/bearer") == Kind.TOKEN
    assert profile.kind_of("POST", "http://localhost:9090/oauth2/v1/tokens/bearer") is None
    qb = Profile()
    assert qb.kind_of("POST", "https://oauth.platform.intuit.com:443/oauth2/v1/tokens/bearer")
    assert qb.kind_of("GET", "https://shop.example.com/items?zipcode=1&realmId=5") is None
    assert qb.kind_of("GET", "https://app.example.com/cb?code=1&realmId=5") == Kind.CALLBACK

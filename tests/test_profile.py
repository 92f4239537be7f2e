"""Which requests are OAuth traffic, and whose: the providers' endpoints, the app's URLs."""

from __future__ import annotations

import pytest

from qbtrace.config import profile_from_dict
from qbtrace.model import Kind
from qbtrace.profile import Profile
from qbtrace.providers import MODULES
from qbtrace.providers.quickbooks import AUTHORIZE as QUICKBOOKS_AUTHORIZE
from qbtrace.providers.quickbooks import REVOKE as QUICKBOOKS_REVOKE
from qbtrace.providers.quickbooks import TOKEN as QUICKBOOKS_TOKEN

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


def test_ports_tell_endpoints_apart_and_parameter_names_are_matched_whole() -> None:
    profile = Profile().tuned(token_endpoint="http://localhost:8080/oauth2/v1/tokens/bearer")
    assert profile.kind_of("POST", "http://localhost:8080/oauth2/v1/tokens/bearer") == Kind.TOKEN
    assert profile.kind_of("POST", "http://localhost:9090/oauth2/v1/tokens/bearer") is None
    qb = Profile()
    assert qb.kind_of("POST", "https://oauth.platform.intuit.com:443/oauth2/v1/tokens/bearer")
    assert qb.kind_of("GET", "https://shop.example.com/items?zipcode=1&realmId=5") is None
    assert qb.kind_of("GET", "https://app.example.com/cb?code=1&realmId=5") == Kind.CALLBACK


LOCAL = {"providers": {"local": {"token_endpoint": "http://127.0.0.1:8766/oauth/token"}}}


def test_each_exchange_belongs_to_the_provider_on_its_host() -> None:
    profile = profile_from_dict(LOCAL)
    assert [p.name for p in profile.providers] == [*MODULES, "local"]
    assert profile.provider_of(QUICKBOOKS_TOKEN).name == "quickbooks"
    assert profile.provider_of(QUICKBOOKS_AUTHORIZE).name == "quickbooks"
    assert profile.provider_of("http://127.0.0.1:8766/oauth/token").name == "local"
    # another port is another server; the app's own callback is the default provider's
    assert profile.provider_of("http://127.0.0.1:9999/oauth/token").name == "quickbooks"
    assert profile.provider_of(f"{APP}/cb").name == "quickbooks"
    assert profile.kind_of("POST", "http://127.0.0.1:8766/oauth/token") == Kind.TOKEN
    assert profile.kind_of("POST", QUICKBOOKS_TOKEN) == Kind.TOKEN  # both at once
    assert profile.kind_of("GET", "http://127.0.0.1:8766/oauth/token") is None


def test_a_provider_of_a_name_not_configured_is_the_built_in_one_or_the_default() -> None:
    profile = profile_from_dict(LOCAL)
    assert profile.named("local").token_endpoint == "http://127.0.0.1:8766/oauth/token"
    assert profile.named("quickbooks") is profile.default
    assert profile.named("") is profile.default

"""The QuickBooks provider: Intuit's clock in `intuit_tid`, its fields, and its words in the
explanations; and the generic provider a config-only server gets instead."""

from __future__ import annotations

from dataclasses import replace

from qbtrace.model import Kind
from qbtrace.providers import BUILTIN, DEFAULT, GENERIC_WORDS, MODULES
from qbtrace.providers.base import Provider
from qbtrace.providers.quickbooks import PROVIDER, TOKEN
from qbtrace.rules import RULES, placeholders
from tests.factories import T0, Capture

GENERIC = Provider(name="local", token_endpoint="http://127.0.0.1:8080/oauth/token")


def test_quickbooks_is_the_default_and_every_module_defines_its_named_provider() -> None:
    assert MODULES[0] == "quickbooks" and DEFAULT is PROVIDER
    assert set(BUILTIN) == set(MODULES)
    assert all(p.name == name for name, p in BUILTIN.items())


def test_intuit_tid_carries_intuits_clock_and_date_is_the_fallback() -> None:
    c = Capture()
    x = c.refresh(10, "RT-a", status=200)
    assert PROVIDER.request_id(x) == f"1-{int(T0 + 10):08x}-000000000000000000000000"
    assert PROVIDER.server_time(x) == float(int(T0 + 10))
    dated = replace(x, headers={"date": "Mon, 01 Jun 2026 07:46:40 GMT"})
    assert PROVIDER.server_time(dated) == 1_780_300_000.0
    assert GENERIC.server_time(dated) == 1_780_300_000.0
    assert GENERIC.server_time(x) is None  # no Date header, and no intuit_tid reading
    assert GENERIC.request_id(x) is None
    assert PROVIDER.server_time(replace(dated, kind=Kind.CALLBACK)) is None


def test_every_word_a_rule_asks_for_exists_for_every_provider() -> None:
    for provider in (*BUILTIN.values(), GENERIC):
        words = provider.phrases()
        for rule in RULES:
            assert placeholders(rule.template) <= set(words), (provider.name, rule.cause)


def test_the_generic_explanations_never_speak_of_intuit() -> None:
    assert set(GENERIC_WORDS) <= set(PROVIDER.phrases())
    for rule in RULES:
        texts = " ".join((lambda t: (t.title, t.happened, t.confirm, t.fix))(rule.texts(GENERIC)))
        assert "Intuit" not in texts and "QuickBooks" not in texts, rule.cause
        assert "{" not in texts.replace('{"error"', ""), rule.cause  # every placeholder filled


def test_the_refresh_lifetime_words_follow_the_parameter() -> None:
    rule = next(r for r in RULES if r.cause == "refresh_token_expired")
    assert "(QuickBooks: 8,726,400 s, 101 days)" in rule.texts(PROVIDER).happened
    shorter = replace(PROVIDER, refresh_token_lifetime=86_400 * 30)
    assert "(QuickBooks: 2,592,000 s, 30 days)" in rule.texts(shorter).happened


def test_the_token_endpoint_is_recognised_through_the_provider() -> None:
    assert PROVIDER.endpoints[TOKEN.removeprefix("https://")] == Kind.TOKEN
    assert PROVIDER.hosts[0] == "oauth.platform.intuit.com"

"""Other providers' sign-in hosts (qbtrace/sources/others.py); the CLI's note about them is
tested in tests/test_text.py."""

from __future__ import annotations

from qbtrace.sources.others import other_providers


def test_sign_in_hosts_are_named_once_each() -> None:
    data = (
        b'{"url": "https://accounts.google.com/o/oauth2/v2/auth?client_id=x"}'
        b'{"url": "https://oauth2.googleapis.com/token"}'
        b'["host", "login.microsoftonline.com"]'
        b'{"url": "https://dev-123.okta.com/oauth2/default/v1/authorize"}'
    )
    assert other_providers(data) == (
        "Google (accounts.google.com)",
        "Microsoft Entra ID (login.microsoftonline.com)",
        "Okta (dev-123.okta.com)",
    )


def test_look_alike_hosts_and_quickbooks_are_not_named() -> None:
    data = (
        b"https://notaccounts.google.com/ https://accounts.google.com.evil.example/ "
        b"https://appcenter.intuit.com/connect/oauth2 https://github.com/login/other"
    )
    assert other_providers(memoryview(data)) == ()

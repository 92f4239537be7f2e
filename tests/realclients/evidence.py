"""Which HAR entries a finding must link, found in a recording by what the traffic shows.

record.py writes these indices into `<name>.expect.json` ("evidence": one list per answered
failure, in the order of "causes"), so the goldens say what each finding must point at
without anyone counting entries by hand. What each cause must link is the evidence column of
causes.md; the entries are found by the code or refresh token the failed request carried,
never by position:
- `authorize`: the authorize request whose answer issued the code: a GET or the consent
  form's POST to appcenter.intuit.com whose 3xx `Location` carries `code=<the code>`;
- `callback`: the callback as causes.md defines it, seen as the authorize answer whose
  `Location` carries the code (there whether or not the GET of the callback was captured);
- `earlier_exchange`: every earlier token request with the same code;
- `issued_successor`: the earlier successful refresh that spent this refresh token and issued
  a different one; `first_spent`: the first request that spent it.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

Entry = dict[str, Any]
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
TOKEN_URLS = re.compile(
    r"^https://(oauth\.platform\.intuit\.com/oauth2/v1/tokens/bearer"
    r"|identity\.xero\.com/connect/token"
    r"|login\.microsoftonline\.com/[^/?]+/oauth2(/v2\.0)?/token"
    r"|oauth2\.googleapis\.com/token"
    r"|qbtrace-demo\.eu\.auth0\.com/oauth/token)$"
)
"""Every emulated provider's token endpoint (Microsoft's with any tenant)."""
AUTHORIZE_HOST = "appcenter.intuit.com"
LINKS: dict[str, tuple[str, ...]] = {
    "redirect_uri_mismatch": ("authorize",),
    "code_client_mismatch": ("authorize",),
    "code_reused": ("earlier_exchange",),
    "code_expired": ("callback",),
    "refresh_token_superseded": ("issued_successor", "first_spent"),
}


def form(entry: Entry) -> dict[str, str]:
    text = (entry["request"].get("postData") or {}).get("text") or ""
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def location(entry: Entry) -> str:
    for h in entry["response"]["headers"]:
        if h["name"].lower() == "location":
            return str(h["value"])
    return ""


def is_token_request(entry: Entry) -> bool:
    return (
        entry["request"]["method"] == "POST"
        and TOKEN_URLS.match(entry["request"]["url"]) is not None
    )


def issued_refresh_token(entry: Entry) -> str:
    if entry["response"]["status"] != 200:
        return ""
    try:
        return str(json.loads(entry["response"]["content"].get("text") or "{}")["refresh_token"])
    except (ValueError, KeyError, TypeError):
        return ""


def find(entries: list[Entry], failed: int, link: str) -> list[int]:
    """Indices of the entries of kind `link` for the failed token request at `failed`."""
    sent = form(entries[failed])
    earlier = list(enumerate(entries[:failed]))
    if link == "authorize":
        code = sent.get("code", "")
        return [
            i
            for i, e in earlier
            if urlsplit(e["request"]["url"]).hostname == AUTHORIZE_HOST
            and 300 <= e["response"]["status"] < 400
            and parse_qs(urlsplit(location(e)).query).get("code") == [code]
        ]
    if link == "callback":  # causes.md: the callback as a 3xx Location or as the GET of it
        return find(entries, failed, "authorize")
    spends = [i for i, e in earlier if is_token_request(e) and _spent(e) == _spent(entries[failed])]
    if link == "earlier_exchange" or link == "first_spent":
        return spends if link == "earlier_exchange" else spends[:1]
    if link == "issued_successor":
        rt = sent.get("refresh_token", "")
        return [i for i in spends if issued_refresh_token(entries[i]) not in ("", rt)][:1]
    raise ValueError(f"unknown evidence link {link!r}")


def _spent(entry: Entry) -> tuple[str, str]:
    sent = form(entry)
    return sent.get("grant_type", ""), sent.get("code") or sent.get("refresh_token", "")


def required(har: dict[str, Any], causes: list[str]) -> list[list[int]]:
    """For each answered failed token request (in start order), the entries it must link."""
    entries: list[Entry] = har["log"]["entries"]
    failed = sorted(
        (
            i
            for i, e in enumerate(entries)
            if is_token_request(e) and e["response"]["status"] not in (0, 200)
        ),
        key=lambda i: entries[i]["startedDateTime"],
    )
    return [
        sorted({j for link in LINKS.get(cause, ()) for j in find(entries, i, link)})
        for i, cause in zip(failed, causes, strict=True)
    ]

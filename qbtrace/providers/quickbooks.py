"""QuickBooks Online (Intuit): the default provider, and the model for writing another.

What is Intuit's beyond RFC 6749: the refresh token's rolling lifetime announced in
`x_refresh_token_expires_in` (8,726,400 s, 101 days) and the five-year cap in
`x_refresh_token_hard_expires_in`; `intuit_tid` on every answer, whose second part is
Intuit's clock in hex seconds (`1-<8 hex digits>-…`); the company id `realmId` on the
callback and the Disconnect URL; rotation about every 24 hours with, today, no grace for the
old value (older documents said 24 h, kept as `legacy_rotation_grace`). The code lifetime
is not published: 600 s is an assumption, overridable like every number here.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from qbtrace.providers.base import ErrorHint, Provider

if TYPE_CHECKING:
    import polars as pl

    from qbtrace.model import Exchange

NAME = "quickbooks"
TOKEN = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
AUTHORIZE = "https://appcenter.intuit.com/connect/oauth2"
REVOKE = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
REQUEST_ID = "intuit_tid"

WORDS = MappingProxyType(
    {
        "provider": "Intuit",
        "provider_s": "Intuit's",
        "support": "Intuit support",
        "request_id": "`intuit_tid`",
        "status_page": "Intuit's developer status page",
        "keys_page": "the app's Keys page",
        "keys_portal": "the app's Keys page on the Intuit developer portal",
        "secret_page": "the Keys page",
        "key_sets": " (Development keys for sandbox companies, Production keys for real ones)",
        "tenant": "company",
        "disconnect_place": "in QuickBooks",
        "reconnect": "Connect to QuickBooks again",
        "rotation_note": " (Intuit rotates the value about every 24 hours)",
        "code_lifetime_note": "; Intuit does not publish the figure",
        "refresh_lifetime_short": " (about 100 days)",
        "refresh_after": "after 100 days ",
        "refresh_refused_note": ', often "Incorrect or invalid refresh token"',
        "hard_cap": "Intuit's absolute five-year cap",
        "hard_cap_rule": "since 2023 (accounting scopes) and 2022 (restricted scopes), a "
        "QuickBooks grant lives at most five years from the original consent",
        "hard_cap_field": "`x_refresh_token_hard_expires_in`",
        "hard_cap_fix": "send the user through Connect to QuickBooks again (Intuit's Reconnect "
        "URL flow); ask for `x-include-refresh-token-hard-expires-in: true` and warn users "
        "ahead of the date",
        "sdk_redirect_note": " The Node SDK sends its configured `redirectUri`, not the URL the "
        "callback arrived on, so staging and production settings mix easily.",
        "sdk_retry_note": " The Node SDK retries token calls by itself (1 s, 2 s, 4 s), which "
        "puts such retries on the wire.",
        "clock_sources": "intuit_tid and Date",
        "client_hint": "Intuit's error_description `Incorrect Token type or clientID`",
    }
)

HINTS = MappingProxyType(
    {
        # seen in at least seven unrelated QuickBooks codebases (app-logs.md): a strong hint
        "incorrect token type or clientid": ErrorHint(
            ("refresh_client_mismatch", "code_client_mismatch", "refresh_token_altered"),
            "reported when the credentials are another client's (another app, Development vs "
            "Production keys) or an access token was sent as the refresh token",
        ),
    }
)


def _hex_seconds(text: str) -> float | None:
    try:
        return float(int(text, 16))
    except ValueError:
        return None


@dataclass(frozen=True)
class QuickBooks(Provider):
    """Intuit's OAuth 2.0 server, with `intuit_tid` carrying its clock."""

    def phrases(self) -> dict[str, str]:
        out = super().phrases()
        lifetime = self.refresh_token_lifetime
        if lifetime is not None:
            out["refresh_lifetime"] = (
                f"`{self.refresh_expires_field}` seconds from the response that returned it "
                f"(QuickBooks: {lifetime:,.0f} s, {lifetime / 86_400:.0f} days)"
            )
        return out

    def server_time(self, x: Exchange) -> float | None:
        """`intuit_tid` (`1-<unix second in hex>-…`) first; the `Date` header otherwise."""
        parts = (self.request_id(x) or "").split("-")
        if len(parts) == 3 and parts[0] == "1" and len(parts[1]) == 8:
            try:
                return float(int(parts[1], 16))
            except ValueError:
                pass
        return super().server_time(x)

    def server_times(self, rows: pl.DataFrame) -> pl.Series:
        """`server_time` of every skeleton row at once (see `Provider.server_times`)."""
        import polars as pl

        parts = pl.col("request_id").fill_null("").str.split("-")
        second = parts.list.get(1, null_on_oob=True)
        shaped = (
            (parts.list.len() == 3) & (parts.list.get(0) == "1") & (second.str.len_chars() == 8)
        )
        frame = rows.select(
            shaped.alias("shaped"),
            second.alias("second"),
            second.str.to_integer(base=16, strict=False).cast(pl.Float64).alias("said"),
            super().server_times(rows).alias("dated"),
        )
        # `int(_, 16)` also takes what polars does not (`0x`, `_`, spaces): those one by one
        odd = frame.filter(pl.col("shaped") & pl.col("said").is_null())["second"].unique()
        if len(odd):
            seconds = {s: _hex_seconds(s) for s in odd.to_list()}
            retried = pl.col("second").replace_strict(
                seconds, default=None, return_dtype=pl.Float64
            )
            frame = frame.with_columns(pl.coalesce("said", retried).alias("said"))
        said = pl.when(pl.col("shaped")).then(pl.col("said"))
        return frame.select(pl.coalesce(said, pl.col("dated")).alias("server")).to_series()


PROVIDER = QuickBooks(
    name=NAME,
    title="QuickBooks Online",
    token_endpoint=TOKEN,
    authorize_endpoint=AUTHORIZE,
    revoke_endpoint=REVOKE,
    access_token_lifetime=3600,
    refresh_token_lifetime=8_726_400,
    rotation_grace=0,
    legacy_rotation_grace=86_400,
    code_lifetime=600,
    refresh_expires_field="x_refresh_token_expires_in",
    hard_expires_field="x_refresh_token_hard_expires_in",
    request_id_header=REQUEST_ID,
    tenant_param="realmId",
    extra_headers=("x-include-refresh-token-hard-expires-in",),
    words=WORDS,
    error_hints=HINTS,
)

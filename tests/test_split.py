"""The split by lineage: a failure's part holds everything its rules can look at."""

from __future__ import annotations

from qbtrace.analysis import analyze_exchanges
from qbtrace.config import load_profile
from qbtrace.engines import InProcess
from qbtrace.model import Exchange
from qbtrace.passes import findings
from qbtrace.split import components, split
from tests.factories import Capture

OTHER = "ABclientProduction00000000000000000000000000000"
OTHER_SECRET = "secret-production-00000000000000000000000"


def mismatch() -> list[Exchange]:
    """Client A's code exchange issues rt-A; client B presents rt-A later (and both clients
    have unrelated lineages of their own)."""
    cap = Capture()
    cap.exchange_code(0, "code-A-" + "a" * 40, "https://app.example.com/cb", issued="rt-A" * 12)
    for n in range(6):
        cap.exchange_code(10 + n, f"code-{n}-" + "b" * 40, "https://app.example.com/cb",
                          issued=f"rt-{n}-" + "c" * 40, client=OTHER if n % 2 else OTHER[::-1],
                          secret=OTHER_SECRET)  # fmt: skip
    cap.refresh(3600, "rt-A" * 12, client=OTHER, secret=OTHER_SECRET)
    return cap.exchanges


def test_a_token_presented_by_another_client_lands_with_its_issuer() -> None:
    profile = load_profile(None, local=False)
    exchanges = mismatch()
    owner = components(exchanges, profile)
    assert owner[0] == owner[-1] == 0  # issued to A, presented by B: one component
    assert len(set(owner)) == len(exchanges) - 1  # the other lineages stay apart
    parts = split(exchanges, profile, 4)
    assert len(parts) > 1
    found = findings(exchanges, profile, 4, InProcess())
    assert [f.cause for f in found] == ["refresh_client_mismatch"]
    assert found == analyze_exchanges(exchanges, profile)


def test_near_matches_and_revokes_link_their_originals() -> None:
    profile = load_profile(None, local=False)
    cap = Capture()
    rt = "AB11" + "x" * 60
    cap.exchange_code(0, "code-" + "a" * 40, "https://app.example.com/cb", issued=rt)
    cap.exchange_code(5, "code-" + "b" * 40, "https://app.example.com/cb", issued="RT" + "y" * 60)
    cap.refresh(3600, f'"{rt}"')  # quoted: canonical form links it
    cap.refresh(3700, rt[:40])  # truncated: its 32-character head links it
    cap.revoke(3800, "RT" + "y" * 60)
    owner = components(cap.exchanges, profile)
    assert owner == [0, 1, 0, 0, 1]


def test_every_part_gets_the_browser_steps_and_positions_stay_the_whole_timeline() -> None:
    profile = load_profile(None, local=False)
    cap = Capture()
    cap.authorize(0, "https://app.example.com/cb", "code-" + "a" * 40)
    cap.exchange_code(1, "code-" + "a" * 40, "https://app.example.com/cb", issued="rt" + "a" * 40)
    for n in range(8):
        cap.refresh(100 + n, f"rt-unknown-{n}-" + "z" * 40)
    parts = split(cap.exchanges, profile, 3)
    assert all(p.exchanges[0] is cap.exchanges[0] for p in parts)
    # the failures each in one part, at their places on the whole timeline; the code
    # exchange (the client's first success with its secret) in every part
    seqs = sorted(s for p in parts for s in p.seqs)
    assert seqs == [0] * len(parts) + list(range(1, 9))


def test_a_log_line_without_its_token_keeps_the_timeline_whole() -> None:
    from dataclasses import replace

    profile = load_profile(None, local=False)
    exchanges = mismatch()
    exchanges[-1] = replace(exchanges[-1], gaps=("token-not-in-log",))
    assert len(split(exchanges, profile, 4)) == 1

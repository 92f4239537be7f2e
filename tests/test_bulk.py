"""The bulk path (`bulk`) finds exactly what the reference (`lineage.build` + `classify` of
every exchange) finds: on every golden input, on generated platform traffic with every cause
the benchmark plants, and on golden exchanges embedded in healthy noise."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from benchmarks import capture_mix
from qbtrace import bulk
from qbtrace.analysis import analyze_timeline, prepared, read_all
from qbtrace.config import load_profile
from qbtrace.model import Exchange, Finding
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.skeleton import from_exchanges
from qbtrace.sources import read_input
from tests.regold import TAG_KEY, golden_inputs, scenario_of

INPUTS = golden_inputs()


def profile_for(path: Path) -> Profile:
    toml = path.with_name(f"{scenario_of(path)}.qbtrace.toml")
    return load_profile(toml if toml.is_file() else None, local=False)


def timeline_of(paths: list[Path], profile: Profile) -> list[Exchange]:
    redactor = Redactor(TAG_KEY.encode())
    return prepared(read_all(paths, profile, redactor), profile)[1]


def assert_same(exchanges: list[Exchange], profile: Profile) -> list[Finding]:
    reference = analyze_timeline(exchanges, profile)[1]
    found = bulk.from_exchanges(exchanges, profile)[1]
    assert found == reference
    return found


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_every_golden_input_gets_the_reference_findings(path: Path) -> None:
    profile = profile_for(path)
    assert_same(timeline_of([path], profile), profile)


def test_the_goldens_hold_failures_that_need_a_neighbourhood() -> None:
    """The parametrized test above is not vacuous: most goldens fail, with evidence."""
    profile = load_profile(None, local=False)
    evidence = 0
    for path in INPUTS[:40]:
        evidence += sum(len(f.evidence) for f in assert_same(timeline_of([path], profile), profile))
    assert evidence > 40


def mix(tmp_path: Path, total: int, lineages: int, seed: int = 3) -> Path:
    """Platform traffic with failures planted ten times as often as the benchmark's."""
    path = tmp_path / f"mix{seed}.jsonl"
    capture_mix.write(path, total, lineages, "mixkey", seed, boost=10)
    return path


def test_generated_traffic_with_every_planted_cause(tmp_path: Path) -> None:
    path = mix(tmp_path, 6000, 300)
    profile = load_profile(None, local=False)
    item = read_input(path, "mix.jsonl", profile, Redactor(b"k"))
    exchanges = prepared([item], profile)[1]
    found = assert_same(exchanges, profile)
    causes = {f.cause for f in found}
    assert {
        "refresh_token_superseded",
        "refresh_race",
        "refresh_response_lost",
        "client_secret_wrong",
        "refresh_token_unknown",
        "provider_outage",
        "code_reused",
        "grant_poisoned_by_code_reuse",
        "refresh_token_revoked",
        "refresh_token_altered",
    } <= causes
    # the neighbourhoods are a small part of the traffic: what makes the path proportional
    rows = bulk.with_positions(from_exchanges(exchanges))
    picked = []

    def fetch(chosen: pl.DataFrame) -> list[Exchange]:
        picked.append(chosen.height)
        return [exchanges[i] for i in chosen["pos"].to_list()]

    bulk.classify_rows(rows.drop("pos", "ok"), fetch, profile)
    assert picked[-1] < len(exchanges) / 3


def test_lineage_ids_found_again_when_the_skeleton_disagrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the lineage ids start from what the skeleton says the failures presented, while
    # the failures are decoded; a failure whose decoded token the skeleton did not name
    # (never seen: both read the same line) has its lineage found again
    profile = load_profile(None, local=False)
    item = read_input(mix(tmp_path, 3000, 150, seed=4), "mix.jsonl", profile, Redactor(b"k"))
    exchanges = prepared([item], profile)[1]
    reference = analyze_timeline(exchanges, profile)[1]
    rows = bulk.with_positions(from_exchanges(exchanges))
    failing = (pl.col("kind") == "token") & ~pl.col("ok")
    blind = rows.with_columns(
        pl.when(failing).then(None).otherwise(pl.col(c)).alias(c) for c in ("code", "refresh")
    )
    asked: list[set[str]] = []
    roots = bulk.lineage_roots

    def spy(ok: pl.DataFrame | pl.LazyFrame, wanted: set[str]) -> dict[str, tuple[str, int]]:
        asked.append(set(wanted))
        return roots(ok, wanted)

    def fetch(chosen: pl.DataFrame) -> list[Exchange]:
        return [exchanges[i] for i in chosen["pos"].to_list()]

    monkeypatch.setattr(bulk, "lineage_roots", spy)
    found = bulk.classify_rows(blind.drop("pos", "ok"), fetch, profile)[1]
    assert found == reference
    assert len(asked) == 2 and asked[0] < asked[1]  # the skeleton's guess, then all


def test_golden_exchanges_in_healthy_noise(tmp_path: Path) -> None:
    profile = load_profile(None, local=False)
    noise = read_input(mix(tmp_path, 3000, 200, seed=5), "noise", profile, Redactor(b"k"))
    plain = [p for p in INPUTS if not p.with_name(f"{scenario_of(p)}.qbtrace.toml").is_file()]
    goldens = read_all(plain[::3], profile, Redactor(TAG_KEY.encode()))
    exchanges = prepared([noise, *goldens], profile)[1]
    found = assert_same(exchanges, profile)
    assert len({f.ref.source for f in found}) > 10


HEXES = {"c1": "0c1", "r1": "0b1", "r2": "0b2", "r3": "0b3", "r4": "00b4", "x9": "d9"}
HEXES |= {"x10": "d10", "a1": "a1", "a2": "a2", "a3": "a3", "a4": "a4", "a5": "a5", "zz": "ff"}
"""The chain's tags as `redact` writes them (short lowercase hexes, of several lengths):
the pointer jumping runs on their integer values rather than on the strings."""


@pytest.mark.parametrize(
    "tag",
    [lambda name: name, HEXES.__getitem__, lambda name: HEXES[name] if name != "x10" else name],
    ids=["names", "hexes", "hexes-but-one"],
)
def test_lineage_roots_follow_rotations_to_the_code(tag: Callable[[str], str]) -> None:
    """The pointer jumping gives every token of a chain the code that began it, and a token
    first seen presented begins its own lineage; on tags that are hexes (integer keys) as on
    any other strings (one odd tag is enough to keep the strings)."""
    ok = pl.DataFrame(
        {
            "pos": [0, 1, 2, 3, 4],
            "grant": ["authorization_code", *["refresh_token"] * 4],
            "code": ["c1", None, None, None, None],
            "refresh": [None, "r1", "r2", "r3", "x9"],
            "rt": ["r1", "r2", "r3", "r4", "x10"],
            "at": ["a1", "a2", "a3", "a4", "a5"],
        }
    ).with_columns(
        pl.col(c).map_elements(tag, return_dtype=pl.String) for c in ("code", "refresh", "rt", "at")
    )  # fmt: skip
    roots = bulk.lineage_roots(ok, {tag(t) for t in ("r1", "r4", "x9", "x10", "a3", "zz")})
    assert roots == {
        tag("r1"): ("code:" + tag("c1"), 0),
        tag("r4"): ("code:" + tag("c1"), 3),
        tag("x9"): (tag("x9"), 4),
        tag("x10"): (tag("x9"), 4),
        tag("a3"): ("code:" + tag("c1"), 2),
    }

"""The index of a dataset holds what the split needs: the same components, timeline and
counts as the exchanges decoded whole."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from benchmarks.classify_scale import synthesize
from qbtrace.analysis import analyze_inputs, prepared
from qbtrace.config import load_profile
from qbtrace.dataset import read_dataset, write_dataset
from qbtrace.dataset_index import index_of
from qbtrace.model import Input, InputKind, Kind
from qbtrace.redact import Redactor
from qbtrace.render.view import Presenter
from qbtrace.split import components
from tests.conftest import GOLDEN
from tests.regold import analyze as analyze_golden

PROFILE = load_profile(None, local=False)


def generated(target: Path) -> None:
    exchanges, _ = synthesize(3000, seed=5, days=3)
    late = [  # the recording machine five minutes behind QuickBooks' clock
        replace(x, headers={"intuit_tid": f"1-{int(x.started or 0) + 300:08x}-{n:x}"})
        for n, x in enumerate(exchanges)
    ]
    item = Input("synthetic", InputKind.CAPTURE, len(late), tuple(late))
    presenter = Presenter(Redactor(b"index-tests"), False, PROFILE)
    write_dataset(target, [item], analyze_inputs([item], PROFILE), presenter)


def golden(name: str) -> object:
    return lambda target: analyze_golden(GOLDEN / name, "--events", str(target))


@pytest.mark.parametrize(
    "write",
    [
        generated,
        golden("code_reused.har"),
        golden("refresh_token_revoked_by_user.playwright.har"),
        golden("redirect_uri_mismatch.playwright.har"),
    ],
    ids=["generated", "code_reused", "clock_corrected", "browser_steps"],
)
def test_components_timeline_and_counts_equal_the_decoded_exchanges(
    write: object, tmp_path: Path
) -> None:
    target = tmp_path / "events"
    write(target)  # type: ignore[operator]
    index = index_of(target, PROFILE)
    whole = analyze_inputs(read_dataset(target), PROFILE)
    if index is None:
        assert not whole.token_requests
        return
    inputs, exchanges = prepared(read_dataset(target), PROFILE)
    assert index.input.warnings == inputs[0].warnings  # the clock offset and its note
    timeline = index.rows.sort("pos")
    assert timeline["index"].to_list() == [x.ref.index for x in exchanges]
    tokens = timeline.filter(pl.col("kind") == Kind.TOKEN.value)
    assert tokens["tpos"].to_list() == list(range(tokens.height))
    owner = components(exchanges, PROFILE)
    theirs = {frozenset(i for i, o in enumerate(owner) if o == root) for root in set(owner) - {-1}}
    roots = timeline["root"].to_list()
    shared = [x.kind in (Kind.AUTHORIZE, Kind.CALLBACK, Kind.DISCONNECT) for x in exchanges]
    mine = {
        frozenset(i for i, r in enumerate(roots) if r == root and not shared[i])
        for root in {r for r, s in zip(roots, shared, strict=True) if not s}
    }
    assert mine == theirs
    assert index.counts.token_requests == whole.token_requests
    assert index.counts.by_input[index.input.source][1] == whole.providers_of(whole.inputs[0])

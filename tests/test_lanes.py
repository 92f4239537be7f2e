"""The report's process lanes: one per process a log names, on a time scale they share, a
failure in its cause's colour; none without a process; capped like the lineage strips."""

from __future__ import annotations

import itertools
from dataclasses import replace

from qbtrace.analysis import Analysis, analyze_inputs, read_all
from qbtrace.model import Exchange, Input
from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.render import html
from qbtrace.render.charts import MIN_STEP_PX, PAD
from qbtrace.render.lanes import MAX_LANES, UNNAMED, Lanes, process_lanes
from qbtrace.render.palette import report_colours
from qbtrace.render.view import Presenter
from tests.conftest import GOLDEN, ROOT
from tests.factories import REDACTOR, Capture
from tests.test_log_goldens import LOGS, RECORDED, SCENARIOS


def _by(x: Exchange, process: str | None) -> Exchange:
    """The exchange as a joined log names its maker (`join` sets `process` so)."""
    return replace(x, process=process)


def _analysis(*exchanges: Exchange) -> Analysis:
    return analyze_inputs([Input("app.har", "har", len(exchanges), exchanges)], Profile())


def _lanes(analysis: Analysis) -> Lanes | None:
    report = html.build(analysis, Presenter(REDACTOR))
    return report.lanes


def test_two_workers_refreshing_at_once_stand_one_above_the_other() -> None:
    cap = Capture()
    cap.refresh(0.0, "RT-a", issued="RT-b")
    cap.refresh(26 * 3600.0, "RT-b", issued="RT-c")
    cap.refresh(26 * 3600.0 + 0.005, "RT-b")  # the other worker, 5 ms later: refused
    first, won, lost = cap.exchanges
    analysis = _analysis(
        _by(first, "web-1, pid 4410"),
        _by(won, "worker-1, pid 4411"),
        _by(lost, "worker-2, pid 4412"),
    )
    lanes = _lanes(analysis)
    assert lanes is not None
    [finding] = analysis.findings
    by_label = {lane.label.split(":")[0]: lane for lane in lanes.lanes}
    assert list(by_label) == ["worker-2, pid 4412", "web-1, pid 4410", "worker-1, pid 4411"]
    [refused], [spent] = by_label["worker-2, pid 4412"].marks, by_label["worker-1, pid 4411"].marks
    # the same moment, one above the other: as close as two marks may be, on a day-long scale
    assert 0 < refused.x - spent.x <= MIN_STEP_PX + 1
    assert refused.x - by_label["web-1, pid 4410"].marks[0].x > 10 * MIN_STEP_PX
    assert refused.css == "failed" and spent.css == "replaced"
    assert refused.colour == report_colours([finding.cause])[finding.cause]
    assert refused.title.endswith(f"failed: invalid_grant: {finding.cause}")
    tag = REDACTOR.tag("rt", "RT-b")
    assert tag in refused.title and tag in spent.title  # the same token, spent twice
    assert "RT-b" not in refused.title.replace(tag, "")
    assert refused.href == f"#{html.anchor(lost.ref)}"
    assert lanes.caption == "3 token requests by 3 named processes from"


def test_no_lanes_when_no_input_names_a_process() -> None:
    redactor = Redactor(b"lanes")
    for path in (GOLDEN / "mixed.har", ROOT / "examples" / "quickbooks-app.har"):
        analysis = analyze_inputs(read_all([path], Profile(), redactor), Profile())
        assert process_lanes(analysis, {}, {}, {}) is None
        text = html.render(analysis, Presenter(redactor))
        assert 'id="processes"' not in text and "Processes" not in text


def test_the_requests_no_log_names_share_the_last_lane() -> None:
    cap = Capture()
    cap.refresh(0.0, "RT-a", issued="RT-b")
    cap.refresh(60.0, "RT-b", issued="RT-c")
    cap.refresh(120.0, "RT-a")
    one, two, three = cap.exchanges
    lanes = _lanes(_analysis(_by(one, None), _by(two, "worker-1"), _by(three, None)))
    assert lanes is not None
    assert [lane.label for lane in lanes.lanes] == [
        "worker-1: 1 token request, 0 failures",
        f"{UNNAMED}: 2 token requests, 1 failure",
    ]
    assert lanes.caption == "3 token requests by 1 named process from"


def test_lanes_are_capped_and_the_others_counted() -> None:
    cap = Capture()
    for n in range(MAX_LANES + 5):
        cap.refresh(30.0 * n, f"RT-{n}", issued=f"RT-{n}-next")
    exchanges = [_by(x, f"worker-{n:02d}") for n, x in enumerate(cap.exchanges)]
    lanes = _lanes(_analysis(*exchanges))
    assert lanes is not None
    assert len(lanes.lanes) == MAX_LANES and lanes.hidden == 5
    assert lanes.hidden_text == "5 more processes not drawn (those with the fewest failures)."
    assert lanes.height == 22 + 40 * MAX_LANES
    ys = [lane.y for lane in lanes.lanes]
    assert all(b - a == 40 for a, b in itertools.pairwise(ys))


def test_on_the_real_logs_every_request_is_a_mark_inside_the_box_apart_in_its_lane() -> None:
    redactor = Redactor(b"lanes")
    for scenario in SCENARIOS:
        logs = [LOGS / n for n in RECORDED if n.startswith(f"{scenario}.")]
        paths = [LOGS / f"{scenario}.har", *logs]
        analysis = analyze_inputs(read_all(paths, Profile(), redactor), Profile())
        report = html.build(analysis, Presenter(redactor))
        named = {x.process for item in analysis.inputs for x in item.exchanges if x.process}
        if not any(r.x.process for r in analysis.lineage.requests):
            assert report.lanes is None, scenario
            continue
        lanes = report.lanes
        assert lanes is not None, scenario
        labels = {lane.label.rpartition(":")[0] for lane in lanes.lanes}
        assert labels - {UNNAMED} <= named
        timed = [r for r in analysis.lineage.requests if r.x.started is not None]
        assert sum(len(lane.marks) for lane in lanes.lanes) == len(timed)
        causes = {f.ref: f.cause for f in analysis.findings}
        rows = {row.id for row in report.requests}
        for lane in lanes.lanes:
            xs = [m.x for m in lane.marks]
            assert all(PAD <= x <= lanes.width - PAD for x in xs)
            assert all(b - a >= 10 for a, b in itertools.pairwise(xs)), (scenario, xs)
            for m in lane.marks:
                assert (m.css == "failed") == (m.colour is not None)
                assert m.href is None or m.href[1:] in rows
        failed = [m for lane in lanes.lanes for m in lane.marks if m.css == "failed"]
        assert len(failed) == len([r for r in timed if r.x.ref in causes])


def test_a_long_process_name_is_cut_in_its_label_but_not_in_its_tooltip() -> None:
    cap = Capture()
    cap.refresh(0.0, "RT-a")
    name = "ip-10-0-0-1.eu-west-1.compute.internal, pid 4411, " + "w" * 200
    lanes = _lanes(_analysis(_by(cap.exchanges[0], name)))
    assert lanes is not None
    [lane] = lanes.lanes
    assert len(lane.label) < 130 and lane.label.startswith(name[:80])
    assert "…" in lane.label
    assert name in lane.marks[0].title and len(lane.marks[0].title) <= 400


def test_a_hostile_process_name_is_inert_text_in_its_lane() -> None:
    cap = Capture()
    cap.refresh(0.0, "RT-a")
    hostile = "<script>alert(1)</script>\"onload=alert(2) x='\u202e"
    analysis = _analysis(_by(cap.exchanges[0], hostile))
    text = html.render(analysis, Presenter(REDACTOR))
    section = text[text.index('<section id="processes">') : text.index('<section id="lineages">')]
    assert "<script>" not in section and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    assert '"onload' not in section and "&#34;onload=alert(2)" in section

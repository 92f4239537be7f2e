"""The HTML report: every finding present, self-contained, inert with hostile input, no secrets.

The browser checks drive Debian's Chromium through Playwright (never a downloaded browser).
Rendered reports and screenshots go to tests/artifacts/ (gitignored) for a human to look at.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from qbtrace.analysis import Analysis, analyze_inputs, read_all
from qbtrace.config import load_profile
from qbtrace.profile import Profile
from qbtrace.redact import PLACEHOLDERS, Redactor, canonical
from qbtrace.render import html
from qbtrace.render.view import Presenter
from tests.conftest import GOLDEN, ROOT, scenario_config
from tests.flows import Dance
from tests.realclients.browser import CHROMIUM as BROWSER
from tests.realclients.browser import CHROMIUM_ARGS
from tests.test_log_goldens import LOGS, RECORDED
from tests.test_log_goldens import SCENARIOS as LOG_SCENARIOS

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path(BROWSER)
HOSTILE = "<script>alert(1)</script>\"onerror=alert(2) x='<img src=x onerror=alert(3)>"
JS_URL = "javascript:alert(4)//"
HARS = sorted(GOLDEN.glob("*.har"))


def analyze(*paths: Path) -> tuple[Analysis, Presenter]:
    redactor = Redactor(b"qbtrace-tests")
    declared = scenario_config(*paths)  # a custom provider the scenario's app declares
    profile = load_profile(Path(declared[1])) if declared else Profile()
    return analyze_inputs(read_all(list(paths), profile, redactor), profile), Presenter(redactor)


def render(*paths: Path) -> tuple[Analysis, str]:
    analysis, presenter = analyze(*paths)
    return analysis, html.render(analysis, presenter)


def write_artifact(name: str, text: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_text(text, encoding="utf-8")
    return path


# --- secrets planted in the golden captures -------------------------------------------------


def _form_or_json(text: str) -> list[tuple[str, str]]:
    try:
        data = json.loads(text)
    except ValueError:
        return parse_qsl(text, keep_blank_values=True)
    return [(k, v) for k, v in data.items() if isinstance(v, str)] if isinstance(data, dict) else []


SECRET_FIELDS = {"access_token", "refresh_token", "id_token", "code", "client_secret", "token"}


def planted_secrets(har: Path) -> set[str]:
    """Every raw token, code, secret, credential and cookie value in a HAR."""
    found: set[str] = set()
    for entry in json.loads(har.read_text(encoding="utf-8-sig"))["log"]["entries"]:
        req, resp = entry.get("request", {}), entry.get("response", {})
        fields = parse_qsl(urlsplit(req.get("url", "")).query)
        fields += _form_or_json((req.get("postData") or {}).get("text") or "")
        fields += _form_or_json((resp.get("content") or {}).get("text") or "")
        for h in resp.get("headers", []):
            if h["name"].lower() == "location":
                fields += parse_qsl(urlsplit(h["value"]).query)
            if h["name"].lower() == "set-cookie":
                found.add(h["value"].split(";")[0].partition("=")[2])
        found.update(v for k, v in fields if k in SECRET_FIELDS)
        for h in req.get("headers", []):
            name, value = h["name"].lower(), h["value"]
            if name == "authorization":
                scheme, _, cred = value.partition(" ")
                secret = _basic_secret(cred.strip()) if scheme.lower() == "basic" else cred
                if _meaningful(secret):  # a Basic header whose secret is `undefined` hides none
                    found |= {value, cred.strip(), secret}
            if name == "cookie":
                found.update(c.partition("=")[2] for c in value.split("; "))
        found.update(c.get("value", "") for c in req.get("cookies", []) + resp.get("cookies", []))
    return {v for v in found | {canonical(v)[0] for v in found} if _meaningful(v)}


def _basic_secret(cred: str) -> str:
    try:
        return base64.b64decode(cred, validate=True).decode().partition(":")[2]
    except ValueError:
        return ""


def _meaningful(value: str) -> bool:
    """Values long enough to be secret; placeholders like `undefined` are not secrets."""
    return len(value.strip()) >= 8 and value.strip().lower() not in PLACEHOLDERS


# --- rendering ------------------------------------------------------------------------------


@pytest.mark.parametrize("har", HARS, ids=[p.name for p in HARS])
def test_report_shows_every_finding_and_no_secret(har: Path) -> None:
    analysis, text = render(har)
    for f in analysis.findings:
        finding_id = f"finding-{html.anchor(f.ref)[3:]}"
        assert f'id="{finding_id}"' in text
        assert f'id="{html.anchor(f.ref)}"' in text
        for e in f.evidence:
            if e.ref is not None:
                assert f'id="{html.anchor(e.ref)}"' in text, e
    leaked = [s for s in planted_secrets(har) if s in text]
    assert not leaked, leaked[:3]
    assert "Content-Security-Policy" in text and "<script" not in text


def test_all_captures_together_cover_every_cause() -> None:
    from qbtrace.rules import PRECEDENCE

    covered: set[str] = set()
    for har in HARS:
        analysis, text = render(har)
        covered |= {f.cause for f in analysis.findings}
        for cause in {f.cause for f in analysis.findings}:
            assert f'id="cause-{cause}"' in text
    assert set(PRECEDENCE) <= covered, sorted(set(PRECEDENCE) - covered)


def test_explanation_and_fix_are_the_explain_text() -> None:
    from qbtrace.rules import BY_CAUSE

    analysis, presenter = analyze(GOLDEN / "mixed.har")
    report = html.build(analysis, presenter)
    for group in report.groups:
        rule = BY_CAUSE[group.cause]
        assert (group.happened, group.confirm, group.fix) == (rule.happened, rule.confirm, rule.fix)
    assert report.causes[0].count == max(c.count for c in report.causes)
    assert report.fix_first is not None and "4 shown causes tie at 1 each" in report.fix_first


def test_fix_first_never_puts_a_guess_before_a_shown_cause(tmp_path: Path) -> None:
    """Three codes from elsewhere (guesses) and one reused code (shown): fix the shown one."""
    d, app, cb = Dance(), "ABdevKeys0000000000000000000000000000000000000000", "https://a.test/cb"
    for n in range(3):
        d.exchange(1000 * n, app, f"AB11790000000pasted{n}pasted{n}pasted{n}pasted", cb)
    code = "AB11790000000fromthecaptureXXXXXXXXXXXXXXXXXXXX"
    location = f"{cb}?code={code}&state=s1&realmId=1"
    d.authorize(5000, app, cb, "s1", status=302, answer_headers={"Location": location})
    d.exchange(5001, app, code, cb, ok=True)
    d.exchange(5002, app, code, cb)
    path = tmp_path / "guesses.har"
    path.write_text(json.dumps(d.har()))
    analysis, presenter = analyze(path)
    report = html.build(analysis, presenter)
    assert [(r.cause, r.count) for r in report.causes] == [("code_reused", 1), ("code_unknown", 3)]
    assert (
        report.fix_first
        == "code_reused (1 failure); more frequent but only guessed: code_unknown 3"
    )


def test_thousands_of_findings_are_capped_per_cause() -> None:
    from benchmarks.report import many_failures_har

    har = many_failures_har(ARTIFACTS / "many.har", 1500)
    analysis, presenter = analyze(har)
    report = html.build(analysis, presenter)
    assert len(analysis.findings) >= 1500
    assert all(len(g.findings) <= html.PER_GROUP for g in report.groups)
    assert sum(len(g.findings) + g.hidden for g in report.groups) == len(analysis.findings)
    text = html.render(analysis, presenter)
    assert "more refresh_token_superseded findings are not shown" in text or any(
        g.hidden for g in report.groups
    )


def test_templates_load_from_an_installed_layout(tmp_path: Path) -> None:
    """As the wheel installs it: `reports/` becomes the package `qbtrace.reports`."""
    site = tmp_path / "site"
    shutil.copytree(
        ROOT / "qbtrace", site / "qbtrace", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(ROOT / "reports", site / "qbtrace" / "reports")
    out = tmp_path / "r.html"
    code = (
        "import qbtrace, sys; from qbtrace.cli import main\n"
        "assert qbtrace.__file__.startswith(sys.argv[1]), qbtrace.__file__\n"
        "main(['analyze', sys.argv[2], '--format', 'html', '-o', sys.argv[3]])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "QBTRACE_TAG_KEY": "qbtrace-tests"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(site), str(GOLDEN / "mixed.har"), str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "<article" in out.read_text()


# --- in the browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watched:
    """A page with every request, console error, page error and dialog recorded."""

    def __init__(self, browser: Any, scripts: bool = True) -> None:
        self.context = browser.new_context(java_script_enabled=scripts)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.document = ""
        self.context.route("**/*", self._route)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)

    def _route(self, route: Any) -> None:
        # the report file itself may load; anything else is recorded and refused
        if route.request.url == self.document:
            route.continue_()
        else:
            route.abort()

    def _console(self, msg: Any) -> None:
        if msg.type in ("error", "warning"):
            self.errors.append(msg.text)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: Path) -> str:
        url = self.document = path.resolve().as_uri()
        self.page.goto(url)
        return url

    def close(self) -> None:
        self.context.close()


def test_report_in_chromium_is_self_contained_and_links_scroll(browser: Any) -> None:
    analysis, text = render(*HARS)
    planted = set().union(*(planted_secrets(har) for har in HARS))
    assert not [s for s in planted if s in text]
    path = write_artifact("report-all.html", text)
    watched = Watched(browser)
    try:
        url = watched.open(path)
        page = watched.page
        assert watched.errors == []
        assert set(watched.requests) <= {url}, watched.requests
        ids = page.eval_on_selector_all("article.finding", "els => els.map(e => e.id)")
        assert len(ids) == len(analysis.findings)
        link = page.locator("details[open] ol.steps a").first
        target = link.get_attribute("href")
        assert target and target.startswith("#ev-")
        link.click()
        page.wait_for_function("h => location.hash === h", arg=target)
        box = page.eval_on_selector(
            target, "e => { const r = e.getBoundingClientRect(); return [r.top, r.bottom]; }"
        )
        assert -2 <= box[0] < page.viewport_size["height"], box  # sub-pixel scroll offsets
        page.screenshot(path=str(ARTIFACTS / "report-all.png"), full_page=False)
        assert set(watched.requests) <= {url}, watched.requests
    finally:
        watched.close()


def test_report_without_scripting_still_shows_findings(browser: Any) -> None:
    _, text = render(GOLDEN / "mixed.har")
    path = write_artifact("report-mixed.html", text)
    watched = Watched(browser, scripts=False)
    try:
        watched.open(path)
        visible = watched.page.locator("article.finding").first
        assert visible.is_visible()
        watched.page.screenshot(path=str(ARTIFACTS / "report-noscript.png"), full_page=True)
        watched.page.emulate_media(media="print")
        assert visible.is_visible()
    finally:
        watched.close()


# --- hostile input --------------------------------------------------------------------------


def hostile_har(src: Path, dst: Path) -> Path:
    """A golden HAR with script, attribute-breaking quotes, javascript: URLs and 100 KB values
    in error_description, redirect_uri, URLs and header values."""
    har = json.loads(src.read_text(encoding="utf-8-sig"))
    for entry in har["log"]["entries"]:
        req, resp = entry["request"], entry["response"]
        if "tokens/bearer" not in req["url"]:
            continue
        post = req.get("postData") or {}
        if post.get("text"):
            fields = parse_qsl(post["text"], keep_blank_values=True)
            fields = [(k, JS_URL + HOSTILE if k == "redirect_uri" else v) for k, v in fields]
            post["text"] = urlencode(fields)
            post.pop("params", None)
        req["url"] += "?x=" + HOSTILE
        resp["headers"] = [h for h in resp["headers"] if h["name"].lower() != "intuit_tid"]
        resp["headers"].insert(0, {"name": "intuit_tid", "value": HOSTILE})
        req["headers"].insert(0, {"name": "User-Agent", "value": HOSTILE})
        body = resp.get("content", {}).get("text")
        if resp.get("status", 0) >= 400 and body:
            data = json.loads(body)
            data["error"] = "invalid_grant"
            data["error_description"] = HOSTILE + " " + JS_URL + "A" * 100_000
            resp["content"]["text"] = json.dumps(data)
    dst.write_text(json.dumps(har), encoding="utf-8")
    return dst


def test_hostile_strings_render_as_inert_text(browser: Any, tmp_path: Path) -> None:
    source = tmp_path / "<img src=x onerror=alert(5)>.har"
    har = hostile_har(GOLDEN / "redirect_uri_mismatch.har", source)
    analysis, text = render(har)
    assert analysis.findings
    assert "<script>alert" not in text and "<img src=x" not in text
    path = write_artifact("report-hostile.html", text)
    watched = Watched(browser)
    try:
        watched.open(path)
        page = watched.page
        assert watched.dialogs == [], "a script ran"
        assert watched.errors == []
        assert page.eval_on_selector_all("script, img, iframe, object, embed", "e => e.length") == 0
        handlers = page.evaluate(
            "() => [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])"
            ".filter(a => a.name.startsWith('on')).length"
        )
        assert handlers == 0
        assert page.eval_on_selector_all('a[href^="javascript:"]', "e => e.length") == 0
        body = page.inner_text("body")
        assert "<script>alert(1)</script>" in body
        assert len(text) < 100_000  # the 100 KB value is cut (by the reader or the view model)
        tid = page.locator("input.tid").first.input_value()
        assert tid == HOSTILE
        page.screenshot(path=str(ARTIFACTS / "report-hostile.png"))
        assert set(watched.requests) <= {path.resolve().as_uri()}, watched.requests
    finally:
        watched.close()


def test_a_mixed_capture_is_explained_per_provider_in_its_words() -> None:
    _analysis, text = render(GOLDEN / "mixed_quickbooks_xero.har")
    assert "<caption>By provider</caption>" in text
    assert "<td>QuickBooks Online</td><td>3</td><td>1</td>" in text
    assert "<td>Xero</td><td>7</td><td>1</td>" in text
    group = text[text.index('id="cause-refresh_token_superseded"') :]
    intuit, xero = (
        group.index('<h3 class="provider">QuickBooks Online</h3>'),
        group.index('<h3 class="provider">Xero</h3>'),
    )
    assert "about every 24 hours" in group[intuit:xero]
    assert "accepts the previous value for 30 minutes" in group[xero:]
    single = render(GOLDEN / "xero_superseded.har")[1]
    assert "By provider" not in single and 'class="provider"' not in single


# --- the pictures, looked at in Chromium ---------------------------------------------------

LAYOUT_CHECKS = """() => {
  const overlap = (a, b) =>
    Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
    Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
  const clashes = [];
  for (const svg of document.querySelectorAll("svg")) {
    for (const sel of ["text", "circle"]) {
      const boxes = [...svg.querySelectorAll(sel)].map(e => [e, e.getBoundingClientRect()]);
      for (let i = 0; i < boxes.length; i++)
        for (let j = i + 1; j < boxes.length; j++)
          if (overlap(boxes[i][1], boxes[j][1]))
            clashes.push(sel + ": " + (boxes[i][0].textContent || sel).slice(0, 80));
    }
  }
  const broken = [];
  for (const cell of document.querySelectorAll("td, th, .strip-label")) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /\\S+/g;
      for (let m = re.exec(node.data); m; m = re.exec(node.data)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  const fills = {};
  for (const rect of document.querySelectorAll("svg.chart rect")) {
    const cause = rect.querySelector("title").textContent.split(" ").pop();
    fills[cause] = getComputedStyle(rect).fill;
  }
  const laneFills = {};
  for (const mark of document.querySelectorAll("svg.lanes circle.failed")) {
    const cause = mark.querySelector("title").textContent.split(": ").pop();
    (laneFills[cause] ||= new Set()).add(getComputedStyle(mark).fill);
  }
  const unlinked = [...document.querySelectorAll("svg.lanes a")]
    .map(a => a.getAttribute("href")).filter(h => !document.getElementById(h.slice(1)));
  const titles = [...document.querySelectorAll("svg.chart .axis-title")].map(t => t.textContent);
  const ticks = document.querySelectorAll("svg.chart .tick").length;
  const emptyTables = [...document.querySelectorAll("table")].filter(
    t => !t.querySelector("tbody tr")).length;
  const lanes = Object.fromEntries(Object.entries(laneFills).map(([c, f]) => [c, [...f]]));
  const pageWidth = document.documentElement.scrollWidth;
  const viewport = document.documentElement.clientWidth;
  return {clashes, broken, fills, titles, ticks, emptyTables, lanes, unlinked, pageWidth, viewport};
}"""


VIEWS = ((1280, "screen"), (390, "screen"), (800, "print"))
"""Where a report is looked at: a wide and a narrow screen, and print."""
SHOT_HEIGHT = 6000
"""CSS pixels of a page a screenshot keeps, from its top (headline, chart, first findings):
the whole report of every golden is 43,000 px tall at 1280 px and 69,000 at 390, one
unreadable image costing 4-5 s to take."""


def _looked_at(
    browser: Any, report: Path, name: str, views: tuple[tuple[int, str], ...] = VIEWS
) -> list[dict[str, Any]]:
    """The layout checks in each of `views` (1280 px, 390 px and print), each with its
    screenshot; on a screen of either width the page itself never scrolls sideways (its
    tables and pictures scroll in their own boxes)."""
    seen = []
    for width, media in views:
        watched = Watched(browser, scripts=True)
        try:
            watched.page.set_viewport_size({"width": width, "height": 1000})
            watched.page.emulate_media(media=media)
            watched.open(report)
            shot = ARTIFACTS / f"{name}-{media}-{width}.png"
            height = watched.page.evaluate("document.documentElement.scrollHeight")
            top = {"x": 0, "y": 0, "width": width, "height": min(height, SHOT_HEIGHT)}
            watched.page.screenshot(path=str(shot), full_page=True, clip=top)
            checks = watched.page.evaluate(LAYOUT_CHECKS)
            if media == "screen":
                assert checks["pageWidth"] <= checks["viewport"], (name, width)
            seen.append(checks)
        finally:
            watched.close()
    return seen


@pytest.mark.parametrize("view", VIEWS, ids=[f"{m}-{w}" for w, m in VIEWS])
def test_report_pictures_in_chromium_at_every_width_and_in_print(
    browser: Any, view: tuple[int, str]
) -> None:
    analysis, text = render(*HARS)
    report = write_artifact(f"report-pictures-{view[1]}-{view[0]}.html", text)
    causes = {f.cause for f in analysis.findings if f.time is not None}
    for checks in _looked_at(browser, report, "report-pictures", (view,)):
        assert checks["clashes"] == [], checks["clashes"]
        assert checks["broken"] == [], checks["broken"]
        assert set(checks["fills"]) == causes
        assert len(set(checks["fills"].values())) == len(causes)  # a colour of its own each
        assert checks["titles"][0].startswith("failures per ") and "time (UTC)" in checks["titles"]
        assert checks["ticks"] >= 6 and checks["emptyTables"] == 0


def test_a_healthy_report_says_so_and_shows_lineages_without_empty_tables(browser: Any) -> None:
    _, text = render(GOLDEN / "healthy_python.har")
    assert "Healthy" in text and 'id="findings"' not in text and 'id="chart"' not in text
    assert 'id="requests"' not in text and 'class="strip"' in text
    report = write_artifact("report-healthy.html", text)
    for checks in _looked_at(browser, report, "report-healthy"):
        assert checks["emptyTables"] == 0 and checks["clashes"] == [] and checks["broken"] == []


def _with_logs(scenario: str) -> tuple[Path, list[Path]]:
    return LOGS / f"{scenario}.har", [LOGS / n for n in RECORDED if n.startswith(f"{scenario}.")]


@pytest.mark.parametrize("scenario", LOG_SCENARIOS)
def test_processes_the_real_logs_name_have_lanes_in_chromium(browser: Any, scenario: str) -> None:
    """Each real-client run's capture with its logs: one lane per process, a failure in the
    chart's colour of its cause and linked to its request row, at 1280 px, 390 px and in
    print; no secret of the run in the page, its lanes' tooltips included."""
    har, logs = _with_logs(scenario)
    analysis, text = render(har, *logs)
    named = any(r.x.process for r in analysis.lineage.requests)
    assert ('id="processes"' in text) == named, scenario
    if named:
        report = write_artifact(f"report-lanes-{scenario}.html", text)
        secrets = planted_secrets(har)
        lanes = html.build(*analyze(har, *logs)).lanes
        assert lanes is not None
        tooltips = [m.title for lane in lanes.lanes for m in lane.marks]
        assert tooltips and all(t in text for t in tooltips)
        assert not [s for s in secrets if s in text or any(s in t for t in tooltips)]
        for checks in _looked_at(browser, report, f"report-lanes-{scenario}"):
            assert checks["clashes"] == [] and checks["broken"] == [], scenario
            assert checks["unlinked"] == [], checks["unlinked"]
            for cause, fills in checks["lanes"].items():
                assert fills == [checks["fills"][cause]], (scenario, cause, fills)
            failed = {f.cause for f in analysis.findings if f.time is not None}
            shown = {m.title.split(": ")[-1] for lane in lanes.lanes for m in lane.marks}
            assert set(checks["lanes"]) == failed & shown


def test_a_lane_mark_links_to_its_request_row(browser: Any) -> None:
    har, logs = _with_logs("provider_outage")
    _, text = render(har, *logs)
    path = write_artifact("report-lanes-click.html", text)
    watched = Watched(browser)
    try:
        url = watched.open(path)
        page = watched.page
        link = page.locator("svg.lanes a").first
        target = link.get_attribute("href")
        assert target and target.startswith("#ev-")
        link.click()
        page.wait_for_function("h => location.hash === h", arg=target)
        top = page.eval_on_selector(target, "e => e.getBoundingClientRect().top")
        assert -2 <= top < page.viewport_size["height"]
        assert watched.errors == [] and set(watched.requests) <= {url}
    finally:
        watched.close()

"""Every module has a test file named after it (tests mirror modules), or says where it is
tested; a new module without tests fails here."""

from __future__ import annotations

import re

from tests.conftest import ROOT

TESTED_ELSEWHERE = {
    "model": "types only: exercised by every test",
    "errors": "tests/test_bad_input.py (messages, exit status 2)",
    "run": "tests/test_cli.py",
    "json": "tests/test_cli.py (the findings-json contract)",
    "view": "tests/test_cli.py and tests/test_report.py",
    "html": "tests/test_report.py (in Chromium)",
    "spelling": "tests/test_export.py",
    "qbtrace_capture": "tests/test_addon.py",
    "mitm_master": "tests/test_proxy.py (mitmproxy started in-process)",
    "style": "tests/test_text.py (in a real terminal)",
    "palette": "tests/test_charts.py and tests/test_report.py (in Chromium)",
    "common": "tests/test_rules.py",
    "near_match": "tests/test_rules.py",
    "from_logs": "tests/test_from_logs.py",
    "fields": "tests/test_log_sdks.py (through every SDK module)",
    "hits": "tests/test_log_sdks.py",
    "generic": "tests/test_log_sdks.py",
    "sdk_intuitlib": "tests/test_log_sdks.py",
    "sdk_node": "tests/test_log_sdks.py",
    "sdk_php": "tests/test_log_sdks.py",
    "sdk_ruby": "tests/test_log_sdks.py",
    "sdk_dotnet": "tests/test_log_sdks.py",
    "sdk_nango": "tests/test_log_sdks.py",
    "sdk_airbyte": "tests/test_log_sdks.py",
    "ancestry": "tests/test_rules.py (family, eviction and consent-lifetime rules)",
    "indexes": "tests/test_replay.py (every edit undone exactly, on every golden)",
    "base": "tests/test_quickbooks.py (the generic provider) and tests/test_config.py",
    "log": "tests/test_from_logs.py (the registry's log reader: sniffing, gzip, stdin)",
    "bodies": "tests/test_hook_requests.py (the recorder's body and failure text)",
    "prefilter": "tests/test_live.py and tests/test_addon.py",
    "live_times": "tests/test_addon.py (qbtrace_timing) and benchmarks/proxy_overhead.py",
}
PROVIDER_FACTS = re.compile(r"intuit_tid|intuit|quickbooks|realmid|x_refresh_token", re.I)
ALLOWED = {
    ("qbtrace/__init__.py", "QuickBooks"): "the default provider's name",
    ("qbtrace/cli.py", "QuickBooks"): "the default provider's name",
    ("qbtrace/render/view.py", "intuit_tid"): "the JSON key kept for compatibility",
}


def test_every_module_has_tests() -> None:
    modules = [
        p
        for p in [*ROOT.glob("qbtrace/**/*.py"), *ROOT.glob("addons/*.py")]
        if not p.name.startswith("__")
    ]
    rules = ROOT / "qbtrace" / "rules"
    missing = [
        str(p.relative_to(ROOT))
        for p in modules
        if p.parent != rules
        and p.stem not in TESTED_ELSEWHERE
        and not (ROOT / "tests" / f"test_{p.stem}.py").exists()
    ]
    assert not missing, f"modules without tests/test_<name>.py: {missing}"


def test_every_rule_module_is_a_cause_with_a_golden_scenario() -> None:
    from qbtrace.rules import PRECEDENCE

    rules = {p.stem for p in (ROOT / "qbtrace" / "rules").glob("*.py")}
    helpers = {"__init__", "common", "near_match", "from_logs", "ancestry"}
    assert rules - helpers == set(PRECEDENCE)
    golden = ROOT / "tests" / "data" / "golden"
    scenarios = {p.name.removesuffix(".expect.json") for p in golden.glob("*.expect.json")}
    assert set(PRECEDENCE) <= scenarios


def test_no_module_outside_providers_names_a_providers_facts() -> None:
    """QuickBooks knowledge lives in qbtrace/providers/: elsewhere at most the default
    provider's name and the JSON key `intuit_tid` kept for compatibility."""
    found = []
    for path in sorted((ROOT / "qbtrace").glob("**/*.py")):
        where = str(path.relative_to(ROOT))
        if where.startswith(("qbtrace/providers/", "qbtrace/sources/logs/")):
            continue  # sources/logs/: the QuickBooks SDKs' own log formats, one module each
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for hit in PROVIDER_FACTS.finditer(line):
                if (where, hit.group(0)) not in ALLOWED:
                    found.append(f"{where}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_every_gap_has_words_in_the_report() -> None:
    from typing import get_args

    from qbtrace.model import Gap
    from qbtrace.render.html import GAP_WORDS

    assert set(GAP_WORDS) == set(get_args(Gap))

"""How fast the HTML report renders and opens with 10,000 findings.

    python benchmarks/report.py [--failures 10000] [--no-browser]

Synthesizes a HAR with one authorization, one refresh that replaces its token, and N failing
refreshes that alternate between replaying the replaced token (refresh_token_superseded) and
presenting tokens the capture never saw (refresh_token_unknown), ten minutes apart so no
outage cluster forms. Prints the analysis, render and Chromium load times, the report size,
and as a baseline the time of `--format json` on the same analysis. Target: render < 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QBTRACE_TAG_KEY", "qbtrace-bench")

TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
BASIC = "Basic QUJiZW5jaENsaWVudElkOmJlbmNoLXNlY3JldC12YWx1ZQ=="  # ABbenchClientId:bench-secret…
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC).timestamp()


def _entry(at: float, body: str, status: int, reply: dict[str, Any], tid: str) -> dict[str, Any]:
    return {
        "startedDateTime": datetime.fromtimestamp(at, UTC).isoformat(),
        "time": 120,
        "request": {
            "method": "POST",
            "url": TOKEN_URL,
            "httpVersion": "HTTP/1.1",
            "headers": [
                {"name": "Authorization", "value": BASIC},
                {"name": "Content-Type", "value": "application/x-www-form-urlencoded"},
            ],
            "queryString": [],
            "cookies": [],
            "postData": {"mimeType": "application/x-www-form-urlencoded", "text": body},
            "headersSize": -1,
            "bodySize": len(body),
        },
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "intuit_tid", "value": tid}],
            "cookies": [],
            "content": {"size": -1, "mimeType": "application/json", "text": json.dumps(reply)},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": 120, "receive": 0},
    }


def _issued(rt: str, n: int) -> dict[str, Any]:
    return {
        "access_token": f"eyJbench.{n}.access",
        "refresh_token": rt,
        "token_type": "bearer",
        "expires_in": 3600,
        "x_refresh_token_expires_in": 8726400,
    }


def many_failures_har(path: Path, failures: int) -> Path:
    """Write the synthetic HAR described in the module docstring; returns `path`."""
    old, new = "RT1-bench-old-0000000000000000000000", "RT1-bench-new-1111111111111111111111"
    entries = [
        _entry(START, "grant_type=authorization_code&code=AB1bench&redirect_uri=https%3A%2F%2Fa",
               200, _issued(old, 0), "1-bench-0"),
        _entry(START + 60, f"grant_type=refresh_token&refresh_token={old}", 200, _issued(new, 1),
               "1-bench-1"),
    ]  # fmt: skip
    error = {"error": "invalid_grant", "error_description": "Token invalid"}
    for n in range(failures):
        token = old if n % 2 == 0 else f"RT1-bench-unknown-{n:08d}-000000000000"
        body = f"grant_type=refresh_token&refresh_token={token}"
        entries.append(_entry(START + 600 * (n + 1), body, 400, error, f"1-bench-f{n}"))
    har = {"log": {"version": "1.2", "creator": {"name": "qbtrace-bench", "version": "1"}}}
    har["log"]["entries"] = entries
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(har), encoding="utf-8")
    return path


def _timed(what: str, func: Any, *args: Any) -> tuple[Any, float]:
    began = time.perf_counter()
    result = func(*args)
    took = time.perf_counter() - began
    print(f"{what:<28} {took:8.3f} s")
    return result, took


def open_in_chromium(path: Path) -> float:
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_page()
        began = time.perf_counter()
        page.goto(path.resolve().as_uri(), wait_until="load")
        page.evaluate("() => document.body.scrollHeight")  # layout done
        took = time.perf_counter() - began
        browser.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=int, default=10_000)
    parser.add_argument("--no-browser", action="store_true")
    opts = parser.parse_args()

    from qbtrace.analysis import analyze_inputs, read_all
    from qbtrace.profile import Profile
    from qbtrace.redact import Redactor, default_key
    from qbtrace.render import html
    from qbtrace.render import json as json_render
    from qbtrace.render.view import Presenter

    with tempfile.TemporaryDirectory() as folder:
        har = many_failures_har(Path(folder) / "many.har", opts.failures)
        redactor, profile = Redactor(default_key()), Profile()
        inputs, _ = _timed("read", read_all, [har], profile, redactor)
        analysis, _ = _timed("analyze", analyze_inputs, inputs, profile)
        presenter = Presenter(redactor)
        print(f"findings                     {len(analysis.findings):8d}")
        html.environment()  # template compilation is a one-off, not part of the render
        _, baseline = _timed("render json (baseline)", json_render.render, analysis, presenter)
        text, took = _timed("render html", html.render, analysis, presenter)
        report = Path(folder) / "report.html"
        report.write_text(text, encoding="utf-8")
        print(f"report size                  {len(text.encode()) / 1024:8.1f} KiB")
        print(f"html / json render ratio     {took / baseline:8.2f}")
        print(f"target render < 2 s          {'met' if took < 2 else 'MISSED'}")
        if not opts.no_browser:
            print(f"chromium load                {open_in_chromium(report):8.3f} s")


if __name__ == "__main__":
    main()

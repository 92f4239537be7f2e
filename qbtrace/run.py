"""What `qbtrace analyze` does between parsing options and exiting: read, analyze, render."""

from __future__ import annotations

import sys
from pathlib import Path

from qbtrace.analysis import Analysis, analyze_inputs, read_all
from qbtrace.config import load_profile
from qbtrace.redact import Redactor, default_key
from qbtrace.render.view import Presenter, config_line_of
from qbtrace.sources.logs.stamps import parse_zone


def run_analysis(
    paths: list[Path],
    fmt: str,
    output: Path | None,
    config: Path | None,
    events: Path | None,
    show_client_ids: bool,
    fail_on: tuple[str, ...],
    use_local_config: bool = True,
    log_tz: str | None = None,
) -> bool:
    """Analyze, write the chosen format; True when a `fail_on` cause was found."""
    profile = load_profile(config, local=use_local_config)
    if profile.config_implicit:
        said = config_line_of(profile)
        print(f"qbtrace: note: {said}", file=sys.stderr)
    redactor = Redactor(default_key())
    zone = parse_zone(log_tz) if log_tz else None
    progress = _progress if sys.stderr.isatty() else None
    inputs = read_all(paths, profile, redactor, before=progress, log_tz=zone)
    analysis = analyze_inputs(inputs, profile)
    presenter = Presenter(redactor, show_client_ids, profile)
    text = render(analysis, presenter, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    for item in inputs:
        for warning in item.warnings:
            print(f"qbtrace: warning: {item.source}: {warning}", file=sys.stderr)
    if fmt != "text" or output is not None:  # the terminal text says them itself
        for note in analysis.notes:
            print(f"qbtrace: note: {note}", file=sys.stderr)
    if events is not None:
        from qbtrace.table import events_frame

        events_frame(analysis, presenter).write_parquet(events)
    causes = {f.cause for f in analysis.findings}
    return bool(causes & set(fail_on)) or ("any" in fail_on and bool(causes))


PROGRESS_FROM = 20 * 1024 * 1024


def _progress(path: Path, name: str) -> None:
    """Say what is being read when it will take a moment (terminals only)."""
    try:
        size = path.stat().st_size
    except OSError:
        return
    if size >= PROGRESS_FROM:
        print(f"qbtrace: reading {name} ({size / 1e6:,.0f} MB)…", file=sys.stderr, flush=True)


def render(analysis: Analysis, presenter: Presenter, fmt: str) -> str:
    if fmt == "json":
        from qbtrace.render import json

        return json.render(analysis, presenter)
    if fmt == "csv":
        from qbtrace.table import csv_safe, findings_frame

        return csv_safe(findings_frame(analysis, presenter)).write_csv()
    if fmt == "html":
        from qbtrace.render import html

        return html.render(analysis, presenter)
    from qbtrace.render import text

    return text.render(analysis, presenter)

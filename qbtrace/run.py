"""What `qbtrace analyze` does between parsing options and printing: read, analyze, render.

Nothing here prints: `run_analysis` returns the rendered text and every line for standard
error, and `qbtrace.cli` prints them (or writes the text to `--output`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qbtrace.analysis import Analysis, analyze_inputs, read_all
from qbtrace.config import load_profile
from qbtrace.redact import Redactor, default_key
from qbtrace.render.view import Presenter, config_line_of
from qbtrace.sources.logs.stamps import parse_zone

PROGRESS_FROM = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Run:
    """One analysis, rendered: what the CLI writes and says."""

    text: str
    """The output in the chosen format."""
    said: tuple[str, ...]
    """Lines for standard error: the config disclosure, the inputs' warnings."""
    notes: tuple[str, ...]
    """Lines for standard error unless the text on the terminal says them itself."""
    found: bool
    """A `--fail-on` cause was found."""
    analysis: Analysis


def run_analysis(
    paths: list[Path],
    fmt: str,
    config: Path | None,
    events: Path | None,
    show_client_ids: bool,
    fail_on: tuple[str, ...],
    use_local_config: bool = True,
    progress: Callable[[str], None] | None = None,
    log_tz: str | None = None,
) -> Run:
    """Analyze and render; `progress` hears of big inputs as they are read (terminals)."""
    profile = load_profile(config, local=use_local_config)
    said = [f"qbtrace: note: {config_line_of(profile)}"] if profile.config_implicit else []
    redactor = Redactor(default_key())
    before = None if progress is None else _announcer(progress)
    zone = parse_zone(log_tz) if log_tz else None
    inputs = read_all(paths, profile, redactor, before=before, log_tz=zone)
    analysis = analyze_inputs(inputs, profile)
    presenter = Presenter(redactor, show_client_ids, profile)
    text = render(analysis, presenter, fmt)
    said += [f"qbtrace: warning: {i.source}: {w}" for i in inputs for w in i.warnings]
    notes = tuple(f"qbtrace: note: {note}" for note in analysis.notes)
    if events is not None:
        from qbtrace.table import events_frame

        events_frame(analysis, presenter).write_parquet(events)
    causes = {f.cause for f in analysis.findings}
    found = bool(causes & set(fail_on)) or ("any" in fail_on and bool(causes))
    return Run(text, tuple(said), notes, found, analysis)


def _announcer(progress: Callable[[str], None]) -> Callable[[Path, str], None]:
    def before(path: Path, name: str) -> None:
        """Say what is being read when it will take a moment."""
        try:
            size = path.stat().st_size
        except OSError:
            return
        if size >= PROGRESS_FROM:
            progress(f"qbtrace: reading {name} ({size / 1e6:,.0f} MB)…")

    return before


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

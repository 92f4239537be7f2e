"""What `qbtrace analyze` does between parsing options and exiting: read, analyze, render.

Nothing here prints: every line goes to the `Output` the CLI hands in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from qbtrace.analysis import Analysis, analyze_inputs, source_names
from qbtrace.config import load_profile
from qbtrace.dataset import is_dataset, is_dataset_target, listed, read_paths, write_dataset
from qbtrace.engines import classifier, engine_for
from qbtrace.outfile import is_stdio, open_output, write_pieces
from qbtrace.passes import Engine
from qbtrace.profile import Profile
from qbtrace.redact import Redactor, default_key
from qbtrace.render.view import Presenter, config_line_of


class Output(Protocol):
    """Where the CLI wants things said (it is the only module that prints)."""

    def terminal(self) -> tuple[bool, int | None]:
        """(standard output shows colour, its width when it is a terminal)."""

    def progress(self, line: str) -> None: ...

    def warn(self, source: str, warning: str) -> None: ...

    def note(self, note: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Request:
    """One `qbtrace analyze` (or `report`) as the command line asked for it."""

    paths: tuple[Path, ...]
    fmt: str
    output: Path | None
    """None or `-`: standard output."""
    config: Path | None
    events: Path | None
    show_client_ids: bool
    fail_on: tuple[str, ...]
    use_local_config: bool = True
    """Read ./qbtrace.toml when no --config is given (False: --no-config)."""
    log_tz: str | None = None
    """`--log-tz`: the zone of application-log timestamps written without one."""
    jobs: int = 1
    """`--jobs`: local processes the analysis is split over (1: not split)."""
    scheduler: str | None = None
    """`--scheduler`: the address of a Dask scheduler to send the split analysis to."""


def run_analysis(request: Request, out: Output) -> bool:
    """Analyze, write the chosen format; True when a `fail_on` cause was found."""
    profile = load_profile(request.config, local=request.use_local_config)
    said = config_line_of(profile)
    if profile.config_implicit and said:
        out.note(said)
    redactor = Redactor(default_key())
    zone = None
    if request.log_tz:
        from qbtrace.sources.logs.stamps import parse_zone  # the log reader: only for logs

        zone = parse_zone(request.log_tz)
    if _bulk(request):
        from qbtrace.bulk_capture import analyze_capture

        path = request.paths[0]
        name = source_names([path])[0]
        _progress(out)(path, name)
        stage = _stages(out, path)
        analysis = analyze_capture(path, name, profile, redactor, stage)
        stage(f"writing {len(analysis.findings):,} findings")
        inputs = list(analysis.inputs)
    else:
        paths = list(request.paths)
        with engine_for(request.jobs, request.scheduler) as (engine, parts):
            streamed = _streamed(request, profile, engine)
            if streamed is None:
                inputs = read_paths(paths, profile, redactor, before=_progress(out), log_tz=zone)
                split = classifier(engine, parts) if parts > 1 else None
                streamed = analyze_inputs(inputs, profile, split)
            else:
                inputs = listed(paths[0])  # as read: their warnings, not the clock's note
            analysis = streamed
    presenter = Presenter(redactor, request.show_client_ids, profile)
    to_terminal = request.fmt == "text" and (request.output is None or is_stdio(request.output))
    colour, width = out.terminal() if to_terminal else (False, None)
    pieces = render_pieces(analysis, presenter, request.fmt, colour, width)
    write_pieces(request.output or Path("-"), (piece.encode("utf-8") for piece in pieces))
    if not to_terminal:  # the terminal text says them itself
        for item in inputs:
            for warning in dict.fromkeys(item.warnings):
                out.warn(item.source, warning)
        for note in analysis.notes:
            out.note(note)
    if request.events is not None and is_dataset_target(request.events):
        write_dataset(request.events, inputs, analysis, presenter)
    elif request.events is not None:
        from qbtrace.table import events_frame

        with open_output(request.events) as handle:
            events_frame(analysis, presenter).write_parquet(handle)
    causes = {f.cause for f in analysis.findings}
    wanted = set(request.fail_on)
    return bool(causes & wanted) or ("any" in wanted and bool(causes))


PROGRESS_FROM = 20 * 1024 * 1024
BULK_FORMATS = ("json", "text")
"""What the bulk path's analysis renders (the report and the events table need every
exchange; the CSV of findings does not, but is not wired yet)."""


def _bulk(request: Request) -> bool:
    """One big capture, rendered from findings and counts: the bulk path (`bulk_capture`)."""
    if len(request.paths) != 1 or request.fmt not in BULK_FORMATS or request.events is not None:
        return False
    if request.jobs != 1 or request.scheduler is not None:
        return False  # a split analysis (--jobs, --scheduler) reads every exchange
    from qbtrace.bulk_capture import takes

    return takes(request.paths[0])


def _streamed(request: Request, profile: Profile, engine: Engine) -> Analysis | None:
    """One dataset rendered from findings and counts, a part at a time (`streamed`)."""
    if len(request.paths) != 1 or request.fmt not in BULK_FORMATS or request.events is not None:
        return None
    if not is_dataset(request.paths[0]):
        return None
    from qbtrace.streamed import analyze

    return analyze(request.paths[0], profile, engine)


def _progress(out: Output) -> Callable[[Path, str], None]:
    def before(path: Path, name: str) -> None:
        """Say what is being read when it will take a moment."""
        try:
            size = path.stat().st_size
        except OSError:
            return
        if size >= PROGRESS_FROM:
            out.progress(f"qbtrace: reading {name} ({size / 1e6:,.0f} MB)…")

    return before


def _stages(out: Output, path: Path) -> Callable[[str], None]:
    """Each stage of a big capture's analysis as it ends, with the seconds so far (a 10 GB
    capture takes a minute or two)."""
    start = time.monotonic()
    try:
        big = path.stat().st_size >= PROGRESS_FROM
    except OSError:
        big = False

    def stage(name: str) -> None:
        if big:
            out.progress(f"qbtrace: {time.monotonic() - start:.0f} s: {name}")

    return stage


def render_pieces(
    analysis: Analysis,
    presenter: Presenter,
    fmt: str,
    colour: bool = False,
    width: int | None = None,
) -> Iterator[str]:
    """The output's text in pieces: the JSON document as its findings are made (a big one
    is never held whole), the other formats in one piece."""
    if fmt == "json":
        from qbtrace.render import json

        return json.chunks(analysis, presenter)
    return iter((_whole(analysis, presenter, fmt, colour, width),))


def render(
    analysis: Analysis,
    presenter: Presenter,
    fmt: str,
    colour: bool = False,
    width: int | None = None,
) -> str:
    return "".join(render_pieces(analysis, presenter, fmt, colour, width))


def _whole(
    analysis: Analysis, presenter: Presenter, fmt: str, colour: bool, width: int | None
) -> str:
    if fmt == "csv":
        from qbtrace.table import CSV_TIME, csv_safe, findings_frame

        return csv_safe(findings_frame(analysis, presenter)).write_csv(datetime_format=CSV_TIME)
    if fmt == "html":
        from qbtrace.render import html

        return html.render(analysis, presenter)
    from qbtrace.render import text

    return text.render(analysis, presenter, colour, width)

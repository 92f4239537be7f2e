"""The command line: parse, call one library function, print. The only module that exits."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from qbtrace import __version__
from qbtrace.errors import QbtraceError
from qbtrace.redact import Redactor, default_key
from qbtrace.rules import BY_CAUSE, PRECEDENCE

if TYPE_CHECKING:
    from qbtrace.run import Run

FORMATS = ("text", "json", "csv", "html")


def fail(message: str) -> NoReturn:
    click.echo(f"qbtrace: error: {message}", err=True)
    sys.exit(2)


def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """User errors become one line on stderr and exit status 2, never a traceback."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QbtraceError as exc:
            fail(str(exc))
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{exc.strerror or exc}")

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def parse_causes(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    causes = tuple(c.strip() for c in value.split(",") if c.strip())
    for cause in causes:
        if cause not in BY_CAUSE and cause != "any":
            raise click.BadParameter(f"unknown cause {cause!r}; see `qbtrace causes`")
    return causes


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="qbtrace")
def main() -> None:
    """Explain why QuickBooks Online OAuth token requests fail, from captured traffic.

    \b
    Start here:
      qbtrace analyze app.har                 explain every failed token request
      qbtrace analyze app.har --format html -o report.html
      qbtrace causes                          the causes qbtrace can name
      qbtrace explain refresh_token_superseded
    """


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for the terminal, json for scripts (qbtrace.findings/1), csv, html report.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of standard output.",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="qbtrace.toml with provider overrides and the app's redirect URIs, client ids, "
    "disconnect URL (default: ./qbtrace.toml if present, and said so).",
)
@click.option(
    "--no-config",
    is_flag=True,
    help="Ignore ./qbtrace.toml in the current folder: the built-in provider defaults.",
)
@click.option("--fail-on", help="Comma-separated cause ids (or 'any'): exit 1 when one is found.")
@click.option(
    "--events",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the token-event table to this Parquet file.",
)
@click.option("--show-client-ids", is_flag=True, help="Print client ids as they are, not as tags.")
@click.option(
    "--log-tz",
    metavar="ZONE",
    help="Zone of application-log timestamps written without one (IANA name or +HH:MM; "
    "default UTC).",
)
@guarded
def analyze(
    inputs: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    config: Path | None,
    no_config: bool,
    fail_on: str | None,
    events: Path | None,
    show_client_ids: bool,
    log_tz: str | None,
) -> None:
    """Explain every failed token request in HAR files, mitmproxy flow files, qbtrace captures
    or application logs (`-` reads standard input).

    Several INPUTS are merged on one timeline (e.g. the browser's HAR and the server's capture,
    or an app's log and a capture of the same traffic).
    Exit status: 0 analysed, 1 a --fail-on cause was found, 2 bad input or usage.
    """
    from qbtrace.run import run_analysis

    wanted = parse_causes(fail_on)
    progress = partial(click.echo, err=True) if sys.stderr.isatty() else None
    run = run_analysis(
        list(inputs), fmt, config, events, show_client_ids, wanted, not no_config, progress, log_tz
    )
    emit(run, fmt, output)
    sys.exit(1 if run.found else 0)


def emit(run: Run, fmt: str, output: Path | None) -> None:
    """The output to standard output or `output`, then what standard error must say."""
    if output is None:
        sys.stdout.write(run.text)  # as rendered: click.echo would drop escape sequences
    else:
        output.write_text(run.text, encoding="utf-8")
    for line in run.said:
        click.echo(line, err=True)
    if fmt != "text" or output is not None:  # the terminal text says them itself
        for line in run.notes:
            click.echo(line, err=True)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
)
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-config", is_flag=True, help="Ignore ./qbtrace.toml in the current folder.")
@click.option("--show-client-ids", is_flag=True)
@click.option("--log-tz", metavar="ZONE", help="Zone of naive application-log timestamps.")
@guarded
def report(
    inputs: tuple[Path, ...],
    output: Path,
    config: Path | None,
    no_config: bool,
    show_client_ids: bool,
    log_tz: str | None,
) -> None:
    """Write the self-contained HTML report (short for `analyze --format html -o FILE`)."""
    from qbtrace.run import run_analysis

    run = run_analysis(
        list(inputs), "html", config, None, show_client_ids, (), not no_config, None, log_tz
    )
    emit(run, "html", output)


@main.command()
def causes() -> None:
    """List the causes qbtrace names, in precedence order."""
    width = max(map(len, PRECEDENCE))
    for cause in PRECEDENCE:
        click.echo(f"{cause:<{width}}  {BY_CAUSE[cause].title}")


@main.command()
@click.argument("cause")
def explain(cause: str) -> None:
    """Print what a cause means, how to confirm it and how to fix it."""
    rule = BY_CAUSE.get(cause)
    if rule is None:
        fail(f"unknown cause {cause!r}; `qbtrace causes` lists them")
    click.echo(rule.doc, nl=False)


def make_redactor() -> Redactor:
    return Redactor(default_key())


@main.command()
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the sanitized HAR (or, for an application log, the sanitized log).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Also drop the bodies and query values of every exchange qbtrace does not analyse.",
)
@guarded
def sanitize(source: Path, output: Path, strict: bool) -> None:
    """Copy an input as a HAR with every secret replaced: tokens, codes, client secrets,
    cookies, Authorization of any scheme, API keys, session ids, JWTs, URL passwords.

    SOURCE is anything `qbtrace analyze` reads: a HAR, a mitmproxy flow file (every flow is
    converted, through mitmproxy's HAR export) or a qbtrace capture; an application log is
    copied as a log, line for line, with its secrets replaced. Each secret becomes a
    keyed stand-in wherever it occurs, in any spelling: equal values stay equal and altered
    values stay altered, so the copy analyzes to the same causes. Prints on standard error
    how many values of each kind were replaced, and what --strict dropped.
    """
    from qbtrace.profile import Profile
    from qbtrace.sanitize import sanitize_file
    from qbtrace.sanitize_log import is_log, sanitize_log_file

    warnings: list[str] = []
    if is_log(source):
        summary = sanitize_log_file(source, output, make_redactor())
    else:
        summary = sanitize_file(
            source, output, make_redactor(), warnings, Profile() if strict else None
        )
    for warning in warnings:
        click.echo(f"qbtrace: warning: {source.name}: {warning}", err=True)
    for kind, count in summary.replaced.items():
        click.echo(f"replaced {count:>6} {kind}", err=True)
    for what, count in summary.dropped.items():
        click.echo(f"dropped  {count:>6} {what}", err=True)
    total = sum(summary.replaced.values())
    click.echo(
        f"qbtrace: wrote {output} ({summary.entries} entries, {total} values replaced)", err=True
    )


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--port", type=int, default=8080, show_default=True, help="Port to listen on.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("qbtrace-capture.jsonl"),
    show_default=True,
    help="Capture file (JSON Lines); appended to, never truncated.",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="qbtrace.toml for endpoints, redirect URIs, disconnect URL.",
)
@click.argument("mitmdump_args", nargs=-1, type=click.UNPROCESSED)
@guarded
def proxy(port: int, out: Path, config: Path | None, mitmdump_args: tuple[str, ...]) -> None:
    """Run mitmproxy with qbtrace's capture addon and explain failures as they happen.

    Point your app at the printed proxy URL; arguments after `--` go to mitmdump. Ctrl-C stops
    it and prints a summary; the capture file analyzes like any HAR:
    `qbtrace analyze qbtrace-capture.jsonl`.
    """
    from qbtrace.proxy import start_proxy

    run = start_proxy(port, out, config, list(mitmdump_args))
    click.echo(run.setup)
    status = run.wait()
    click.echo(run.summary())
    sys.exit(status)

"""The command line: parse, call one library function, print. The only module that exits."""

from __future__ import annotations

import contextlib
import difflib
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from click.shell_completion import CompletionItem

from qbtrace import __version__
from qbtrace.errors import QbtraceError
from qbtrace.outfile import check_output, is_stdio, write_output
from qbtrace.providers import BUILTIN, DEFAULT
from qbtrace.redact import Redactor, default_key
from qbtrace.render.style import emphasise
from qbtrace.render.view import plural, terminal_line
from qbtrace.rules import BY_CAUSE, PRECEDENCE, arises_with

if TYPE_CHECKING:
    from qbtrace.sanitize import Summary as SanitizeSummary

FORMATS = ("text", "json", "csv", "html")


def fail(message: str) -> NoReturn:
    click.echo(f"qbtrace: error: {terminal_line(message)}", err=True)
    sys.exit(2)


def warn(source: str, warning: str) -> None:
    click.echo(f"qbtrace: warning: {terminal_line(source)}: {terminal_line(warning)}", err=True)


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


class CauseList(click.ParamType[tuple[str, ...]]):
    """Cause ids, comma-separated (the option may be repeated too), or `any`; a misspelled
    id gets the nearest ones; the shell completes ids after the last comma."""

    name = "causes"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        causes = tuple(c.strip() for c in str(value).split(",") if c.strip())
        for cause in causes:
            if cause not in BY_CAUSE and cause != "any":
                near = difflib.get_close_matches(cause, [*PRECEDENCE, "any"], n=3, cutoff=0.6)
                hint = f"; did you mean {' or '.join(near)}?" if near else ""
                self.fail(f"unknown cause {cause!r}{hint} (`qbtrace causes` lists them)")
        return causes

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        done, _, last = incomplete.rpartition(",")
        head = f"{done}," if done else ""
        return [
            CompletionItem(head + cause, help=BY_CAUSE[cause].title)
            for cause in PRECEDENCE
            if cause.startswith(last)
        ]


def flat(groups: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    return tuple(cause for group in groups for cause in group)


CONFIG_HELP = (
    "qbtrace.toml with provider overrides and the app's redirect URIs, client ids, "
    "disconnect URL (default: ./qbtrace.toml if present, and said so)."
)


def one_line_usage(ctx: click.Context, exc: click.UsageError) -> NoReturn:
    """A usage error as one line naming the command, like every other qbtrace error."""
    command = f"{ctx.command_path}" if ctx.command_path else "qbtrace"
    fail(f"{command}: {exc.format_message()} (see `{command} --help`)")


class Command(click.Command):
    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            one_line_usage(exc.ctx or click.Context(self, info_name=info_name, parent=parent), exc)


class Group(click.Group):
    command_class = Command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            one_line_usage(ctx, exc)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
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


class Printer:
    """Every line qbtrace prints, styled with click (colour only on a terminal, never with
    NO_COLOR) and escaped so the input cannot drive the terminal."""

    def __init__(self, colour: bool | None) -> None:
        self.colour = colour

    def terminal(self) -> tuple[bool, int | None]:
        tty = sys.stdout.isatty()
        colour = self.colour if self.colour is not None else tty
        width = shutil.get_terminal_size((100, 24)).columns if tty else None
        return colour, width

    def out(self, text: str) -> None:
        click.echo(text, color=self.colour)

    def progress(self, line: str) -> None:
        if sys.stderr.isatty():
            click.echo(terminal_line(line), err=True)

    def warn(self, source: str, warning: str) -> None:
        warn(source, warning)

    def note(self, note: str) -> None:
        click.echo(f"qbtrace: note: {terminal_line(note)}", err=True)

    def live(self, line: str) -> None:
        """A live explanation from the proxy (already escaped by the addon), its cause and
        confidence emphasised."""
        click.echo(emphasise(line), color=self.colour)


def colour_wanted() -> bool | None:
    """None lets click decide (colour on a terminal, plain when piped); NO_COLOR says plain."""
    return False if os.environ.get("NO_COLOR") else None


INPUTS = click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
CONFIG = click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help=CONFIG_HELP,
)
NO_CONFIG = click.option(
    "--no-config",
    is_flag=True,
    help="Ignore ./qbtrace.toml in the current folder: the built-in provider defaults.",
)
CLIENT_IDS = click.option(
    "--show-client-ids", is_flag=True, help="Print client ids as they are, not as tags."
)
LOG_TZ = click.option(
    "--log-tz",
    metavar="ZONE",
    help="Zone of application-log timestamps written without one (IANA name or +HH:MM; "
    "default UTC).",
)


@main.command()
@INPUTS
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
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write here instead of standard output (`-`: standard output).",
)
@CONFIG
@NO_CONFIG
@click.option(
    "--fail-on",
    type=CauseList(),
    multiple=True,
    help="Cause ids, comma-separated or repeated (or 'any'): exit 1 when one is found.",
)
@click.option(
    "--events",
    type=click.Path(path_type=Path),
    help="Also write the token-event table to this Parquet file (`.parquet`), or every "
    "exchange to this new folder as a Parquet dataset by day and provider, which "
    "`qbtrace analyze FOLDER` reads back.",
)
@CLIENT_IDS
@LOG_TZ
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Split the analysis by lineage over this many local processes (same findings).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    envvar="DASK_SCHEDULER_ADDRESS",
    help="Send the split analysis to this Dask scheduler (tcp://host:8786; needs "
    "qbtrace[dask]); default: $DASK_SCHEDULER_ADDRESS.",
)
@guarded
def analyze(
    inputs: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    config: Path | None,
    no_config: bool,
    fail_on: tuple[tuple[str, ...], ...],
    events: Path | None,
    show_client_ids: bool,
    log_tz: str | None,
    jobs: int,
    scheduler: str | None,
) -> None:
    """Explain every failed token request in HAR files, mitmproxy flow files, qbtrace captures
    or application logs.

    Several INPUTS are merged on one timeline (e.g. the browser's HAR and the server's capture,
    or an app's log and a capture of the same traffic); `-` reads standard input; a folder
    written by `--events DIR` is read back as the inputs it was written from.
    Exit status: 0 analysed, 1 a --fail-on cause was found, 2 bad input or usage.
    """
    from qbtrace.run import Request, run_analysis

    if output is not None:
        check_output(output, inputs)
    if events is not None:
        from qbtrace.dataset import check_target, is_dataset_target

        if is_dataset_target(events):
            check_target(events)
        else:
            check_output(events, inputs)
    request = Request(
        *(inputs, fmt, output, config, events, show_client_ids, flat(fail_on), not no_config),
        log_tz,
        jobs=jobs,
        scheduler=scheduler,
    )
    found = run_analysis(request, Printer(colour_wanted()))
    sys.exit(1 if found else 0)


@main.command()
@INPUTS
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="Where to write the report (`-`: standard output).",
)
@CONFIG
@NO_CONFIG
@CLIENT_IDS
@LOG_TZ
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
    from qbtrace.run import Request, run_analysis

    check_output(output, inputs)
    request = Request(
        inputs, "html", output, config, None, show_client_ids, (), not no_config, log_tz
    )
    run_analysis(request, Printer(colour_wanted()))
    if not is_stdio(output):
        click.echo(f"qbtrace: wrote {terminal_line(str(output))}", err=True)


@main.command()
def causes() -> None:
    """List the causes qbtrace names, in precedence order, and the providers each arises with."""
    width = max(map(len, PRECEDENCE))
    for cause in PRECEDENCE:
        rule = BY_CAUSE[cause]
        click.echo(f"{cause:<{width}}  {rule.title}  [{arises_with(rule, BUILTIN.values())}]")


class CauseId(click.ParamType[str]):
    """One cause id, completed by the shell."""

    name = "cause"

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        return [
            CompletionItem(c, help=BY_CAUSE[c].title)
            for c in PRECEDENCE
            if c.startswith(incomplete)
        ]


@main.command()
@click.argument("cause", type=CauseId())
@click.option(
    "--provider",
    "provider_name",
    metavar="NAME",
    help=f"Word it for this provider: {', '.join(BUILTIN)} (default: {DEFAULT.name}).",
)
def explain(cause: str, provider_name: str | None) -> None:
    """Print what a cause means, how to confirm it and how to fix it."""
    rule = BY_CAUSE.get(cause)
    if rule is None:
        near = difflib.get_close_matches(cause, PRECEDENCE, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(near)}?" if near else ""
        fail(f"unknown cause {cause!r}{hint} (`qbtrace causes` lists them)")
    provider = BUILTIN.get(provider_name or DEFAULT.name)
    if provider is None:
        fail(f"unknown provider {provider_name!r}; built in: {', '.join(BUILTIN)}")
    click.echo(rule.doc_for(provider), nl=False)
    click.echo(f"\nArises with: {arises_with(rule, BUILTIN.values())}.")
    if not rule.applies(provider):
        click.echo(f"Not with {provider.label} as qbtrace knows it (see `qbtrace causes`).")


def make_redactor() -> Redactor:
    return Redactor(default_key())


def sanitize_io(source: Path, output: Path, warnings: list[str], strict: bool) -> SanitizeSummary:
    """`sanitize_file`, with `-` as standard input or output (through a private temporary
    file: the sanitizer reads and writes files)."""
    import tempfile

    from qbtrace.profile import Profile
    from qbtrace.sanitize import sanitize_file
    from qbtrace.sources import stdin_file

    scope = Profile() if strict else None
    with contextlib.ExitStack() as stack:
        if is_stdio(source):
            source = stack.enter_context(stdin_file())
        if not is_stdio(output):
            return sanitize_file(source, output, make_redactor(), warnings, scope)
        spill = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "sanitized.har"
        summary = sanitize_file(source, spill, make_redactor(), warnings, scope)
        write_output(output, spill.read_bytes())
        return summary


@main.command()
@click.argument("source", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    required=True,
    help="Where to write the sanitized HAR (`-`: standard output).",
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
    converted, through mitmproxy's HAR export) or a qbtrace capture. Each secret becomes a
    keyed stand-in wherever it occurs, in any spelling: equal values stay equal and altered
    values stay altered, so the copy analyzes to the same causes. Prints on standard error
    how many values of each kind were replaced, and what --strict dropped.
    """
    check_output(output, [source])
    warnings: list[str] = []
    summary = sanitize_io(source, output, warnings, strict)
    for warning in dict.fromkeys(warnings):
        warn("stdin" if is_stdio(source) else source.name, warning)
    for kind, count in summary.replaced.items():
        click.echo(f"replaced {count:>6} {kind}", err=True)
    for what, count in summary.dropped.items():
        click.echo(f"dropped  {count:>6} {what}", err=True)
    total = sum(summary.replaced.values())
    where = "standard output" if is_stdio(output) else terminal_line(str(output))
    click.echo(
        f"qbtrace: wrote {where} ({plural(summary.entries, 'entry')}, {total} values replaced)",
        err=True,
    )


@main.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: any free port, printed).",
)
@click.option(
    "--listen-host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; loopback keeps the app's secrets off the network.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("qbtrace-capture.jsonl"),
    show_default=True,
    help="Capture file (JSON Lines); appended to, never truncated.",
)
@CONFIG
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="A mitmproxy option, as `mitmdump --set` takes it (repeatable), e.g. "
    "confdir=~/.mitmproxy, qbtrace_keep_raw=true.",
)
@click.option(
    "--mitmproxy-log",
    is_flag=True,
    help="Also show mitmproxy's own per-flow and connection lines (quiet by default).",
)
@click.option("-q", "--quiet", is_flag=True, help="No setup text; qbtrace's live lines still show.")
@guarded
def proxy(
    port: int,
    listen_host: str,
    out: Path,
    config: Path | None,
    sets: tuple[str, ...],
    mitmproxy_log: bool,
    quiet: bool,
) -> None:
    """Run mitmproxy with qbtrace's capture addon and explain failures as they happen.

    Point your app at the printed proxy URL. Ctrl-C stops it and prints a summary; the
    capture file analyzes like any HAR: `qbtrace analyze qbtrace-capture.jsonl`.
    """
    from qbtrace.proxy import ProxySettings, run_proxy

    settings = ProxySettings(port, listen_host, out, config, sets, mitmproxy_log, quiet)
    printer = Printer(colour_wanted())
    run_proxy(settings, printer.out, printer.live)

"""`python -m qbtrace.record -o tokens.jsonl -- app.py ARGS`: run a Python program with the
recorder installed, as `coverage run` does: the program sees its own `sys.argv`, its own
folder first on `sys.path`, and runs as `__main__`; its exit status is ours.

Only what goes wrong before the program starts (the capture cannot be written, the config
is bad) is ours to report: one line on stderr, exit status 2. The program's own errors and
tracebacks are its own.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import NoReturn

import click

from qbtrace.config import load_profile
from qbtrace.errors import QbtraceError
from qbtrace.profile import Profile
from qbtrace.record import ENV_CAPTURE, ENV_CONFIG, ENV_EXPLAIN, install
from qbtrace.render.view import terminal_line


@click.command(
    context_settings={
        "help_option_names": ["-h", "--help"],
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
    }
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Capture file to append to (JSON Lines, created 0600).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="qbtrace.toml naming the provider's endpoints, when it is not a built-in one.",
)
@click.option(
    "--explain",
    is_flag=True,
    help="Tell each failed token request's cause on stderr as it happens (as qbtrace proxy "
    "does), in forked and spawned workers too.",
)
@click.argument("program", nargs=-1, required=True, type=click.UNPROCESSED)
def main(output: Path, config: Path | None, explain: bool, program: tuple[str, ...]) -> None:
    """Run PROGRAM (a script, or -m MODULE) recording its OAuth token requests.

    \b
      python -m qbtrace.record -o tokens.jsonl -- app.py --port 8000
      python -m qbtrace.record -o tokens.jsonl -- -m celery -A proj worker
      python -m qbtrace.record -o tokens.jsonl --explain -- app.py
    """
    try:
        profile = load_profile(config) if config is not None else Profile()
        install(output, profile=profile, explain=explain or None)
        # for interpreters started afresh that call process_startup (docs/recorder.md)
        os.environ[ENV_CAPTURE] = str(output.resolve())
        if explain:
            os.environ[ENV_EXPLAIN] = "1"
        if config is not None:
            os.environ[ENV_CONFIG] = str(config.resolve())
    except QbtraceError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{output}: cannot write the capture ({exc.strerror or exc})")
    if program[0] == "-m":
        if len(program) < 2:
            _fail("-m needs a module name")
        _run_module(program[1], program[2:])
    else:
        _run_script(program[0], program[1:])


def _run_script(script: str, args: tuple[str, ...]) -> None:
    if not os.path.isfile(script):
        _fail(f"{script}: no such file")
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


def _run_module(module: str, args: tuple[str, ...]) -> None:
    sys.argv = [module, *args]  # runpy puts the module's file name in argv[0]
    sys.path[0] = os.getcwd()
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def _fail(message: str) -> NoReturn:
    click.echo(terminal_line(f"qbtrace.record: error: {message}"), err=True)
    sys.exit(2)


if __name__ == "__main__":
    main(prog_name="python -m qbtrace.record")

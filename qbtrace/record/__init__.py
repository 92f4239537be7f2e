"""The in-app recorder: a qbtrace capture written from inside the app, for production hosts
where no proxy can run.

    import qbtrace.record
    qbtrace.record.install("tokens.jsonl")          # early, e.g. in the app's settings

or, without touching the app (like `coverage run`):

    python -m qbtrace.record -o tokens.jsonl -- app.py ARGS
    python -m qbtrace.record -o tokens.jsonl -- -m celery -A proj worker

Every token, authorize, callback, revoke and disconnect request the app makes with
`requests` or `httpx` becomes one capture record (docs/capture-format.md) holding tags, never
the values. Workers forked later (multiprocessing, gunicorn, Celery prefork) append to the
same file. The recorder never changes a request or its answer and never raises into the app.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

from qbtrace.profile import Profile
from qbtrace.record.recorder import Clock, Recorder

__all__ = ["Recorder", "active", "install", "process_startup", "uninstall"]
_active: Recorder | None = None
ENV_CAPTURE = "QBTRACE_RECORD"
ENV_CONFIG = "QBTRACE_RECORD_CONFIG"
ENV_EXPLAIN = "QBTRACE_RECORD_EXPLAIN"
_fork_hook = False


def install(
    path: str | os.PathLike[str],
    *,
    profile: Profile | None = None,
    key: bytes | None = None,
    clock: Clock | None = None,
    explain: bool | None = None,
) -> Recorder:
    """Start recording into `path` (appended to, created 0600) and return the recorder.

    `profile` names the providers' endpoints (the built-in providers by default; see
    `qbtrace.config.load_profile` for a qbtrace.toml); `key` is the tag key (QBTRACE_TAG_KEY
    or the user's kept key by default; share it to correlate with other captures); `clock`
    gives Unix seconds (`time.time` by default). OSError when the file cannot be written:
    the one error `install` raises, at start-up, never later. Installing again switches to
    the new file. `explain` (QBTRACE_RECORD_EXPLAIN=1 by default) tells each failed token
    request's cause in one line on stderr, as `qbtrace proxy` does, in forked workers too.
    """
    global _active, _fork_hook
    recorder = Recorder.open(Path(os.path.expanduser(path)), profile, key, clock or time.time)
    if explain is None:
        explain = os.environ.get(ENV_EXPLAIN) == "1"
    if explain:
        recorder.explain()
    previous, _active = _active, recorder
    if previous is not None:
        previous.close()
    _hook_libraries()
    if not _fork_hook:
        os.register_at_fork(after_in_child=_after_fork)
        _fork_hook = True
    return recorder


def uninstall() -> None:
    """Stop recording and put the libraries' own `send` back."""
    global _active
    for name in ("qbtrace.record.hook_requests", "qbtrace.record.hook_httpx"):
        hook = sys.modules.get(name)
        if hook is not None:
            hook.uninstall()
    recorder, _active = _active, None
    if recorder is not None:
        recorder.close()


def process_startup() -> Recorder | None:
    """Install the recorder when QBTRACE_RECORD names a capture (and QBTRACE_RECORD_CONFIG a
    qbtrace.toml); None otherwise or when it cannot be. For interpreters started afresh
    (multiprocessing's spawn and forkserver, subprocesses): `python -m qbtrace.record` sets
    the variables, and a `.pth` line or sitecustomize calling this picks them up, as with
    coverage's `process_startup`. Never raises: a child must start whatever happens here."""
    path = os.environ.get(ENV_CAPTURE)
    if not path or _active is not None:
        return _active
    try:
        from qbtrace.config import load_profile

        config = os.environ.get(ENV_CONFIG)
        profile = load_profile(Path(config), local=False) if config else None
        return install(path, profile=profile)
    except Exception as exc:  # the process must start; say why it records nothing
        _say(f"qbtrace.record: not recording in this process ({exc})")
        return None


def _say(line: str) -> None:
    """One line on stderr, never raising: the path or the error may hold an ANSI escape or
    a newline from the environment, shown as `\\x1b`, `\\n` (`terminal_line`)."""
    try:
        from qbtrace.render.view import terminal_line

        sys.stderr.write(terminal_line(line) + "\n")
    except Exception:  # a closed or broken stderr: the app starts all the same
        pass


def active() -> Recorder | None:
    """The recorder in use in this process, or None."""
    return _active


def _hook_libraries() -> None:
    """Wrap the libraries that are installed; one the app does not have is not imported."""
    if importlib.util.find_spec("requests") is not None:
        from qbtrace.record import hook_requests

        hook_requests.install(active)
    if importlib.util.find_spec("httpx") is not None:
        from qbtrace.record import hook_httpx

        hook_httpx.install(active)


def _after_fork() -> None:
    if _active is not None:
        _active.after_fork()

"""mitmproxy's master for `qbtrace proxy`: the addons mitmdump runs, qbtrace's capture
addon, and a startup check that turns what mitmproxy logs as an error while starting (a busy
port, a port not ours to bind, a capture that cannot be written) into one `ProxyError`
instead of mitmdump's "Error logged during startup, exiting...".

Imported only by `qbtrace.proxy.run_proxy`: mitmproxy is heavy, and `qbtrace analyze` must
start fast.
"""

from __future__ import annotations

import asyncio
import difflib
import errno
import re
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from mitmproxy import addons, exceptions, master, options
from mitmproxy.addons import dumper, errorcheck, termlog

from qbtrace.proxy import CA_NAME, ProxyError, Say, listening_line, setup_text

if TYPE_CHECKING:
    from qbtrace.proxy import ProxySettings


class StartupCheck(errorcheck.ErrorCheck):
    """mitmproxy's own startup check (the master looks it up by this name), raising the
    first error instead of exiting the interpreter."""

    name = "errorcheck"

    async def shutdown_if_errored(self) -> None:
        await asyncio.sleep(0)  # let pending log records arrive, as ErrorCheck does
        if self.logger.has_errored:
            record = self.logger.has_errored[0]
            raise ProxyError(startup_problem(record.getMessage()))


BIND_ERRORS = {
    errno.EADDRINUSE: "{where} is already in use (another proxy running?): choose another "
    "--port, or 0 for any free one",
    errno.EACCES: "not allowed to listen on {where} (ports below 1024 need root): choose "
    "another --port",
    errno.EADDRNOTAVAIL: "cannot listen on {where}: no such address on this machine",
}
LISTEN = re.compile(r"listen on (?P<where>\S+?) with \[Errno (?P<errno>\d+)\]")


def startup_problem(message: str) -> str:
    """mitmproxy's startup error as one line that says what to do."""
    found = LISTEN.search(message)
    if found is not None and int(found["errno"]) in BIND_ERRORS:
        return BIND_ERRORS[int(found["errno"])].format(where=found["where"])
    first = (message.strip().splitlines() or ["mitmproxy failed"])[0]
    return f"mitmproxy could not start: {first}"


class ProxyMaster(master.Master):
    """A master that says it listens only once its servers are up and startup is clean."""

    def __init__(self, opts: options.Options, settings: ProxySettings, out: Path, say: Say):
        # mitmproxy's terminal log starts once we listen: a startup error is said once, by us
        super().__init__(opts, with_termlog=False)
        self.settings, self.out, self.say = settings, out, say
        self.finished = False

    async def done(self) -> None:
        self.finished = True
        await super().done()

    async def running(self) -> None:
        await super().running()
        check = self.addons.get("errorcheck")
        if check is not None:
            await check.shutdown_if_errored()
        self._termlog_addon = termlog.TermLog()
        self.addons.add(self._termlog_addon)
        self.options.update(termlog_verbosity=_verbosity(self.settings))
        proxyserver = self.addons.get("proxyserver")
        addrs = proxyserver.listen_addrs() if proxyserver is not None else []
        host, port = (addrs[0][0], addrs[0][1]) if addrs else (self.settings.host, 0)
        shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        url = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
        self.say(listening_line(url, self.out))
        if not self.settings.quiet:
            ca = Path(self.options.confdir).expanduser() / CA_NAME
            self.say(setup_text(url, self.out, ca))


def _configure(opts: options.Options, settings: ProxySettings, out: Path) -> None:
    """Our defaults first, then the user's `name=value` options over them."""
    ours: dict[str, object] = {
        "listen_host": settings.host,
        "listen_port": settings.port,
        "qbtrace_config": str(settings.config or ""),
    }
    if settings.mitmproxy_log:
        ours["flow_detail"] = 1  # an option of the Dumper, which is there only then
    for item in settings.options:
        name = item.partition("=")[0].strip()
        if name not in opts:
            near = difflib.get_close_matches(name, sorted(opts.keys()), n=2, cutoff=0.7)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            raise ProxyError(f"--set {name}: no such mitmproxy option{hint}")
    try:
        opts.update(**ours)
    except (exceptions.OptionsError, KeyError) as exc:
        raise ProxyError(_one_line(exc)) from None
    for item in settings.options:
        try:
            opts.set(item)
        except (exceptions.OptionsError, KeyError) as exc:
            raise ProxyError(f"--set {item.partition('=')[0]}: {_one_line(exc)}") from None
    try:  # last, so that the capture is opened once, knowing whether it keeps raw values
        opts.update(qbtrace_capture=str(out))
    except exceptions.OptionsError as exc:
        raise ProxyError(_one_line(exc)) from None


def _quiet_cancelled(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)


def _verbosity(settings: ProxySettings) -> str:
    return "error" if settings.quiet else "info" if settings.mitmproxy_log else "warn"


def _one_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


async def serve(settings: ProxySettings, out: Path, say: Say) -> None:
    """Configure, listen, serve until SIGINT or SIGTERM; ProxyError for startup problems."""
    from qbtrace.addons.qbtrace_capture import QbtraceCapture

    opts = options.Options()
    proxy = ProxyMaster(opts, settings, out, say)
    proxy.addons.add(*addons.default_addons(), StartupCheck(), QbtraceCapture())
    if settings.mitmproxy_log:
        proxy.addons.add(dumper.Dumper())
    try:
        _configure(opts, settings, out)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, proxy.shutdown)
        await proxy.run()
        # connections still open at Ctrl-C are cancelled as the loop closes; asyncio would
        # print a traceback for each (a kept-alive client), which is no error
        loop.set_exception_handler(_quiet_cancelled)
    finally:
        proxy.addons.get("errorcheck").finish()
        if not proxy.finished:  # startup failed: close the capture, remove the log handlers
            await proxy.done()

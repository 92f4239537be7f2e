"""Firefox ESR (Debian's `firefox-esr`) driven headless over Marionette; its HAR is its own.

No geckodriver: Marionette is a plain socket protocol (`<length>:<json>` frames, commands as
`[0, id, name, params]`). The profile is fresh: mitmproxy's CA is imported with `certutil`
(Debian `libnss3-tools`), the provider's and the app's hosts go through mitmdump by the
profile's proxy prefs, and `localhost` does not (`network.proxy.allow_hijacking_localhost`
stays false, Firefox's default).

The HAR is written by the Network panel's own "Save All As HAR" (`HarMenuUtils.saveAllAsHar`
on the panel's displayed requests and connector, as the toolbar menu item calls it). The one
thing not done by Firefox is the click in the save dialog: headless there is no dialog, so
the script answers DevTools' `showSaveFileDialog` with the target file, and the exporter
writes it itself. The panel is opened before the first navigation, with persistent logs on,
so one file holds the whole flow (the prefs-only auto-export writes one file per page load).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"
PREFS = {
    "network.proxy.type": 1,
    "network.proxy.share_proxy_settings": True,
    "network.proxy.no_proxies_on": "",
    "network.proxy.allow_hijacking_localhost": False,
    "devtools.netmonitor.persistlog": True,
    "devtools.toolbox.host": "window",
    "devtools.netmonitor.har.compress": False,
    "devtools.netmonitor.har.forceExport": True,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "extensions.update.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.search.update": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "security.enterprise_roots.enabled": False,
}
OPEN_NETMONITOR = """
const { require } = ChromeUtils.importESModule("resource://devtools/shared/loader/Loader.sys.mjs");
const { gDevTools } = require("devtools/client/framework/devtools");
const win = Services.wm.getMostRecentWindow("navigator:browser");
await gDevTools.showToolboxForTab(win.gBrowser.selectedTab, { toolId: "netmonitor" });
return true;
"""
SAVE_ALL_AS_HAR = """
const [path] = arguments;
const { require } = ChromeUtils.importESModule("resource://devtools/shared/loader/Loader.sys.mjs");
const { gDevTools } = require("devtools/client/framework/devtools");
const { FileUtils } = ChromeUtils.importESModule("resource://gre/modules/FileUtils.sys.mjs");
// The user's answer to the save dialog: this file. Headless there is no dialog, so the
// file picker component is one that answers at once.
let asked = 0;
const picker = {
  QueryInterface: ChromeUtils.generateQI(["nsIFilePicker"]),
  modeSave: Ci.nsIFilePicker.modeSave,
  filterAll: Ci.nsIFilePicker.filterAll,
  defaultString: "",
  defaultExtension: "",
  filterIndex: 0,
  init() {},
  appendFilter() {},
  appendFilters() {},
  get file() { return new FileUtils.File(path); },
  open(done) {
    asked += 1;
    const ok = Ci.nsIFilePicker.returnOK;
    typeof done === "function" ? done(ok) : done.done(ok);
  },
};
Components.manager.QueryInterface(Ci.nsIComponentRegistrar).registerFactory(
  Components.ID("{b7e3c0de-5a1e-4f00-9d2a-0f1ae5a4e001}"),
  "qbtrace: the save dialog's answer",
  "@mozilla.org/filepicker;1",
  { createInstance: iid => picker.QueryInterface(iid) },
);
const win = Services.wm.getMostRecentWindow("navigator:browser");
const toolbox = gDevTools.getToolboxForTab(win.gBrowser.selectedTab);
// The panel's own modules (its BrowserLoader), as its toolbar menu uses them.
const panel = toolbox.getPanel("netmonitor").panelWin;
const { HarMenuUtils } = panel.windowRequire("devtools/client/netmonitor/src/har/har-menu-utils");
const { getDisplayedRequests } = panel.windowRequire(
  "devtools/client/netmonitor/src/selectors/index"
);
// The panel hears of each request, and of its answer, a moment after the page does (longer
// on a busy machine): wait until every request has an answer and no new one came for 1 s.
let requests = getDisplayedRequests(panel.store.getState());
for (let i = 0, calm = 0; i < 200 && calm < 10; i++) {
  await new Promise(resolve => win.setTimeout(resolve, 100));
  const now = getDisplayedRequests(panel.store.getState());
  const done = !now.some(r => !r.status || !r.totalTime);
  calm = done && now.length === requests.length ? calm + 1 : 0;
  requests = now;
}
await HarMenuUtils.saveAllAsHar(requests, panel.connector);
return [requests.length, asked];
"""


class Marionette:
    """The few Marionette commands the scenarios need."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""
        self.msg_id = 0
        self._read()  # the server's hello
        self.command("WebDriver:NewSession", {"capabilities": {"alwaysMatch": {}}})

    def _read(self) -> Any:
        while b":" not in self.buf:
            self.buf += self._recv()
        size, _, rest = self.buf.partition(b":")
        while len(rest) < int(size):
            rest += self._recv()
        self.buf = rest[int(size) :]
        return json.loads(rest[: int(size)])

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("Marionette closed the connection")
        return chunk

    def command(self, name: str, params: dict[str, Any] | None = None) -> Any:
        self.msg_id += 1
        data = json.dumps([0, self.msg_id, name, params or {}]).encode()
        self.sock.sendall(str(len(data)).encode() + b":" + data)
        while True:
            _, msg_id, error, result = self._read()
            if msg_id == self.msg_id:
                break
        if error:
            raise RuntimeError(f"{name}: {error}")
        return result

    def script(self, body: str, *args: Any, chrome: bool = False) -> Any:
        self.command("Marionette:SetContext", {"value": "chrome" if chrome else "content"})
        wrapped = f"return (async () => {{ {body} }})(...arguments);"
        return self.command("WebDriver:ExecuteScript", {"script": wrapped, "args": list(args)})[
            "value"
        ]

    def navigate(self, url: str) -> None:
        self.command("Marionette:SetContext", {"value": "content"})
        self.command("WebDriver:Navigate", {"url": url})

    def url(self) -> str:
        self.command("Marionette:SetContext", {"value": "content"})
        return str(self.command("WebDriver:GetCurrentURL")["value"])

    def title(self) -> str:
        self.command("Marionette:SetContext", {"value": "content"})
        return str(self.command("WebDriver:GetTitle")["value"])

    def wait_for_title(self, prefix: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while not (title := self.title()).startswith(prefix):
            if time.monotonic() > deadline:
                raise RuntimeError(f"page title {title!r} never began with {prefix!r}")
            time.sleep(0.1)
        return title

    def click(self, css: str) -> None:
        self.command("Marionette:SetContext", {"value": "content"})
        found = self.command("WebDriver:FindElement", {"using": "css selector", "value": css})
        element = found["value"]
        self.command("WebDriver:ElementClick", {"id": next(iter(element.values()))})


def _profile(directory: Path, proxy_url: str, ca_path: str, marionette_port: int) -> None:
    proxy = urlsplit(proxy_url)
    prefs = {
        **PREFS,
        "network.proxy.http": proxy.hostname,
        "network.proxy.http_port": proxy.port,
        "network.proxy.ssl": proxy.hostname,
        "network.proxy.ssl_port": proxy.port,
        "marionette.port": marionette_port,
    }
    lines = [f"user_pref({json.dumps(k)}, {json.dumps(v)});" for k, v in prefs.items()]
    (directory / "user.js").write_text("\n".join(lines) + "\n")
    subprocess.run(["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-n", "mitmproxy", "-t", "C,,", "-i", ca_path, "-d", f"sql:{directory}"],
        check=True,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _connect(port: int, proc: subprocess.Popen[bytes]) -> Marionette:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"firefox exited early with {proc.returncode}")
        with contextlib.suppress(OSError):
            return Marionette(port)
        time.sleep(0.2)
    raise RuntimeError("Marionette did not answer within 60 s")


@contextlib.contextmanager
def firefox(proxy_url: str, ca_path: str, tz: str = "America/Los_Angeles") -> Iterator[Marionette]:
    """A headless Firefox on a fresh profile, its Network panel open; yields the session.

    `tz` is the user's time zone: Firefox writes `startedDateTime` in local time.
    """
    with tempfile.TemporaryDirectory(prefix="qbt-ff-") as tmp:
        profile = Path(tmp)
        port = _free_port()
        _profile(profile, proxy_url, ca_path, port)
        env = {**os.environ, "MOZ_HEADLESS": "1", "TZ": tz}
        argv = [FIREFOX, "--headless", "--marionette", "-remote-allow-system-access"]
        argv += ["--no-remote", "--profile", str(profile)]
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            session = _connect(port, proc)
            session.script(OPEN_NETMONITOR, chrome=True)
            yield session
            with contextlib.suppress(OSError, RuntimeError):
                session.command("Marionette:Quit", {"flags": ["eForceQuit"]})
        finally:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def save_all_as_har(session: Marionette, path: str) -> int:
    """The Network panel's "Save All As HAR" into `path`; returns how many requests it held."""
    if os.path.exists(path):
        os.unlink(path)
    count, asked = session.script(SAVE_ALL_AS_HAR, path, chrome=True)
    if not asked:
        raise RuntimeError("Save All As HAR did not ask where to save")
    deadline = time.monotonic() + 30
    while not os.path.exists(path):  # the exporter does not wait for its own write
        if time.monotonic() > deadline:
            raise RuntimeError("Firefox wrote no HAR within 30 s")
        time.sleep(0.1)  # IOUtils writes a .tmp file and renames it: no partial file here
    return int(count)

"""Record the application logs of real-client runs, with the capture of the same run.

    python tests/realclients/record_logs.py [names...]   (default: LOGGED)

Each scenario runs as `record.py` records it (mitmdump with the emulator), with QBT_APP_LOG
set, so the clients log as production apps do: the Python side writes Python `logging`
plain text (`python.log`) and JSON lines (`python.jsonl`) with intuitlib's exceptions; the
Node side turns on the SDK's `logging: true` winston file (`oAuthClient-log.log`) and logs
its errors with pino (`pino.log`). Into tests/data/golden/logs/: `<name>.har`,
`<name>.mitm`, `<name>.expect.json` and `<name>.<log file>` for each log the run wrote.
The logs hold what the SDKs write, tokens in clear included (the emulator's, not Intuit's);
only the recording machine's folders in traceback paths are rewritten to `/srv/app` (the
checkout) and `/srv/venv` (the Python environment), so no local path is committed.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from record import GOLDEN, record  # noqa: E402

OUT = GOLDEN / "logs"
LOGGED = (
    "refresh_token_superseded",
    "refresh_race",
    "mixed",
    "healthy_node",
    "refresh_response_lost",
    "provider_outage",
)
NODE_FILE = HERE / "node" / "logs" / "oAuthClient-log.log"
FILES = ("python.log", "python.jsonl", "pino.log")


def record_logged(name: str, confdir: str) -> list[str]:
    """Record one scenario with its app logs; the names of the log files written."""
    with tempfile.TemporaryDirectory(prefix=f"qbt-logs-{name}-") as folder:
        NODE_FILE.unlink(missing_ok=True)
        os.environ["QBT_APP_LOG"] = folder
        try:
            record(name, confdir, OUT)
        finally:
            del os.environ["QBT_APP_LOG"]
        written = []
        for file in FILES:
            src = Path(folder, file)
            if src.exists() and src.stat().st_size:
                _copy(src, OUT / f"{name}.{file}")
                written.append(f"{name}.{file}")
        if NODE_FILE.exists():
            _copy(NODE_FILE, OUT / f"{name}.oAuthClient-log.log")
            written.append(f"{name}.oAuthClient-log.log")
            NODE_FILE.unlink()
        return written


def _copy(src: Path, dst: Path) -> None:
    text = src.read_text(encoding="utf-8")
    for local, shown in ((sys.prefix, "/srv/venv"), (str(HERE.parent.parent), "/srv/app")):
        text = text.replace(local, shown)
    dst.write_text(text, encoding="utf-8")


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="qbt-conf-") as conf:
        for name in argv or LOGGED:
            print(name, record_logged(name, conf), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

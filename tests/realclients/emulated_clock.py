"""Run `pyclient.py` with the in-app recorder on the emulator's clock.

    python -m qbtrace.record -o tokens.jsonl -- emulated_clock.py pyclient.py <part> <json>

In production the app and Intuit share one clock. In the scenarios the emulator moves its
clock forward (`/clock/advance`) and stamps the proxy's flows with it, so the app under the
recorder must see the same time: this wrapper reads the emulator's shift at start and after
every control call the app makes, and gives the recorder `time.time() + shift`. The app
itself (`pyclient.main`) runs unchanged.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyclient

import qbtrace.record

shift = [0.0]
_control = pyclient.control


def control(path: str, **body: Any) -> dict[str, Any]:
    result = _control(path, **body)
    if "shift" in result:
        shift[0] = float(result["shift"])
    return result


def main() -> None:
    recorder = qbtrace.record.active()
    if recorder is None:
        raise SystemExit("run me under python -m qbtrace.record")
    pyclient.control = control
    control("/clock")
    recorder.clock = lambda: time.time() + shift[0]
    sys.argv = sys.argv[1:]  # pyclient.py <part> <json args>, as the scenarios pass them
    pyclient.main()


if __name__ == "__main__":
    main()

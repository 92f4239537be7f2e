"""What every SDK driver subprocess shares: the emulator's control API and the result log.

The drivers run with HTTPS_PROXY/HTTP_PROXY set, so a plain `requests` call to
`http://emulator.control/...` goes through mitmdump to the emulator.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import Any

import requests

log: list[dict[str, Any]] = []


def control(path: str, **body: Any) -> dict[str, Any]:
    r = requests.post(f"http://emulator.control{path}", json=body, timeout=10)
    r.raise_for_status()
    result: dict[str, Any] = r.json()
    return result


def advance(seconds: float) -> None:
    control("/clock/advance", seconds=seconds)


def main(parts: Mapping[str, Callable[[dict[str, Any]], Any]]) -> None:
    """`python <driver>.py <part> '<json args>'`: run one part, print its log and result."""
    part, args = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
    result = parts[part](args)
    print(json.dumps({"part": part, "log": log, "result": result}))

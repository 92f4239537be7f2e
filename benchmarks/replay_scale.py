"""Work on hostile repetition: one refresh token replayed N and 4N times after it rotated.

    python benchmarks/replay_scale.py [N]        (default 4000)

An app stuck on a superseded token can send it thousands of times; every failure is
explained, and the rules that look back over the token's earlier requests (race, lost
answer) look back a bounded number of requests. Prints the seconds of `qbtrace analyze
--format json` (a child process) for N and 4N replays and their ratio: about 4 for work
linear in the input, 16 for quadratic.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bytecode

from qbtrace.capture import CaptureWriter, encode_line, exchange_record, make_header
from qbtrace.model import Kind, RawParts, Ref
from qbtrace.redact import Redactor
from qbtrace.sources.build import build_exchange

T0 = 1_800_000_000.0
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
BASIC = "Basic " + base64.b64encode(b"ABclient:secret0123456789").decode()
ISSUED = (
    '{"access_token":"eyJa","refresh_token":"RT1-new-0000000000000000000000000",'
    '"expires_in":3600,"x_refresh_token_expires_in":8726400}'
)


def parts(i: int, status: int, body: str) -> RawParts:
    return RawParts(
        "POST",
        TOKEN_URL,
        T0 + i,
        T0 + i + 0.2,
        [("Authorization", BASIC), ("Content-Type", "application/x-www-form-urlencoded")],
        "grant_type=refresh_token&refresh_token=RT1-old-0000000000000000000000000",
        status,
        [("intuit_tid", f"1-{int(T0 + i):08x}-0a1b2c3d4e5f60718293a4b5")],
        body,
    )


def capture(n: int, path: Path) -> None:
    redactor = Redactor(b"replay-scale")
    writer = CaptureWriter.open(path)
    writer.write(encode_line(make_header(redactor, False)))
    every = [parts(0, 200, ISSUED)]
    every += [parts(i + 1, 400, '{"error":"invalid_grant"}') for i in range(n)]
    for i, p in enumerate(every):
        x = build_exchange(Ref(path.name, i + 1), Kind.TOKEN, p, redactor)
        writer.write(encode_line(exchange_record(x)))
    writer.close()


def seconds(path: Path) -> float:
    env = {**os.environ, "QBTRACE_TAG_KEY": "replay-scale"}
    argv = [sys.executable, "-m", "qbtrace", "analyze", str(path), "--format", "json"]
    start = time.perf_counter()
    subprocess.run([*argv, "-o", os.devnull], env=env, check=False, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    bytecode.compiled()  # the child starts as an installed qbtrace does
    with tempfile.TemporaryDirectory() as tmp:
        took = []
        for size in (n, 4 * n):
            path = Path(tmp, f"replay-{size}.jsonl")
            capture(size, path)
            took.append(seconds(path))
            print(f"{size:>7} replays of one token: {took[-1]:6.2f} s")
    print(f"ratio for 4x the input: {took[1] / took[0]:.2f} (linear: about 4)")


if __name__ == "__main__":
    main()

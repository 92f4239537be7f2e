"""Flows/s of `read_mitm` against mitmproxy's `FlowReader` on the same generated flow file.

    python benchmarks/mitm_read.py [FLOWS]        (default 20000)

The file is written with mitmproxy's own FlowWriter: unrelated HTTPS flows with response
bodies of 1–50 KB (JSON and binary) and about 1% QuickBooks token requests. Each reader is
timed on the same file in the same run, at full size and 10× smaller.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path

from mitmproxy import http, io
from mitmproxy.test import tflow

from qbtrace.profile import Profile
from qbtrace.redact import Redactor
from qbtrace.sources.mitm import read_mitm

TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"


def unrelated(rng: random.Random) -> http.HTTPFlow:
    f = tflow.tflow(resp=True)
    f.request.url = f"https://quickbooks.api.intuit.com/v3/company/{rng.randrange(10**9)}/query"
    assert f.response is not None
    size = rng.randrange(1_000, 50_000)
    if rng.random() < 0.3:
        f.response.content = os.urandom(size)
        f.response.headers["content-type"] = "image/png"
    else:
        f.response.content = (b'{"QueryResponse":{"Invoice":[' + b'{"Id":"1"},' * (size // 11))[
            :size
        ]
    return f


def token(rng: random.Random) -> http.HTTPFlow:
    f = tflow.tflow(resp=True)
    rt = f"RT1-{rng.randrange(10**12)}-H0-{rng.randrange(10**10)}"
    f.request = http.Request.make(
        "POST",
        TOKEN_URL,
        f"grant_type=refresh_token&refresh_token={rt}".encode(),
        {"content-type": "application/x-www-form-urlencoded", "authorization": "Basic QUI6Y2Q="},
    )
    f.response = http.Response.make(400, b'{"error":"invalid_grant"}', {})
    return f


def generate(path: Path, flows: int) -> None:
    rng = random.Random(7)
    with path.open("wb") as out:
        writer = io.FlowWriter(out)
        for _ in range(flows):
            writer.add(token(rng) if rng.random() < 0.01 else unrelated(rng))


def time_read_mitm(path: Path) -> tuple[float, int, int]:
    started = time.perf_counter()
    got = read_mitm(path, path.name, Profile(), Redactor(b"bench"))
    return time.perf_counter() - started, got.entries, len(got.exchanges)


def time_flow_reader(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    with path.open("rb") as handle:
        count = sum(1 for _ in io.FlowReader(handle).stream())
    return time.perf_counter() - started, count


def measure(path: Path, flows: int) -> None:
    generate(path, flows)
    size = path.stat().st_size / 1e6
    ours, entries, matched = time_read_mitm(path)
    theirs, count = time_flow_reader(path)
    assert entries == count == flows, (entries, count, flows)
    print(f"{flows} flows, {size:.0f} MB, {matched} token requests")
    print(f"  read_mitm : {flows / ours:10,.0f} flows/s  ({size / ours:7.1f} MB/s, {ours:.2f} s)")
    print(
        f"  FlowReader: {flows / theirs:10,.0f} flows/s  ({size / theirs:7.1f} MB/s, "
        f"{theirs:.2f} s)"
    )
    print(f"  ratio     : {theirs / ours:.1f}x")


def main() -> None:
    flows = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        for n in (flows // 10, flows):
            measure(Path(tmp) / f"bench-{n}.mitm", n)


if __name__ == "__main__":
    main()

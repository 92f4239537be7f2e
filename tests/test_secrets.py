"""No raw secret in any output: every token, code, state, client secret, Basic credential,
bearer and cookie in the golden real-client HARs, plus synthetic planted values, is searched
for in the text, json, csv and html outputs, the --events parquet file and stderr."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import polars as pl
import pytest

from qbtrace.redact import PLACEHOLDERS
from tests.conftest import GOLDEN, run_cli
from tests.strategies import PLANT, scenario

SECRET_FIELDS = {
    "code",
    "refresh_token",
    "access_token",
    "id_token",
    "client_secret",
    "token",
    "state",
    "client_assertion",
    "code_verifier",
    "password",
}
MIN_LENGTH = 10
"""Shorter values (placeholders, '' , 'x') could occur in an output by coincidence."""


def _fields(text: str) -> Iterator[tuple[str, str]]:
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return
        if isinstance(data, dict):
            yield from ((str(k), v) for k, v in data.items() if isinstance(v, str))
        return
    yield from parse_qsl(text, keep_blank_values=True)


def _from_headers(headers: Any) -> Iterator[str]:
    for header in headers if isinstance(headers, list) else []:
        name = str(header.get("name", "")).lower()
        value = str(header.get("value", ""))
        if name == "authorization":
            scheme, _, credential = value.partition(" ")
            yield credential.strip()
            if scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(credential.strip()).decode("utf-8", "replace")
                except (binascii.Error, ValueError):
                    continue
                secret = decoded.partition(":")[2].strip()
                # no secret (no colon, empty, a placeholder): only a client id, which is no secret
                if len(secret) >= MIN_LENGTH and secret.lower() not in PLACEHOLDERS:
                    yield decoded
                    yield secret
        elif name in ("cookie", "set-cookie"):
            yield value
            for part in value.split(";"):
                yield part.partition("=")[2].strip()
        elif name == "location":
            yield from (v for k, v in parse_qsl(urlsplit(value).query) if k in SECRET_FIELDS)


def har_secrets(path: Path) -> set[str]:
    """Every raw secret value one HAR holds."""
    data = json.loads(path.read_bytes().decode("utf-8-sig"))
    found: set[str] = set()
    for entry in data["log"]["entries"]:
        request, response = entry.get("request") or {}, entry.get("response") or {}
        found.update(_from_headers(request.get("headers")))
        found.update(_from_headers(response.get("headers")))
        query = parse_qsl(urlsplit(request.get("url", "")).query)
        found.update(v for k, v in query if k in SECRET_FIELDS)
        post = request.get("postData") or {}
        body = post.get("text") or ""
        if post.get("encoding") == "base64":
            body = base64.b64decode(body).decode("utf-8", "replace")
        found.update(v for k, v in _fields(body) if k in SECRET_FIELDS)
        for param in post.get("params") or []:
            if param.get("name") in SECRET_FIELDS:
                found.add(str(param.get("value", "")))
        content = response.get("content") or {}
        text = content.get("text") or ""
        if content.get("encoding") == "base64":
            text = base64.b64decode(text).decode("utf-8", "replace")
        found.update(v for k, v in _fields(text) if k in SECRET_FIELDS)
    return {
        s.strip().strip("\"'")
        for s in found
        if len(s.strip().strip("\"'")) >= MIN_LENGTH and s.strip().lower() not in PLACEHOLDERS
    }


def outputs(paths: list[Path], folder: Path, *extra: str) -> dict[str, str]:
    """Every output of `qbtrace analyze` for these inputs, as text, keyed by its name."""
    found: dict[str, str] = {}
    stderr = []
    for fmt in ("text", "json", "csv", "html"):
        target = folder / f"out.{fmt}"
        args: list[str | Path] = ["analyze", *paths, "--format", fmt, "-o", target, *extra]
        if fmt == "json":
            args += ["--events", folder / "events.parquet"]
        proc = run_cli(*args, check=False)
        assert proc.returncode in (0, 1), proc.stderr
        found[fmt] = target.read_text() + proc.stdout
        stderr.append(proc.stderr)
    found["stderr"] = "\n".join(stderr)
    events = pl.read_parquet(folder / "events.parquet")
    assert events.height > 0
    found["events"] = events.write_csv() + events.write_ndjson()
    found["events-bytes"] = (folder / "events.parquet").read_bytes().decode("latin-1")
    return found


def leaks(found: dict[str, str], secrets: set[str]) -> list[tuple[str, str]]:
    return sorted((name, s[:12] + "…") for name, out in found.items() for s in secrets if s in out)


GOLDEN_HARS = sorted(GOLDEN.glob("*.har"))


@pytest.mark.skipif(not GOLDEN_HARS, reason="no golden HARs recorded")
def test_golden_hars_hold_secrets_to_plant() -> None:
    secrets = set().union(*(har_secrets(p) for p in GOLDEN_HARS))
    assert len(secrets) > 20, "the golden HARs should carry many tokens, codes and secrets"


@pytest.mark.skipif(not GOLDEN_HARS, reason="no golden HARs recorded")
@pytest.mark.parametrize("show_client_ids", [False, True])
def test_no_golden_secret_in_any_output(tmp_path: Path, show_client_ids: bool) -> None:
    secrets = set().union(*(har_secrets(p) for p in GOLDEN_HARS))
    extra = ("--show-client-ids",) if show_client_ids else ()
    found = outputs(GOLDEN_HARS, tmp_path, *extra)
    assert "findings" in found["json"]
    assert not leaks(found, secrets)


@pytest.mark.skipif(not GOLDEN_HARS, reason="no golden HARs recorded")
def test_no_golden_secret_from_flow_files(tmp_path: Path) -> None:
    flows = sorted(GOLDEN.glob("*.mitm"))
    if not flows:
        pytest.skip("no golden flow files recorded")
    pairs = [p for p in GOLDEN_HARS if p.with_suffix(".mitm") in flows]
    secrets = set().union(*(har_secrets(p) for p in pairs))
    found = outputs(sorted(flows), tmp_path)
    assert not leaks(found, secrets)


def test_no_planted_secret_in_any_output(tmp_path: Path) -> None:
    paths = []
    planted: set[str] = set()
    for seed in range(5):
        built = scenario(seed, noise=2)
        path = tmp_path / f"planted{seed}.har"
        path.write_bytes(built.bytes())
        paths.append(path)
        planted |= built.secrets
    assert planted == set().union(*(har_secrets(p) for p in paths)) & planted
    found = outputs(paths, tmp_path, "--show-client-ids")
    assert json.loads(found["json"])["findings"]
    assert not leaks(found, planted)
    assert not [name for name, out in found.items() if PLANT in out]

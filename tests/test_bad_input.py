"""Bad inputs through the real CLI: one line on stderr naming the file and the problem, exit 2,
no traceback; partly broken HARs give the readable entries plus a warning and exit 0."""

from __future__ import annotations

import base64
import gzip
import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.strategies import scenario

SCENARIO = scenario(7)
HAR_BYTES = SCENARIO.bytes()


def _token_entry(body: str, *, encoding: str | None = None, status: int = 400) -> dict[str, object]:
    content: dict[str, object] = {"size": len(body), "mimeType": "application/json", "text": body}
    if encoding:
        content["encoding"] = encoding
    return {
        "startedDateTime": "2026-01-02T03:04:05.000Z",
        "time": 12.5,
        "request": {
            "method": "POST",
            "url": "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
            "headers": [
                {"name": "Content-Type", "value": "application/x-www-form-urlencoded"},
                {"name": "Authorization", "value": "Basic " + base64.b64encode(b"id:sec").decode()},
            ],
            "postData": {
                "mimeType": "application/x-www-form-urlencoded",
                "text": "grant_type=refresh_token&refresh_token=RT-bad-input-0001",
            },
        },
        "response": {"status": status, "headers": [], "content": content},
    }


def _har(entries: list[object]) -> bytes:
    return json.dumps({"log": {"version": "1.2", "entries": entries}}).encode()


# name → file bytes; every one must be refused with one line and exit 2
REFUSED: dict[str, Callable[[], bytes]] = {
    "empty": lambda: b"",
    "whitespace_only": lambda: b" \n\t\n",
    "truncated_json_head": lambda: HAR_BYTES[:40],
    "not_json": lambda: b"hello, this is a plain text file\n",
    "json_not_har": lambda: b'{"name": "package", "version": "1.0"}',
    "json_array": lambda: b"[1, 2, 3]",
    "har_missing_entries": lambda: b'{"log": {"version": "1.2"}}',
    "har_log_wrong_type": lambda: b'{"log": "entries"}',
    "har_entries_wrong_type": lambda: b'{"log": {"entries": {"a": 1}}}',
    "utf16_garbage": lambda: b"\xff\xfe" + b"\x00\xd8" * 8,
    "latin1_text": lambda: "caf\xe9 cr\xe8me br\xfbl\xe9e\n".encode("latin-1"),
    "nul_bytes": lambda: b"\x00" * 4096,
    "binary_garbage": lambda: bytes(range(256)) * 16,
    "truncated_gzip": lambda: gzip.compress(HAR_BYTES)[:200],
    "gzip_of_garbage": lambda: gzip.compress(b"\x00\x01garbage" * 100),
    "zlib_garbage": lambda: b"x\x9c" + b"\xff" * 40,
}


def _one_line_error(proc: object, name: str) -> str:
    stderr: str = proc.stderr  # type: ignore[attr-defined]
    assert proc.returncode == 2, (proc.returncode, stderr)  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert name in lines[0], lines[0]
    assert lines[0].startswith("qbtrace: error: ")
    return lines[0]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused(tmp_path: Path, case: str) -> None:
    path = tmp_path / f"{case}.har"
    path.write_bytes(REFUSED[case]())
    line = _one_line_error(run_cli("analyze", path, check=False), path.name)
    assert len(line) < 400


def test_empty_names_problem(tmp_path: Path) -> None:
    path = tmp_path / "empty.har"
    path.write_bytes(b"")
    assert "empty" in _one_line_error(run_cli("analyze", path, check=False), "empty.har")


def test_not_a_har_names_problem(tmp_path: Path) -> None:
    path = tmp_path / "pkg.json"
    path.write_bytes(REFUSED["json_not_har"]())
    line = _one_line_error(run_cli("analyze", path, check=False), "pkg.json")
    assert "not a HAR" in line


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "captures"
    folder.mkdir()
    line = _one_line_error(run_cli("analyze", folder, check=False), "captures")
    assert "directory" in line


def test_missing_file(tmp_path: Path) -> None:
    line = _one_line_error(run_cli("analyze", tmp_path / "nope.har", check=False), "nope.har")
    assert "no such file" in line


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.har"
    path.write_bytes(HAR_BYTES)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running with privileges that read a mode-000 file (root)")
        line = _one_line_error(run_cli("analyze", path, check=False), "secret.har")
        assert "permission" in line
    finally:
        path.chmod(0o600)


def test_unreadable_parent(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    path = folder / "inside.har"
    path.write_bytes(HAR_BYTES)
    folder.chmod(0)
    try:
        if os.access(folder, os.R_OK | os.X_OK):
            pytest.skip("running with privileges that enter a mode-000 folder (root)")
        _one_line_error(run_cli("analyze", path, check=False), "inside.har")
    finally:
        folder.chmod(0o700)


def _findings(proc: object) -> list[dict[str, object]]:
    assert proc.returncode == 0, proc.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in proc.stderr  # type: ignore[attr-defined]
    data = json.loads(proc.stdout)  # type: ignore[attr-defined]
    findings: list[dict[str, object]] = data["findings"]
    return findings


def _reference() -> int:
    return len(SCENARIO.failed)


def test_gzip_of_har_reads_like_the_har(tmp_path: Path) -> None:
    path = tmp_path / "mixed.har.gz"
    path.write_bytes(gzip.compress(HAR_BYTES))
    proc = run_cli("analyze", path, "--format", "json", check=False)
    assert len(_findings(proc)) == _reference() > 0


def test_utf16_har_reads_like_the_har(tmp_path: Path) -> None:
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        path = tmp_path / f"mixed-{codec}.har"
        path.write_bytes(bom + HAR_BYTES.decode().encode(codec))
        proc = run_cli("analyze", path, "--format", "json", check=False)
        assert len(_findings(proc)) == _reference()


def test_utf8_bom_har(tmp_path: Path) -> None:
    path = tmp_path / "bom.har"
    path.write_bytes(b"\xef\xbb\xbf" + HAR_BYTES)
    assert len(_findings(run_cli("analyze", path, "--format", "json", check=False))) > 0


def test_truncated_har_keeps_readable_entries(tmp_path: Path) -> None:
    entries = [_token_entry('{"error":"invalid_grant"}') for _ in range(3)]
    data = _har(entries)
    cut = data.rfind(b'"startedDateTime"')
    path = tmp_path / "cut.har"
    path.write_bytes(data[:cut])
    proc = run_cli("analyze", path, "--format", "json", check=False)
    assert len(_findings(proc)) == 2
    assert "warning" in proc.stderr and "cut.har" in proc.stderr


def test_truncated_golden_har_keeps_readable_entries(tmp_path: Path) -> None:
    path = tmp_path / "half.har"
    path.write_bytes(HAR_BYTES[: len(HAR_BYTES) * 2 // 3])
    proc = run_cli("analyze", path, "--format", "json", check=False)
    findings = _findings(proc)
    assert 0 < len(findings) <= _reference()
    assert "half.har" in proc.stderr and "damaged" in proc.stderr


def test_har_with_missing_fields(tmp_path: Path) -> None:
    good = _token_entry('{"error":"invalid_grant"}')
    broken: list[object] = [
        {},
        {"request": None},
        {"request": {"url": 5}},
        {"request": {"method": "POST"}},
        "not an entry",
        17,
        None,
        {"request": {"method": "POST", "url": good["request"]["url"]}},  # type: ignore[index]
        {
            "request": {"method": "POST", "url": good["request"]["url"], "headers": "x"},  # type: ignore[index]
            "response": {"status": "400", "content": []},
            "startedDateTime": 12,
        },
        good,
    ]
    path = tmp_path / "holes.har"
    path.write_bytes(_har(broken))
    proc = run_cli("analyze", path, "--format", "json", check=False)
    findings = _findings(proc)
    assert any(f["request"]["index"] == 9 for f in findings)  # type: ignore[index]
    assert "holes.har" in proc.stderr and "skipped" in proc.stderr


def test_invalid_base64_content(tmp_path: Path) -> None:
    entry = _token_entry("!!!not base64!!!", encoding="base64")
    fine = _token_entry(base64.b64encode(b'{"error":"invalid_grant"}').decode(), encoding="base64")
    path = tmp_path / "b64.har"
    path.write_bytes(_har([entry, fine]))
    proc = run_cli("analyze", path, "--format", "json", check=False)
    findings = _findings(proc)
    assert {f["request"]["index"] for f in findings} == {0, 1}  # type: ignore[index]
    assert "base64" in proc.stderr and "b64.har" in proc.stderr


def test_nul_and_latin1_inside_har_strings(tmp_path: Path) -> None:
    entry = _token_entry('{"error":"invalid_grant","error_description":"caf\\u00e9\\u0000"}')
    entry["request"]["postData"]["text"] += "&x=\u0000\u00e9"  # type: ignore[index]
    path = tmp_path / "odd.har"
    path.write_bytes(_har([entry]))
    assert len(_findings(run_cli("analyze", path, "--format", "json", check=False))) == 1


def test_har_with_raw_latin1_bytes(tmp_path: Path) -> None:
    data = _har([_token_entry('{"error":"invalid_grant"}')])
    data = data.replace(b"RT-bad-input-0001", b"RT-bad-\xe9-0001")
    path = tmp_path / "latin.har"
    path.write_bytes(data)
    proc = run_cli("analyze", path, "--format", "json", check=False)
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:
        _one_line_error(proc, "latin.har")
    else:
        assert len(_findings(proc)) == 1


def test_reference_scenario(tmp_path: Path) -> None:
    path = tmp_path / "good.har"
    path.write_bytes(HAR_BYTES)
    findings = _findings(run_cli("analyze", path, "--format", "json", check=False))
    assert {f["request"]["index"] for f in findings} == SCENARIO.failed  # type: ignore[index]


def test_one_bad_input_among_good_ones(tmp_path: Path) -> None:
    good = tmp_path / "good.har"
    good.write_bytes(HAR_BYTES)
    bad = tmp_path / "bad.har"
    bad.write_bytes(b"nope")
    _one_line_error(run_cli("analyze", good, bad, check=False), "bad.har")


def test_unreadable_file_for_unprivileged_user() -> None:
    """As root a mode-000 file is readable, so run the CLI as `nobody` against one."""
    if os.geteuid() != 0:
        pytest.skip("only needed when the tests run as root (see test_unreadable_file)")
    import shutil
    import subprocess
    import sys
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="qbtrace-perm-"))
    try:
        folder.chmod(0o755)
        path = folder / "locked.har"
        path.write_bytes(HAR_BYTES)
        path.chmod(0)
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "qbtrace", "analyze", str(path)],
                capture_output=True,
                text=True,
                user=65534,
                group=65534,
                cwd=folder,
                env={**os.environ, "QBTRACE_TAG_KEY": "qbtrace-tests", "HOME": str(folder)},
            )
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"cannot switch to an unprivileged user here ({exc})")
        if "ModuleNotFoundError" in proc.stderr or "No module named" in proc.stderr:
            pytest.skip("the unprivileged user cannot import qbtrace from this checkout")
        assert "permission" in _one_line_error(proc, "locked.har")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_gzip_of_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nothing.har.gz"
    path.write_bytes(gzip.compress(b""))
    assert "empty" in _one_line_error(run_cli("analyze", path, check=False), "nothing.har.gz")


def test_deeply_nested_json(tmp_path: Path) -> None:
    path = tmp_path / "deep.har"
    path.write_bytes(b'{"log":{"entries":[' + b"[" * 200000 + b"]" * 200000 + b"]}}")
    assert "nested" in _one_line_error(run_cli("analyze", path, check=False), "deep.har")


def test_deeply_nested_token_response_body(tmp_path: Path) -> None:
    from tests.strategies import nested

    entries = [_token_entry(nested(100000)), _token_entry('{"error":"invalid_grant"}')]
    path = tmp_path / "deepbody.har"
    path.write_bytes(_har(entries))
    proc = run_cli("analyze", path, "--format", "json", check=False)
    assert {f["request"]["index"] for f in _findings(proc)} == {0, 1}  # type: ignore[index]
    assert "nested too deeply" in proc.stderr


def test_non_json_value_among_entries(tmp_path: Path) -> None:
    """`Infinity` (Python's json.dumps writes it) is not JSON: the entries around it still count."""
    data = _har([_token_entry('{"error":"invalid_grant"}')] * 3).replace(b"}}, {", b"}}, NaN, {", 1)
    path = tmp_path / "nan.har"
    path.write_bytes(data)
    proc = run_cli("analyze", path, "--format", "json", check=False)
    assert {f["request"]["index"] for f in _findings(proc)} == {0, 2, 3}  # type: ignore[index]
    assert "nan.har" in proc.stderr and "damaged" in proc.stderr


def test_gzip_variants(tmp_path: Path) -> None:
    """Several gzip members, trailing bytes, corruption in the middle."""
    cut = len(HAR_BYTES) // 2
    cases = {
        "members.har.gz": gzip.compress(HAR_BYTES[:cut]) + gzip.compress(HAR_BYTES[cut:]),
        "trailing.har.gz": gzip.compress(HAR_BYTES) + b"\x00\x00junk",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        proc = run_cli("analyze", path, "--format", "json", check=False)
        assert len(_findings(proc)) == _reference(), name
    packed = gzip.compress(HAR_BYTES)
    broken = tmp_path / "corrupt.har.gz"
    broken.write_bytes(packed[:40] + b"\xff" * 64 + packed[104:])
    assert "gzip" in _one_line_error(run_cli("analyze", broken, check=False), "corrupt.har.gz")


def test_har_on_a_pipe(tmp_path: Path) -> None:
    import subprocess
    import sys

    for name, data in (("plain", HAR_BYTES), ("gzip", gzip.compress(HAR_BYTES))):
        proc = subprocess.run(
            [sys.executable, "-m", "qbtrace", "analyze", "/dev/stdin", "--format", "json"],
            input=data,
            capture_output=True,
            env={**os.environ, "QBTRACE_TAG_KEY": "qbtrace-tests"},
            check=False,
        )
        assert proc.returncode == 0, (name, proc.stderr)
        assert len(json.loads(proc.stdout)["findings"]) == _reference(), name


def test_latin1_bytes_in_token_request_url_and_headers(tmp_path: Path) -> None:
    entry = _token_entry('{"error":"invalid_grant"}')
    entry["request"]["url"] += "?note=MARK-URL"  # type: ignore[index]
    entry["request"]["headers"].append({"name": "User-Agent", "value": "MARK-UA"})  # type: ignore[index]
    data = _har([entry, _token_entry('{"error":"invalid_grant"}')])
    data = data.replace(b"MARK-URL", b"caf\xe9").replace(b"MARK-UA", b"Agent \xe9\xff")
    path = tmp_path / "latin-url.har"
    path.write_bytes(data)
    proc = run_cli("analyze", path, "--format", "json", check=False)
    assert {f["request"]["index"] for f in _findings(proc)} == {0, 1}  # type: ignore[index]


def test_a_file_that_fails_to_read_is_one_line() -> None:
    """Root reads mode-000 files, but no one can read /proc/self/mem from offset 0 (EIO)."""
    proc = run_cli("analyze", "/proc/self/mem", check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "mem: cannot read" in proc.stderr


@pytest.mark.parametrize(
    "name, pack, said",
    [
        ("bomb.har.gz", lambda data: gzip.compress(data, 1), "the gzip data is larger than 8 MB"),
        ("bomb.zhar", lambda data: zlib.compress(data, 1), "the zlib data is larger than 8 MB"),
    ],
)
def test_compression_bombs_stop_at_the_cap(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    pack: Callable[[bytes], bytes],
    said: str,
) -> None:
    monkeypatch.setenv("QBTRACE_MAX_INPUT_MB", "8")
    path = tmp_path / name
    path.write_bytes(pack(HAR_BYTES[:-3] + b" " * (64 << 20) + HAR_BYTES[-3:]))
    line = _one_line_error(run_cli("analyze", path, check=False), name)
    assert said in line and "QBTRACE_MAX_INPUT_MB" in line


def test_the_cap_lets_a_large_enough_input_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QBTRACE_MAX_INPUT_MB", "1")
    path = tmp_path / "mixed.har.gz"
    path.write_bytes(gzip.compress(HAR_BYTES))
    assert len(HAR_BYTES) < 1 << 20
    assert len(_findings(run_cli("analyze", path, "--format", "json", check=False))) > 0


def test_utf16_inside_gzip_reads_like_the_har(tmp_path: Path) -> None:
    path = tmp_path / "fiddler.har.gz"
    path.write_bytes(gzip.compress(b"\xff\xfe" + HAR_BYTES.decode().encode("utf-16-le")))
    proc = run_cli("analyze", path, "--format", "json", check=False)
    assert len(_findings(proc)) == _reference()


def test_endless_inputs_stop_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    monkeypatch.setenv("QBTRACE_MAX_INPUT_MB", "16")
    line = _one_line_error(run_cli("analyze", "/dev/zero", check=False), "zero")
    assert "the input is larger than 16 MB (an endless stream or a device?)" in line
    for name in ("/dev/stdin", "-"):  # a pipe opened by name, and `-`
        endless = subprocess.Popen(["yes", "{"], stdout=subprocess.PIPE)
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "qbtrace", "analyze", name],
                stdin=endless.stdout,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        finally:
            endless.kill()
            endless.wait()
        _one_line_error(proc, "stdin")
        assert "larger than 16 MB" in proc.stderr


def _hostile(mutate: Callable[[dict[str, Any]], None]) -> bytes:
    entry = _token_entry(
        json.dumps({"access_token": "eyJ-at-1", "refresh_token": "RT1-new-1", "expires_in": 3600}),
        status=200,
    )
    mutate(entry)
    return _har([entry, _token_entry('{"error":"invalid_grant"}')])


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(entry: dict[str, Any]) -> None:
        if path.startswith("reply."):
            content = entry["response"]["content"]
            content["text"] = json.dumps({**json.loads(content["text"]), path[6:]: value})
        else:
            entry[path] = value

    return mutate


HOSTILE = {
    "year_1": _set("startedDateTime", "0001-01-01T00:00:00.000Z"),
    "year_9999": _set("startedDateTime", "9999-12-31T23:59:59.999Z"),
    "time_1e300": _set("time", 1e300),
    "time_negative": _set("time", -1e300),
    "expires_in_1e300": _set("reply.expires_in", 1e300),
    "expires_in_negative": _set("reply.expires_in", -3600),
    "rt_lifetime_negative": _set("reply.x_refresh_token_expires_in", -1e300),
    "hard_lifetime_huge": _set("reply.x_refresh_token_hard_expires_in", 1e300),
    "lifetime_as_text": _set("reply.expires_in", "nan"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_nonsense_numbers_and_times_are_a_warning(tmp_path: Path, case: str) -> None:
    from click.testing import CliRunner

    from qbtrace.cli import main

    path = tmp_path / f"{case}.har"
    path.write_bytes(_hostile(HOSTILE[case]))
    for fmt in ("text", "json", "csv", "html"):  # in-process: every renderer, no traceback
        out = tmp_path / f"out.{fmt}"
        result = CliRunner().invoke(main, ["analyze", str(path), "--format", fmt, "-o", str(out)])
        assert result.exit_code in (0, 1), (fmt, result.exception, result.stderr)
        assert out.stat().st_size > 0
    if case not in ("lifetime_as_text", "time_negative"):  # those are simply not read
        assert "cannot be real" in result.stderr


def test_malformed_urls_in_an_input_are_read_as_unrelated(tmp_path: Path) -> None:
    entry = _token_entry('{"error":"invalid_grant"}')
    entry["request"]["url"] = "https://[::1/oauth2/v1/tokens/bearer"  # type: ignore[index]
    path = tmp_path / "ipv6.har"
    path.write_bytes(_har([entry, _token_entry('{"error":"invalid_grant"}')]))
    proc = run_cli("analyze", path, "--format", "json", check=False)
    assert [f["request"]["index"] for f in _findings(proc)] == [1]  # type: ignore[index]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "setting",
    [
        'token_endpoint = "https://[::1/oauth2/v1/tokens/bearer"',
        'token_endpoint = "https://oauth.platform.intuit.com:99999999/x"',
        "code_lifetime = nan",
        "refresh_token_lifetime = inf",
        "race_window = 1e300",
    ],
)
def test_malformed_config_values_are_one_line(tmp_path: Path, setting: str) -> None:
    config = tmp_path / "qbtrace.toml"
    config.write_text(f"[provider]\n{setting}\n")
    path = tmp_path / "mixed.har"
    path.write_bytes(HAR_BYTES)
    _one_line_error(run_cli("analyze", path, "--config", config, check=False), "qbtrace.toml")


def test_malformed_redirect_uri_in_the_config_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "qbtrace.toml"
    config.write_text('[app]\nredirect_uris = ["https://[app.example.test/callback"]\n')
    path = tmp_path / "mixed.har"
    path.write_bytes(HAR_BYTES)
    line = _one_line_error(
        run_cli("analyze", path, "--config", config, check=False), "qbtrace.toml"
    )
    assert "is not a valid URL" in line

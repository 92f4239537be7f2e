"""Secrets planted in more than forty places (tests/planted.py) reach no output: not
`analyze` in any format, not `report`, not `sanitize`'s copy or its messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qbtrace.cli import main
from tests import reviewer
from tests.planted import planted
from tests.test_report import analyze
from tests.test_sanitize import essence


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [
        place
        for place, value in secrets.items()
        if any(form in text for form in reviewer.spellings(value))
    ]


def run(*args: str | Path) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code in (0, 1), (result.output, result.exception)
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def planted_har(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    doc, secrets = planted()
    path = tmp_path_factory.mktemp("planted") / "planted.har"
    path.write_text(json.dumps(doc, indent=1))
    assert len(secrets) >= 40
    return path, secrets


@pytest.mark.parametrize("fmt", ["text", "json", "csv", "html"])
def test_no_planted_secret_in_any_analyze_output(
    fmt: str, planted_har: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, secrets = planted_har
    out = tmp_path / f"out.{fmt}"
    printed = run("analyze", path, "--format", fmt)
    written = run("analyze", path, "--format", fmt, "-o", out) + out.read_text()
    assert not leaks(printed + written, secrets)


def test_no_planted_secret_in_the_report(
    planted_har: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, secrets = planted_har
    out = tmp_path / "report.html"
    printed = run("report", path, "-o", out)
    assert not leaks(printed + out.read_text(), secrets)


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_no_planted_secret_in_the_sanitized_copy(
    strict: bool, planted_har: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, secrets = planted_har
    out = tmp_path / path.name  # the same source name, so findings compare whole
    printed = run("sanitize", path, "-o", out, *(["--strict"] if strict else []))
    copy = json.loads(out.read_text())
    assert not leaks(printed + reviewer.readable_text(copy) + out.read_text(), secrets)
    assert len(copy["log"]["entries"]) == len(json.loads(path.read_text())["log"]["entries"])
    if strict:
        assert "dropped" in printed and "bodies" in printed
    else:
        for kind in ("cookie", "authorization", "jwt", "refresh_token", "client_secret"):
            assert kind in printed
    before, _ = analyze(path)
    after, _ = analyze(out)
    assert [essence(f) for f in after.findings] == [essence(f) for f in before.findings]


def test_no_planted_secret_in_the_events_dataset(
    planted_har: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """Every column of every row as text (Parquet compresses, so the bytes alone could hide
    a value), the records decoded, and inputs.json."""
    import polars as pl

    path, secrets = planted_har
    target = tmp_path / "events"
    printed = run("analyze", path, "--events", target)
    rows = pl.scan_parquet(target / "**" / "*.parquet", hive_partitioning=True).collect()
    assert rows.height > 0 and "record" in rows.columns
    text = "\n".join(str(v) for row in rows.iter_rows() for v in row)
    records = [json.loads(r) for r in rows["record"]]
    written = (
        text + reviewer.readable_text({"records": records}) + (target / "inputs.json").read_text()
    )
    assert not leaks(printed + written, secrets)

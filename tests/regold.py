"""Regenerate the gold files: the complete JSON findings of every golden input.

    python tests/regold.py            # every input in tests/data/golden/
    python tests/regold.py code_reused refresh_race

Each golden input (`<name>.har`, `<name>.mitm`, `<name>.playwright.har`,
`<name>.firefox.har`) is analysed alone with the tests' tag key and no config (or the
scenario's own `<name>.qbtrace.toml` when its app declares one), exactly as
`tests/test_gold.py` does, and its whole `qbtrace analyze --format json` document is
written to `tests/data/gold/<input>.json`. No
browser, SDK or proxy is needed: the inputs are already recorded. Commit the diff of the gold
files with the change that explains it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"
GOLD = ROOT / "tests" / "data" / "gold"
TAG_KEY = "qbtrace-tests"
SUFFIXES = (".playwright.har", ".firefox.har", ".har", ".mitm")


def golden_inputs(names: list[str] | None = None) -> list[Path]:
    """Every recorded input, in name order; only those of the named scenarios if given."""
    found = [p for p in sorted(GOLDEN.iterdir()) if p.name.endswith(SUFFIXES)]
    if names:
        found = [p for p in found if scenario_of(p) in names]
    return found


def scenario_of(path: Path) -> str:
    for suffix in SUFFIXES:
        if path.name.endswith(suffix):
            return path.name.removesuffix(suffix)
    return path.stem


def gold_path(path: Path) -> Path:
    return GOLD / f"{path.name}.json"


def analyze(path: Path, *extra: str, instead: Path | None = None) -> str:
    """The JSON document of one input, as text (the same click command a user runs, with
    `extra` options; of `instead` with the input's config, when given)."""
    from click.testing import CliRunner

    from qbtrace.cli import main

    os.environ["QBTRACE_TAG_KEY"] = TAG_KEY
    config = scenario_config(path)
    target = (instead or path).resolve()
    args = ["analyze", str(target), "--format", "json", *config, *extra]
    here = os.getcwd()
    os.chdir(path.parent)  # a scenario's config is named by its file name: no machine path
    try:
        result = CliRunner().invoke(main, args)
    finally:
        os.chdir(here)
    if result.exit_code not in (0, 1):
        raise SystemExit(f"{path.name}: exit {result.exit_code}: {result.output}")
    json.loads(result.stdout)  # a gold file is always a whole JSON document
    return result.stdout


def scenario_config(path: Path) -> list[str]:
    """`--config <scenario>.qbtrace.toml` when the scenario's app declares one beside its
    capture (a custom provider), else no config at all."""
    declared = path.with_name(f"{scenario_of(path)}.qbtrace.toml")
    return ["--config", declared.name] if declared.is_file() else no_config()


def no_config() -> list[str]:
    """`--no-config` where the CLI has it, so a qbtrace.toml in the current folder is ignored."""
    from qbtrace.cli import analyze as command

    return ["--no-config"] if any(p.name == "no_config" for p in command.params) else []


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    GOLD.mkdir(parents=True, exist_ok=True)
    changed = 0
    for path in golden_inputs(argv or None):
        text = analyze(path)
        target = gold_path(path)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            changed += 1
            print(f"wrote {target.relative_to(ROOT)}")
    print(f"{changed} gold file(s) changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

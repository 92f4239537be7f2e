"""The built wheel carries what a user needs: templates, CSS and the capture addon.

The wheel is built from this checkout and installed (without dependencies) into a fresh venv;
the dependencies come from the test environment's site-packages on PYTHONPATH, which holds no
copy of qbtrace itself, so the code that runs is the wheel's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from tests.conftest import ROOT


def test_wheel_renders_a_report_and_ships_the_addon(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(dist)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("qbtrace-*.whl")
    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    target = next((env_dir / "lib").glob("python3*/site-packages"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    env = {
        **os.environ,
        "PYTHONPATH": sysconfig.get_paths()["purelib"],
        "QBTRACE_TAG_KEY": "wheel-test",
    }
    where = subprocess.run(
        [
            str(python),
            "-c",
            # the capture addon `qbtrace proxy` loads into its in-process mitmproxy
            "import qbtrace, qbtrace.addons.qbtrace_capture as a; "
            "print(qbtrace.__file__); print(a.__file__)",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    ).stdout.split()
    assert all(line.startswith(str(target)) for line in where), where
    report = tmp_path / "report.html"
    subprocess.run(
        [
            str(python),
            "-m",
            "qbtrace",
            "report",
            str(ROOT / "examples" / "quickbooks-app.har"),
            "-o",
            str(report),
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    html = report.read_text()
    assert "refresh_token_superseded" in html and "<style" in html

"""Ctrl-C (SIGINT) or SIGTERM during `solve`: one line, exit 130, the output absent or complete.

Runs the real ``python -m assortopt`` in a subprocess, as a user would, and signals it while
HiGHS is solving (its ``--verbose`` log on stderr says when that is).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_solve_leaves_no_half_file(tmp_path, sig):
    out = tmp_path / "sol.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assortopt",
            "solve",
            str(ROOT / "instances" / "chocolate.json"),
            "-m",
            "mip",
            "--param",
            "start=none",
            "--formulation",  # the HiGHS model: bnb would certify chocolate before the signal
            "strong",
            "-k",
            "200",
            "--verbose",
            "-o",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    first = proc.stderr.readline()  # blocks until HiGHS (inside the solve) logs its first line
    assert first, "the solve ended before logging anything"
    time.sleep(0.5)
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 130, err[-2000:]
    ours = [line for line in err.splitlines() if line.startswith("assortopt:")]
    assert ours == ["assortopt: interrupted"], err[-2000:]
    assert "Traceback" not in err
    if out.exists():  # complete, never half-written
        assert json.loads(out.read_text())["method"] == "mip"
    assert not list(tmp_path.glob(".sol.json.*"))  # no temporary file left behind

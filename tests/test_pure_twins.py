"""The pure-Python twins pass the same tests: the socket-level suite again with PAYSWITCH_PURE=1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_switch_suite_passes_on_pure_twins() -> None:
    env = {**os.environ, "PAYSWITCH_PURE": "1", "PYTHONPATH": str(ROOT)}
    which = subprocess.run(
        [sys.executable, "-c", "import fastpath.framescan as f; print(f.IMPLEMENTATION)"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )
    assert which.stdout.strip() == "pure"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
         "tests/test_switch_protocol.py", "tests/test_crash_recovery.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]

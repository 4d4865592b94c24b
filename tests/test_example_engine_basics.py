"""examples/engine_basics.py runs and shows the slow upstream resting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "engine_basics.py"


def test_engine_basics_example_rests_the_slow_upstream() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=True
    )
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    assert "127.0.0.1:9002" in lines["outer ring"]
    assert "127.0.0.1:9002" not in lines["inner ring"]
    assert "inner->outer (overheated)" in result.stdout

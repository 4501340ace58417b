"""`make bench` leaves git's tree as it was: its report goes to an untracked folder, and the
committed reference changes only when asked for (issue 19). The report is rewritten from a
recorded run (tests/fixtures/bench-run.json), which takes seconds, not the bench's minutes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "tests" / "fixtures" / "bench-run.json"


def tracked_changes() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--", "bench"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout"
)
def test_a_bench_report_changes_no_tracked_file(tmp_path: Path) -> None:
    before = tracked_changes()
    figures = json.loads(RUN.read_text())
    figures["date"] = "2000-01-02T03:04:05"  # a report that differs from any committed one
    run = tmp_path / "run.json"
    run.write_text(json.dumps(figures))
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--report", str(run)],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert tracked_changes() == before, "the report rewrote a committed file"
    latest = ROOT / "bench" / "results" / "runs" / "latest.md"
    assert "2000-01-02T03:04:05" in latest.read_text(encoding="utf-8")
    assert (latest.parent / "latest.png").stat().st_size > 1000
    reference = (ROOT / "bench" / "results" / "reference.md").read_text(encoding="utf-8")
    assert "2000-01-02" not in reference and "![chart](reference.png)" in reference

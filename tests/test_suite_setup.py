"""The suite's own set-up: Hypothesis profiles and where recorded data is looked for."""

from __future__ import annotations

import os

from hypothesis import settings

from core.venues.market import SHARED_DATA_ENV, default_data_dir
from tests.builders import QUICK_EXAMPLES, THOROUGH_FACTOR, examples


def test_the_quick_profile_is_the_default_and_thorough_runs_more():
    quick, thorough = settings.get_profile("quick"), settings.get_profile("thorough")
    assert thorough.max_examples == THOROUGH_FACTOR * quick.max_examples == THOROUGH_FACTOR * QUICK_EXAMPLES
    assert quick.deadline is None and thorough.deadline is None
    active = os.environ.get("HYPOTHESIS_PROFILE", "quick")
    assert settings.default.max_examples == settings.get_profile(active).max_examples
    assert examples(150) == 150 * settings.default.max_examples // QUICK_EXAMPLES


def test_recorded_data_folder_can_be_pointed_elsewhere(monkeypatch, tmp_path, repo_root):
    monkeypatch.setenv(SHARED_DATA_ENV, str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv(SHARED_DATA_ENV)
    assert default_data_dir() == repo_root.parent / "shared" / "data"


def test_the_suite_runs_without_xdist_too(repo_root):
    """The conftest's worker-count hook is xdist's: with ``-p no:xdist`` it must be skipped,
    not refused as an unknown hook (which stopped every run)."""
    import subprocess
    import sys
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-q", "--collect-only",
                          "tests/test_suite_setup.py"], cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]

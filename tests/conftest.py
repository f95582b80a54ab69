"""Shared fixtures: the repository as a course, and scratch copies of it."""

import os
import shutil
from pathlib import Path

import pytest

from autograder.course import Course

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ch177"

# Kernels started by the tests draw with Agg, as under `nnla`.
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def repo() -> Course:
    return Course(REPO)


def copy_course(repo: Course, dest: Path, with_release: bool = True) -> Course:
    """A scratch course with the repo's config, manifests and notebooks (no gradebook)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(repo.root / "nbgrader_config.py", dest)
    for folder in ("assignments", "source") + (("release",) if with_release else ()):
        shutil.copytree(repo.root / folder, dest / folder)
    return Course(dest)


def processes_mentioning(text: str) -> list[int]:
    """Pids of the processes whose command line contains `text`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found

"""What a grade depends on, as one hash: the submission's files and the grader that judged them.

A results.json records the fingerprint it was graded under. `nnla autograde` skips a student
whose fingerprint is unchanged, so a run killed halfway picks up where it stopped, and a
submission whose files changed since (or a changed hidden suite) is graded again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tomllib
from collections.abc import Iterable
from pathlib import Path

from autograder.course import Course

AUTOGRADER = Path(__file__).resolve().parents[1]
# The grader's code that decides a grade; the report, the feedback pages, the demo and the
# command line do not, so changing them regrades no one.
DECIDES = ("grading", "judge", "course.py", "notebooks.py", "plugin.py")


def _hash_files(digest: hashlib._Hash, base: Path, files: Iterable[Path]) -> None:
    for path in sorted(files):
        digest.update(str(path.relative_to(base)).encode("utf-8", "surrogateescape") + b"\0")
        # A link is hashed as where it points: a student's link could point at /dev/zero.
        digest.update(
            os.readlink(path).encode("utf-8", "surrogateescape") if path.is_symlink() else path.read_bytes()
        )
        digest.update(b"\0")


def grader_fingerprint(course: Course, assignment: str) -> str:
    """Hash of what decides the grades: the course configuration, the assignment's manifest,
    source notebooks and plug-in, its reference packages and the grader's grading code."""
    digest = hashlib.sha256()
    _hash_files(digest, course.root, [course.root / "nbgrader_config.py"])
    digest.update(_grading_part_of_manifest(course.root / "assignments" / f"{assignment}.toml"))
    for folder in (course.source(assignment), course.plugin(assignment)):
        _hash_files(digest, course.root, _code_and_notebooks(folder))
    for package in course.manifest(assignment).references:
        # Found, not imported: importing a reference may load matplotlib (~0.6 s).
        folder = Path(importlib.util.find_spec(package).origin).parent
        _hash_files(digest, folder.parent, folder.rglob("*.py"))
    grader = [AUTOGRADER / part for part in DECIDES]
    files = [f for p in grader for f in ([p] if p.is_file() else p.rglob("*.py"))]
    _hash_files(digest, AUTOGRADER.parent, files)
    return digest.hexdigest()


def _code_and_notebooks(folder: Path) -> list[Path]:
    """The code and notebooks of a folder: its README and other documents decide nothing."""
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in (".py", ".ipynb") and "__pycache__" not in p.parts
    ]


def _grading_part_of_manifest(path: Path) -> bytes:
    """The manifest without what only the students' README reads (the `notebook` tables:
    time estimates, objectives, what a complete written answer contains), nor who sees the
    results (the `results` table: results.json takes it up whenever it is refreshed, see
    autograder.grading.results.refresh_results)."""
    manifest = tomllib.loads(path.read_text(encoding="utf-8"))
    manifest.pop("notebook", None)
    manifest.pop("results", None)
    return json.dumps(manifest, sort_keys=True, default=str).encode() + b"\0"


def submission_fingerprint(course: Course, student: str, assignment: str, grader: str) -> str:
    """Hash of every file of `submitted/<student>/<assignment>/` under the given grader."""
    digest = hashlib.sha256(grader.encode())
    folder = course.submitted(student, assignment)
    _hash_files(digest, folder, (p for p in folder.rglob("*") if p.is_file() or p.is_symlink()))
    return digest.hexdigest()

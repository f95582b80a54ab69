"""What a grade depends on, as one hash: the submission's files and the grader that judged them.

A results.json records the fingerprint it was graded under. `nnla autograde` skips a student
whose fingerprint is unchanged, so a run killed halfway picks up where it stopped, and a
submission whose files changed since (or a changed hidden suite) is graded again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Iterable
from pathlib import Path

from autograder.course import Course

# The grader's own code; found, not imported: importing nnla_ref would load matplotlib (~0.6 s).
GRADER_PACKAGES = ("autograder", "nnla_ref")


def _hash_files(digest: hashlib._Hash, base: Path, files: Iterable[Path]) -> None:
    for path in sorted(files):
        digest.update(str(path.relative_to(base)).encode("utf-8", "surrogateescape") + b"\0")
        # A link is hashed as where it points: a student's link could point at /dev/zero.
        digest.update(
            os.readlink(path).encode("utf-8", "surrogateescape") if path.is_symlink() else path.read_bytes()
        )
        digest.update(b"\0")


def grader_fingerprint(course: Course, assignment: str) -> str:
    """Hash of the course configuration, the assignment's source, the hidden suites and the reference."""
    digest = hashlib.sha256()
    config = [course.root / "nbgrader_config.py", course.root / "assignments" / f"{assignment}.toml"]
    _hash_files(digest, course.root, config)
    _hash_files(digest, course.root, (p for p in course.source(assignment).rglob("*") if p.is_file()))
    for package in GRADER_PACKAGES:
        folder = Path(importlib.util.find_spec(package).origin).parent
        _hash_files(digest, folder.parent, folder.rglob("*.py"))
    return digest.hexdigest()


def submission_fingerprint(course: Course, student: str, assignment: str, grader: str) -> str:
    """Hash of every file of `submitted/<student>/<assignment>/` under the given grader."""
    digest = hashlib.sha256(grader.encode())
    folder = course.submitted(student, assignment)
    _hash_files(digest, folder, (p for p in folder.rglob("*") if p.is_file() or p.is_symlink()))
    return digest.hexdigest()

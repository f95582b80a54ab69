"""Grade a class: register the assignment, autograde, write results.json."""

from __future__ import annotations

import logging

from autograder.course import Course
from autograder.pipeline import autograde, register_assignment
from autograder.results import write_results
from autograder.sandbox import describe_missing

log = logging.getLogger(__name__)


def grade_class(
    course: Course, assignment: str, students: list[str] | None = None, jobs: int = 1
) -> dict[str, dict]:
    """Autograde the given students (default: every submission) and return their results."""
    manifest = course.manifest(assignment)
    students = students if students is not None else course.students_submitted(assignment)
    if not students:
        log.warning("no submissions in %s", course.root / "submitted")
        return {}
    if missing := describe_missing():
        log.warning("%s", missing)
    register_assignment(course, manifest)
    done = autograde(course, manifest, students, jobs)
    log.debug("%s", done.stdout)
    return write_results(course, assignment, students)

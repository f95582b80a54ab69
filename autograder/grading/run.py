"""Grade a class: register the assignment, find who needs grading, grade them in parallel."""

from __future__ import annotations

import logging

from autograder.course import Course
from autograder.grading.fingerprint import grader_fingerprint, submission_fingerprint
from autograder.grading.intake import refused_student_id
from autograder.grading.nbgrader import open_gradebook, register_assignment
from autograder.grading.pool import ClusterRefused, GradingPool
from autograder.grading.progress import Progress
from autograder.grading.results import in_gradebook, read_results, refresh_results
from autograder.judge.isolation.sandbox import require_isolation

log = logging.getLogger(__name__)


def grade_class(
    course: Course,
    assignment: str,
    students: list[str] | None = None,
    jobs: int = 1,
    force: bool = False,
    scheduler: str | None = None,
) -> dict[str, dict]:
    """Autograde the given students (default: every submission) and return their results.

    With `scheduler` (a Dask scheduler's address, or "local"), the students are graded on that
    cluster's workers (autograder.grading.cluster); raises ClusterRefused where it cannot grade.

    A student already graded under the same fingerprint (same files, same grader) is skipped
    unless `force`, so running this again after an interruption grades only what is left. A
    student id that a page could read as markup is refused, with a message, and not graded.
    Raises IsolationUnavailable where student code cannot be isolated and no one accepted that.
    """
    require_isolation()
    students = students if students is not None else course.students_submitted(assignment)
    for student in students:
        if why := refused_student_id(student):
            log.warning("%s", why)
    students = [s for s in students if not refused_student_id(s)]
    if not students:
        log.warning("no submissions to grade in %s", course.root / "submitted")
        return {}
    grader = grader_fingerprint(course, assignment)
    fingerprints = {s: submission_fingerprint(course, s, assignment, grader) for s in students}
    # Judged by results.json alone, to start grading processes early; the gradebook has the last word below.
    changed = {s for s in students if force or not _results_match(course, assignment, s, fingerprints[s])}
    with _pool(course, assignment, jobs, scheduler, grader) as pool:
        pool.start(len(changed))
        register_assignment(course, course.manifest(assignment))
        with open_gradebook(course) as gb:
            todo = [
                (s, fingerprints[s]) for s in students if s in changed or not in_gradebook(gb, assignment, s)
            ]
        if len(todo) < len(students):
            log.warning(
                "%d of %d students are already graded and unchanged", len(students) - len(todo), len(students)
            )
        progress = Progress(len(todo))
        pool.grade(todo, progress.student_done)
        progress.close()
    refresh_results(course, assignment, students)  # grades given in formgrader since, graded or skipped
    return {student: read_results(course, assignment, student) for student in students}


def _pool(course: Course, assignment: str, jobs: int, scheduler: str | None, grader: str):
    if scheduler is None:
        return GradingPool(course, assignment, jobs)
    try:
        from autograder.grading.cluster import ClusterPool
    except ImportError as missing:
        raise ClusterRefused(
            f"grading on a cluster needs Dask ({missing}): pip install 'nnla[cluster]'"
        ) from None
    return ClusterPool(course, assignment, scheduler, jobs, grader)


def _results_match(course: Course, assignment: str, student: str, fingerprint: str) -> bool:
    results = read_results(course, assignment, student)
    return results is not None and results.get("extra_data", {}).get("fingerprint") == fingerprint

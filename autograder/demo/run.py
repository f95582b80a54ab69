"""`nnla demo`: grade a synthetic class end to end in a course folder of its own."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from autograder.course import Course
from autograder.grading.nbgrader import gradebook_url
from autograder.grading.run import grade_class
from autograder.judge.isolation.sandbox import ISOLATION_WAIVER, isolation
from autograder.outputs.report import write_report
from autograder.plugin import load_plugin
from autograder.submissions import write_submission

COURSE_FILES = ("nbgrader_config.py", "assignments", "source", "release")


def build_demo_course(repo: Course, folder: Path, assignment: str) -> Course:
    """A fresh course folder with the repo's config and notebooks and the demo submissions."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in COURSE_FILES:
        src = repo.root / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, folder / name)
    course = Course(folder)
    for student in load_plugin(repo, assignment).demo_students():
        write_submission(
            course.submitted(student.id, assignment),
            course.release(assignment),
            course.source(assignment),
            student.answers,
        )
    return course


def demo_assignment(repo: Course) -> str:
    """The first assignment whose plug-in has a demo class."""
    for assignment in repo.assignments():
        if load_plugin(repo, assignment).demo_students():
            return assignment
    raise FileNotFoundError(f"no assignment in {repo.root / 'assignments'} has a demo class (demo.py)")


def run_demo(repo: Course, folder: Path, assignment: str | None = None) -> int:
    """Build, grade and check the demo class; return the exit code (0 when all scores match)."""
    started = time.monotonic()
    assignment = assignment or demo_assignment(repo)
    course = build_demo_course(repo, folder, assignment)
    students = load_plugin(repo, assignment).demo_students()
    print(f"Demo class: {len(students)} synthetic students in {folder}")
    if not (found := isolation()).full:
        os.environ[ISOLATION_WAIVER] = "1"
        print(
            f"This machine cannot isolate student code: {', '.join(found.missing)} unavailable "
            f"({found.reason}). The demo grades its own synthetic students anyway; `nnla autograde` "
            "refuses real submissions here unless given --without-isolation."
        )
    results = grade_class(course, assignment, [s.id for s in students], jobs=os.cpu_count() or 1)

    notebooks = list(course.manifest(assignment).notebooks)
    short = [nb.split("_", 1)[0] for nb in notebooks]
    header = f"{'student':<14} " + " ".join(f"{s:>5}" for s in short) + f" {'total':>11}  check  work"
    print()
    print(header)
    print("-" * len(header))
    mismatches = []
    for student in students:
        res = results[student.id]
        per_nb = {nb: 0.0 for nb in notebooks}
        for test in res["tests"]:
            per_nb[test["extra_data"]["notebook"]] += test["score"]
        ok = all(abs(per_nb[nb] - student.expected[nb]) < 1e-9 for nb in notebooks)
        if not ok:
            mismatches.append((student.id, student.expected, per_nb))
        cells = " ".join(f"{per_nb[nb]:>5.4g}" for nb in notebooks)
        print(
            f"{student.id:<14} {cells} {res['score']:>8.4g}/{res['extra_data']['max_score']:<2g}"
            f"  {'ok' if ok else 'WRONG':<5}  {student.story}"
        )
    elapsed = time.monotonic() - started
    print()
    print(write_report(course, assignment).summary())
    print()
    print(f"Autograded notebooks: {course.root / 'autograded'}/<student>/{assignment}/")
    print(f"Results (Gradescope format): {course.root / 'autograded'}/<student>/{assignment}/results.json")
    print(f"Gradebook: {gradebook_url(course)}")
    print(isolation().summary())
    print(f"Finished in {elapsed:.0f} s.")
    for student_id, expected, got in mismatches:
        print(f"MISMATCH {student_id}: expected {expected}, got {got}")
    return 1 if mismatches else 0

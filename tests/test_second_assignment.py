"""A second assignment, added from files alone (tests/second_assignment/): `nnla autograde`,
`nnla report`, `nnla feedback` and the released selfcheck.py handle it with no change to the
grader, a correct student and a buggy one graded as expected."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course import Course
from autograder.grading.nbgrader import run_nbgrader
from autograder.submissions import full_solution, write_submission
from tests.conftest import REPO, needs_isolation

pytestmark = [pytest.mark.e2e, needs_isolation]

FILES = Path(__file__).with_name("second_assignment")
ASSIGNMENT = "vec01"
FORGETS_SQRT = '''def norm(v):
    """The Euclidean length of v, shape (n,)."""
    return dot(v, v)
'''
STUDENTS = {
    "ada": {},  # the source's solutions
    "bo": {"02_norm": {"norm_solution": FORGETS_SQRT}},
}


def nnla(course: Course, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder.cli", *args], cwd=course.root, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The instructor's steps: the files, the course's config and its canonical self-check
    engine, `nbgrader generate_assignment`; then two students' submissions."""
    root = tmp_path_factory.mktemp("second") / "course"
    shutil.copytree(FILES, root, ignore=shutil.ignore_patterns("README.md", "__pycache__"))
    shutil.copy2(REPO / "nbgrader_config.py", root)
    shutil.copy2(REPO / "autograder" / "check" / "selfcheck.py", root / "source" / ASSIGNMENT)
    course = Course(root)
    run_nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    for student, changes in STUDENTS.items():
        answers = full_solution(course.source(ASSIGNMENT))
        for notebook, cells in changes.items():
            answers[notebook].update(cells)
        folder = course.submitted(student, ASSIGNMENT)
        write_submission(folder, course.release(ASSIGNMENT), course.source(ASSIGNMENT), answers)
    return course


@pytest.fixture(scope="module")
def graded(course):
    commands = [nnla(course, *args) for args in (["autograde", ASSIGNMENT], ["report", ASSIGNMENT])]
    commands.append(nnla(course, "feedback", ASSIGNMENT))
    for done in commands:
        assert done.returncode == 0, done.stdout + done.stderr
    results = {
        s: json.loads((course.autograded(s, ASSIGNMENT) / "results.json").read_text()) for s in STUDENTS
    }
    return course, results


def test_the_correct_student_gets_full_marks(graded):
    _, results = graded
    assert results["ada"]["score"] == results["ada"]["extra_data"]["max_score"] == 3
    assert [t["name"] for t in results["ada"]["tests"]] == ["dot_values", "norm_values"]


def test_the_bug_loses_its_own_points_with_the_assignments_hint(graded):
    _, results = graded
    tests = {t["name"]: t for t in results["bo"]["tests"]}
    assert tests["dot_values"]["score"] == 2 and tests["norm_values"]["score"] == 0
    assert tests["norm_values"]["tags"] == ["forgets-sqrt"]
    assert "hint [forgets-sqrt]: The length is the square root of v . v" in tests["norm_values"]["output"]
    assert "smallest failing input" in tests["norm_values"]["output"]


def test_report_and_feedback_are_written(graded):
    course, _ = graded
    report = (course.root / "reports" / ASSIGNMENT / "report.html").read_text()
    assert "Report: vec01" in report and "2 students graded" in report
    for student in STUDENTS:
        pages = sorted(p.name for p in (course.root / "feedback" / student / ASSIGNMENT).glob("*.html"))
        assert pages == ["01_dot.html", "02_norm.html", "summary.html"]
    assert "forgets-sqrt" in (course.root / "feedback" / "bo" / ASSIGNMENT / "summary.html").read_text()


@pytest.mark.parametrize(("student", "passes"), [("ada", True), ("bo", False)])
def test_the_released_self_check_checks_it(graded, tmp_path, student, passes):
    course, _ = graded
    folder = tmp_path / ASSIGNMENT
    shutil.copytree(course.submitted(student, ASSIGNMENT), folder)
    released = sorted(p.name for p in course.release(ASSIGNMENT).iterdir())
    assert released == ["01_dot.ipynb", "02_norm.ipynb", "public_checks.py", "selfcheck.py"]
    for name in ("selfcheck.py", "public_checks.py"):
        shutil.copy2(course.release(ASSIGNMENT) / name, folder)
    done = subprocess.run(
        [sys.executable, "selfcheck.py"], cwd=folder, capture_output=True, text=True, timeout=120
    )
    assert (done.returncode == 0) == passes, done.stdout + done.stderr
    if not passes:
        assert "02_norm / norm: fail" in done.stdout
        assert "hint: The length is the square root of v . v." in done.stdout


def test_the_grader_names_no_assignment(graded):
    """Nothing of vec01 (nor of ch177) is in the grader: everything came from the course's files."""
    for path in (REPO / "autograder").rglob("*.py"):
        text = path.read_text()
        assert "vec01" not in text and "ch177" not in text, path

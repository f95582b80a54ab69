"""Broken submissions, graded by `nnla autograde` next to an honest student.

Each loses only what is broken, is told why (log, results.json, the notebook itself), and the
rest of the class is graded as if it were not there.
"""

import html
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.grading.intake import NOTE_TAG
from autograder.outputs.feedback import write_feedback
from autograder.submissions import full_solution, write_submission
from tests.broken import CASES, REFUSED_IDS
from tests.conftest import ASSIGNMENT, FULL_MARKS, MAX_SCORE, copy_course

pytestmark = pytest.mark.e2e  # runs the real tools; `-m 'not e2e'` leaves it out

HONEST = "honest"
BY_STUDENT = {case.student: case for case in CASES}


@pytest.fixture(scope="module")
def broken_run(repo, tmp_path_factory):
    course = copy_course(repo, tmp_path_factory.mktemp("broken") / "course")
    answers = full_solution(course.source(ASSIGNMENT))
    for student, breaks in (
        [(HONEST, None)] + [(c.student, c.breaks) for c in CASES] + [(s, None) for s in REFUSED_IDS]
    ):
        folder = course.submitted(student, ASSIGNMENT)
        write_submission(folder, course.release(ASSIGNMENT), course.source(ASSIGNMENT), answers)
        if breaks:
            breaks(folder)
    done = autograde(course.root)
    results = {
        student: json.loads((course.autograded(student, ASSIGNMENT) / "results.json").read_text())
        for student in [HONEST, *BY_STUDENT]
    }
    return course, done, results


def autograde(course_root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autograder.cli", "autograde", ASSIGNMENT, "--jobs", "2"],
        cwd=course_root,
        capture_output=True,
        text=True,
    )


def per_notebook(results: dict) -> dict[str, float]:
    scores = dict.fromkeys(FULL_MARKS, 0.0)
    for test in results["tests"]:
        scores[test["extra_data"]["notebook"]] += test["score"]
    return scores


def test_the_whole_class_is_graded_and_the_honest_student_keeps_full_marks(broken_run):
    _, done, results = broken_run
    assert done.returncode == 0, done.stdout + done.stderr
    assert per_notebook(results[HONEST]) == FULL_MARKS
    assert results[HONEST]["extra_data"]["messages"] == []


@pytest.mark.parametrize("student", sorted(BY_STUDENT))
def test_a_broken_submission_loses_only_what_is_broken(broken_run, student):
    _, _, results = broken_run
    expected = {nb: 0.0 if nb in BY_STUDENT[student].zero else points for nb, points in FULL_MARKS.items()}
    assert per_notebook(results[student]) == expected
    assert results[student]["extra_data"]["max_score"] == MAX_SCORE


@pytest.mark.parametrize("student", sorted(s for s, c in BY_STUDENT.items() if c.message))
def test_the_student_is_told_what_was_wrong_in_results_and_log(broken_run, student):
    _, done, results = broken_run
    phrase = BY_STUDENT[student].message
    messages = results[student]["extra_data"]["messages"]
    assert any(phrase in m for m in messages), messages
    log_lines = done.stderr.splitlines()
    at = next(i for i, line in enumerate(log_lines) if f"] {student}: " in line)
    assert any(phrase in line for line in log_lines[at + 1 : at + 1 + len(messages)])


@pytest.mark.parametrize(
    ("student", "notebook"),
    [
        ("invalid-json", "02_batch_forms"),
        ("truncated", "04_tanh_vs_relu"),
        ("empty-file", "05_linear_collapse"),
        ("binary-junk", "06_halfspace_neurons"),
        ("missing-notebook", "03_stored_activations"),
    ],
)
def test_a_notebook_that_could_not_be_graded_says_why_at_its_top(broken_run, student, notebook):
    course, _, _ = broken_run
    nb = nbformat.read(course.autograded(student, ASSIGNMENT) / f"{notebook}.ipynb", as_version=4)
    first = nb.cells[0]
    assert NOTE_TAG in first.metadata.get("tags", [])
    # rendered and cleaned, as every cell without the instructor's lock (autograder/grading/sanitize.py)
    assert f"<code>{notebook}.ipynb</code>" in first.source and "graded 0" in first.source


def test_a_notebook_that_hangs_at_import_is_reported_as_such(broken_run):
    _, _, results = broken_run
    outputs = [
        t["output"]
        for t in results["hangs-at-import"]["tests"]
        if t["extra_data"]["notebook"] == "05_linear_collapse"
    ]
    assert outputs and all("did not finish running" in out for out in outputs)


def test_saved_outputs_of_100_mb_do_not_reach_the_autograded_notebook(broken_run):
    course, _, _ = broken_run
    assert (course.submitted("huge-outputs", ASSIGNMENT) / "04_tanh_vs_relu.ipynb").stat().st_size > 10**8
    assert (course.autograded("huge-outputs", ASSIGNMENT) / "04_tanh_vs_relu.ipynb").stat().st_size < 10**7


def test_extra_files_go_along_and_checkpoints_do_not(broken_run):
    course, _, _ = broken_run
    graded = course.autograded("extra-files", ASSIGNMENT)
    assert (graded / "notes.txt").read_text() == "my notes\n"
    assert (graded / "data" / "points.csv").is_file()
    assert not (graded / ".ipynb_checkpoints").exists()
    assert not (graded / "scratch.ipynb").exists()


def test_what_a_symbolic_link_points_at_is_not_copied(broken_run):
    course, _, results = broken_run
    graded = course.autograded("symbolic-links", ASSIGNMENT)
    assert not (graded / "secrets.txt").exists() and not (graded / "zeros.csv").exists()
    assert "root:" not in (graded / "01_param_count.ipynb").read_text()
    messages = results["symbolic-links"]["extra_data"]["messages"]
    assert "secrets.txt: a symbolic link, left out of grading." in messages


def test_the_submission_as_handed_in_is_left_untouched(broken_run):
    course, _, _ = broken_run
    assert (course.submitted("invalid-json", ASSIGNMENT) / "02_batch_forms.ipynb").read_text().count(
        "oops"
    ) == 1
    assert (course.submitted("renamed-notebook", ASSIGNMENT) / "01_param_count (1).ipynb").is_file()
    assert not (course.root / ".nnla" / "staging" / "invalid-json").exists()


def test_the_feedback_page_tells_the_student_too(broken_run):
    course, _, results = broken_run
    students = ["invalid-json", "renamed-notebook", "duplicated-cells"]
    pages = write_feedback(course, ASSIGNMENT, students)
    for student in students:
        text = html.unescape(pages[student].read_text())
        for message in results[student]["extra_data"]["messages"]:
            assert message in text


@pytest.mark.parametrize(
    ("student", "notebook"),
    [
        ("kernel-exit", "01_param_count"),
        ("kernel-segfault", "03_stored_activations"),
        ("kernel-abort", "06_halfspace_neurons"),
        ("kernel-cpu-limit", "04_tanh_vs_relu"),
    ],
)
def test_the_cell_where_the_kernel_stopped_says_so_and_the_cells_below_are_not_run(
    broken_run, student, notebook
):
    course, _, _ = broken_run
    nb = nbformat.read(course.autograded(student, ASSIGNMENT) / f"{notebook}.ipynb", as_version=4)
    assert [o.get("ename") for o in nb.cells[1].outputs if o.output_type == "error"] == ["KernelDied"]
    later = [c for c in nb.cells[2:] if c.cell_type == "code" and "nnla" not in c.metadata]
    assert later and all("Not run: the kernel had stopped in cell 2" in c.outputs[0].text for c in later)


@pytest.mark.parametrize("student", ["timestamp-from-notepad", "timestamp-in-another-format"])
def test_an_on_time_date_written_another_way_is_on_time(broken_run, student):
    _, _, results = broken_run
    assert results[student]["extra_data"]["late_penalty"] == 0
    assert results[student]["score"] == sum(FULL_MARKS.values())


def test_an_id_a_page_would_read_as_markup_is_refused_by_name_and_not_graded(broken_run):
    course, done, _ = broken_run
    for student in REFUSED_IDS:
        assert f"student id {student!r} is refused" in done.stderr
        assert not course.autograded(student, ASSIGNMENT).exists()
        assert student not in done.stdout


def test_a_rerun_grades_no_one_and_exits_0(broken_run):
    course, _, results = broken_run
    graded = [course.autograded(s, ASSIGNMENT) / "results.json" for s in results]
    before = [p.stat().st_mtime_ns for p in graded]
    again = autograde(course.root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{len(results)} of {len(results)} students are already graded and unchanged" in again.stderr
    assert [p.stat().st_mtime_ns for p in graded] == before

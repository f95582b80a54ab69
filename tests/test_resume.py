"""Grading a class in parallel, killed halfway with SIGKILL, and resumed.

The resumed run grades only what was left plus the submission that changed meanwhile, and
ends in the state of an uninterrupted serial run of the same class: the same grades in the
gradebook, each exactly once, and the same results.json files.
"""

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.grading.nbgrader import open_gradebook
from autograder.submissions import write_submission
from tests.conftest import ASSIGNMENT, copy_course, demo_students, processes_mentioning

pytestmark = pytest.mark.e2e  # runs the real tools; `-m 'not e2e'` leaves it out

CLASS = ["alice", "bob", "dave", "erin", "grace", "José Ñúñez"]
CHANGED = "alice"  # resubmits after the kill, with dave's bug


def write_class(course) -> None:
    students = {s.id: s for s in demo_students()}
    for student in CLASS:
        folder = course.submitted(student, ASSIGNMENT)
        write_submission(
            folder, course.release(ASSIGNMENT), course.source(ASSIGNMENT), students[student].answers
        )


def resubmit(course) -> None:
    dave = next(s for s in demo_students() if s.id == "dave")
    folder = course.submitted(CHANGED, ASSIGNMENT)
    write_submission(folder, course.release(ASSIGNMENT), course.source(ASSIGNMENT), dave.answers)


def autograde(course, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", "autograde", ASSIGNMENT, *args],
        cwd=course.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def graded_students(course) -> set[str]:
    return {s for s in CLASS if (course.autograded(s, ASSIGNMENT) / "results.json").is_file()}


def graded_in(log: str) -> list[str]:
    """The students a run graded, from its progress lines ("[i/N] student: score ...")."""
    return [line.split("] ", 1)[1].split(": ")[0] for line in log.splitlines() if line.startswith("[")]


def gradebook_state(course) -> dict:
    """Every grade of every submission, and how many rows of each kind the gradebook holds."""
    with open_gradebook(course) as gb:
        grades = {}
        for submission in gb.assignment_submissions(ASSIGNMENT):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    key = (submission.student.id, notebook.name, grade.name)
                    grades[key] = (grade.auto_score, grade.manual_score, grade.needs_manual_grade)
                grades[submission.student.id, notebook.name, "late"] = notebook.late_submission_penalty
        rows = {
            "submissions": len(gb.assignment_submissions(ASSIGNMENT)),
            "grades": sum(
                len(nb.grades) for s in gb.assignment_submissions(ASSIGNMENT) for nb in s.notebooks
            ),
            "students": len(gb.students),
        }
    return {"grades": grades, "rows": rows}


def results_state(course) -> dict:
    """Each student's results.json, without the one field that measures time."""
    state = {}
    for student in CLASS:
        data = json.loads((course.autograded(student, ASSIGNMENT) / "results.json").read_text())
        data.pop("execution_time")
        state[student] = data
    return state


@pytest.fixture(scope="module")
def runs(repo, tmp_path_factory):
    base = tmp_path_factory.mktemp("resume")
    serial = copy_course(repo, base / "serial")
    write_class(serial)
    resubmit(serial)
    done = autograde(serial, "--jobs", "1")
    done.communicate()
    assert done.returncode == 0

    resumed = copy_course(repo, base / "resumed")
    write_class(resumed)
    first = autograde(resumed, "--jobs", "2")
    deadline = time.monotonic() + 600
    while len(graded_students(resumed)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    before_resume = graded_students(resumed)
    run_dirs = [
        p
        for p in Path(tempfile.gettempdir()).glob("nnla-run-*")
        if (p / "owner").read_text() == str(first.pid)
    ]
    leftover_deadline = time.monotonic() + 10
    while any(processes_mentioning(str(d)) for d in run_dirs) and time.monotonic() < leftover_deadline:
        time.sleep(0.2)
    left_running = [pid for d in run_dirs for pid in processes_mentioning(str(d))]
    left_running += processes_mentioning(f"autograder.grading.process\0{resumed.root}")

    resubmit(resumed)
    second = autograde(resumed, "--jobs", "2")
    _, log = second.communicate()
    return {
        "serial": serial,
        "resumed": resumed,
        "before_resume": before_resume,
        "left_running": left_running,
        "run_dirs": run_dirs,
        "second": second,
        "log": log,
    }


def test_the_kill_came_while_grading_was_under_way(runs):
    assert 2 <= len(runs["before_resume"]) < len(CLASS)


def test_killing_the_run_leaves_no_worker_kernel_or_judge_running(runs):
    assert runs["run_dirs"], "the killed run had a scratch folder"
    assert runs["left_running"] == []


def test_the_resumed_run_grades_only_what_was_left_and_what_changed(runs):
    assert runs["second"].returncode == 0, runs["log"]
    graded_again = set(graded_in(runs["log"]))
    untouched = runs["before_resume"] - {CHANGED}
    assert graded_again == set(CLASS) - untouched
    assert f"{len(untouched)} of {len(CLASS)} students are already graded and unchanged" in runs["log"]


def test_the_resumed_run_ends_in_the_state_of_an_uninterrupted_serial_run(runs):
    assert gradebook_state(runs["resumed"]) == gradebook_state(runs["serial"])
    assert results_state(runs["resumed"]) == results_state(runs["serial"])


def test_the_changed_submission_is_graded_as_it_is_now(runs):
    alice = results_state(runs["resumed"])[CHANGED]
    counted = {t["name"]: t for t in alice["tests"]}["count_params_values"]
    assert counted["score"] < counted["max_score"] and "weights-only" in counted["tags"]


def test_the_killed_run_leaves_no_scratch_behind_once_resumed(runs):
    assert not any(d.exists() for d in runs["run_dirs"])
    assert not list((runs["resumed"].root / ".nnla" / "staging").glob("*"))


def test_a_third_run_has_nothing_left_to_grade(runs):
    third = autograde(runs["resumed"], "--jobs", "2")
    _, log = third.communicate()
    assert third.returncode == 0
    assert f"{len(CLASS)} of {len(CLASS)} students are already graded and unchanged" in log
    assert graded_in(log) == []


def test_a_student_missing_from_the_gradebook_is_graded_again(runs):
    course, lost = runs["resumed"], "bob"
    with open_gradebook(course) as gb:
        gb.remove_submission(ASSIGNMENT, lost)
    fourth = autograde(course, "--jobs", "2")
    _, log = fourth.communicate()
    assert fourth.returncode == 0, log
    assert graded_in(log) == [lost]
    assert gradebook_state(course) == gradebook_state(runs["serial"])

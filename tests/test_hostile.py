"""Hostile submissions gain nothing and harm nothing, graded by the real nbgrader pipeline."""

import hashlib
import json
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from autograder.grading.run import grade_class
from autograder.submissions import SOLUTION
from tests.conftest import ASSIGNMENT, REPO, copy_course, needs_isolation, processes_mentioning
from tests.hostile import HOSTILE, fill, shorten_limits, submit

ATTACKED = ("01_param_count", "02_batch_forms")
HONEST = {
    "01_param_count": {"count_params_solution": SOLUTION},
    "02_batch_forms": {"affine_rows_solution": SOLUTION, "affine_cols_solution": SOLUTION},
}
HONEST_SCORE = 7.0

pytestmark = [pytest.mark.e2e, needs_isolation]


class Listener:
    """A TCP server on loopback that records whatever connects to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                self.received.append(conn.recv(100))

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def fingerprint(*folders: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def hostile_run(repo, tmp_path_factory):
    course = copy_course(repo, tmp_path_factory.mktemp("hostile") / "course")
    shorten_limits(course)
    listener = Listener()
    students = {"alice": HONEST, **{f"hostile {name}": answers for name, answers in HOSTILE.items()}}
    for student, answers in students.items():
        submit(course, student, fill(answers, course, REPO, listener.port))

    protected = (
        course.root / "source",
        course.root / "release",
        course.root / "assignments",
        REPO / "nnla_ref",
        REPO / "autograder",
        course.submitted("alice", ASSIGNMENT),
    )
    before = fingerprint(*protected)
    config_before = (course.root / "nbgrader_config.py").read_bytes()
    # The run's scratch folders, and so the command lines of its sandboxes, are under a folder
    # of this test's own: other gradings on the machine are not this test's business.
    scratch = Path(tempfile.mkdtemp(prefix="nnla-test-hostile-"))
    default, tempfile.tempdir = tempfile.tempdir, str(scratch)
    try:
        results = grade_class(course, ASSIGNMENT, list(students))
    finally:
        tempfile.tempdir = default
        listener.close()
    yield course, results, before, fingerprint(*protected), config_before, listener, scratch
    shutil.rmtree(scratch, ignore_errors=True)


def test_the_grading_run_completes_for_every_student(hostile_run):
    _, results, *_ = hostile_run
    assert set(results) == {"alice", *(f"hostile {name}" for name in HOSTILE)}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_submission_earns_nothing(hostile_run, name):
    _, results, *_ = hostile_run
    res = results[f"hostile {name}"]
    assert res["score"] == 0, [(t["name"], t["score"], t["output"][:300]) for t in res["tests"] if t["score"]]


def test_the_honest_student_is_graded_as_if_alone(hostile_run):
    course, results, *_ = hostile_run
    res = results["alice"]
    assert res["score"] == HONEST_SCORE
    on_disk = json.loads((course.autograded("alice", ASSIGNMENT) / "results.json").read_text())
    assert on_disk == res


def test_course_files_reference_and_other_submissions_are_untouched(hostile_run):
    course, _, before, after, config_before, *_ = hostile_run
    assert before == after
    assert (course.root / "nbgrader_config.py").read_bytes() == config_before
    assert (course.root / "gradebook.db").read_bytes()[:16] == b"SQLite format 3\x00"


def test_no_connection_reaches_the_network(hostile_run):
    *_, listener, _ = hostile_run
    assert listener.received == []


def test_no_sandboxed_process_is_left_running(hostile_run):
    *_, scratch = hostile_run
    # A kernel that would not shut down is killed with its process group; the machine's init
    # reaps what is left of it, which may take a moment.
    deadline = time.monotonic() + 10
    while processes_mentioning(str(scratch)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(scratch)) == []


def test_no_scratch_folder_is_left_behind(hostile_run):
    *_, scratch = hostile_run
    assert [p.name for p in scratch.iterdir()] == []


def test_grading_writes_only_its_working_state_into_the_course(hostile_run):
    course, *_ = hostile_run
    course_files = {"nbgrader_config.py", "assignments", "source", "release", "submitted"}
    working_state = {"autograded", "gradebook.db", "logs", ".nnla"}
    assert {p.name for p in course.root.iterdir()} == course_files | working_state

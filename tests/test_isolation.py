"""Where student code cannot be isolated, grading refuses unless the instructor accepts that, and
every results.json says how student code was isolated.

"Cannot be isolated" is made real: the grader runs inside a user namespace whose
max_user_namespaces is 0, as on machines that forbid user namespaces.
"""

import json
import os
import subprocess
import sys

import pytest

from autograder.demo import run as demo
from autograder.grading.nbgrader import register_assignment
from autograder.judge.isolation.sandbox import ISOLATION_WAIVER, Isolation
from autograder.submissions import full_solution, write_submission
from tests.conftest import (
    ASSIGNMENT,
    FULL_MARKS,
    REPO,
    ROOT_WITHOUT_NAMESPACES,
    WITHOUT_USER_NAMESPACES,
    copy_course,
    needs_isolation,
)

pytestmark = [pytest.mark.e2e, needs_isolation]


@pytest.fixture(scope="module")
def course(repo, tmp_path_factory):
    course = copy_course(repo, tmp_path_factory.mktemp("isolation") / "course")
    source = course.source(ASSIGNMENT)
    write_submission(
        course.submitted("alice", ASSIGNMENT), course.release(ASSIGNMENT), source, full_solution(source)
    )
    register_assignment(course, course.manifest(ASSIGNMENT))  # plain nbgrader needs it registered
    return course


def run(course, *argv, namespaces=True):
    prefix = [] if namespaces else WITHOUT_USER_NAMESPACES
    # As an instructor with the venv active: nbgrader runs `alembic` from PATH.
    env = {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])}
    argv = [*prefix, *argv]
    return subprocess.run(argv, cwd=course.root, env=env, capture_output=True, text=True, timeout=900)


def test_without_user_namespaces_nnla_autograde_refuses_and_says_how_to_go_on(course):
    done = run(course, sys.executable, "-m", "autograder.cli", "autograde", ASSIGNMENT, namespaces=False)
    assert done.returncode == 2
    assert "nnla refuses to grade" in done.stderr and "--without-isolation" in done.stderr
    assert not course.autograded("alice", ASSIGNMENT).exists()


def test_without_user_namespaces_plain_nbgrader_refuses_before_any_kernel_starts(course):
    nbgrader = [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--student=alice", "--force"]
    done = run(course, *nbgrader, namespaces=False)
    assert done.returncode != 0
    assert "nnla refuses to grade" in done.stdout + done.stderr, done.stderr[-3000:]


def test_grading_without_isolation_when_accepted_is_recorded_in_results(course):
    argv = [sys.executable, "-m", "autograder.cli", "autograde", ASSIGNMENT, "--without-isolation"]
    done = run(course, *argv, "--force", namespaces=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "isolation: resource limits only" in done.stdout
    results = json.loads((course.autograded("alice", ASSIGNMENT) / "results.json").read_text())
    isolation = results["extra_data"]["isolation"]
    assert isolation["level"] == "resource limits only" and isolation["accepted_without_isolation"] is True
    assert "separate process tree" in isolation["missing"]
    assert results["score"] == sum(
        FULL_MARKS.values()
    )  # every autograded point; written answers await a grader


def test_with_user_namespaces_results_record_full_isolation(course):
    done = run(course, sys.executable, "-m", "autograder.cli", "autograde", ASSIGNMENT, "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((course.autograded("alice", ASSIGNMENT) / "results.json").read_text())
    assert results["extra_data"]["isolation"]["level"] == "full"
    assert not any(results["extra_data"]["isolation"].get("missing", []))


class Graded(Exception):
    """Stands for the grading the demo goes on to, which the test does not need."""


def test_the_demo_runs_without_isolation_and_says_so_plainly(monkeypatch, capsys, tmp_path, repo):
    missing = Isolation({"resource limits": True, "separate process tree": False}, "the kernel refused")
    monkeypatch.setattr(demo, "isolation", lambda: missing)
    monkeypatch.delenv(ISOLATION_WAIVER, raising=False)

    def grade_class(*args, **kwargs):
        raise Graded(os.environ.get(ISOLATION_WAIVER))

    monkeypatch.setattr(demo, "grade_class", grade_class)
    with pytest.raises(Graded) as graded:
        demo.run_demo(repo, tmp_path / "demo")
    assert graded.value.args == ("1",)  # grading went on, accepted without isolation
    said = capsys.readouterr().out
    assert "This machine cannot isolate student code: separate process tree unavailable" in said
    assert "(the kernel refused)" in said


PROTECTION = """
from autograder.judge.isolation.sandbox import isolation
print(isolation().protections["unprivileged user without capabilities"])
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
@pytest.mark.parametrize(
    "prefix, own_uid", [(WITHOUT_USER_NAMESPACES, False), (ROOT_WITHOUT_NAMESPACES, True)]
)
def test_without_namespaces_root_claims_a_uid_of_its_own_only_where_it_has_uids_to_give(prefix, own_uid):
    """Root that maps only itself (a rootless container) cannot switch student code to another
    uid: its isolation must not claim it does."""
    done = subprocess.run(
        [*prefix, sys.executable, "-c", PROTECTION], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert done.stdout.split() == [str(own_uid)], done.stderr

"""Grading on a Dask cluster into a PostgreSQL gradebook, with real processes: a PostgreSQL
server, `dask scheduler` and `dask worker` processes, and `nnla autograde --scheduler`.

A class graded there gets the results it gets from the local pool; a worker killed mid-student,
a student whose task kills every worker, a worker with another grader and a coordinator killed
mid-run each cost nothing but time, and every student is in the gradebook exactly once.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.grading.nbgrader import open_gradebook
from autograder.submissions import write_submission
from tests.conftest import ASSIGNMENT, copy_course, demo_students, needs_isolation, processes_mentioning
from tests.servers import DaskCluster, Postgres, missing_postgres

pytestmark = [
    pytest.mark.e2e,
    needs_isolation,
    pytest.mark.skipif(bool(missing_postgres()), reason=str(missing_postgres())),
]

CLASS = ["alice", "bob", "dave", "erin"]
POISON = str(Path(__file__).with_name("dask_poison.py"))
# Two tries, so that the poison student costs the run two worker restarts, not four.
CLUSTER_ENV = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}


@pytest.fixture(scope="module")
def postgres():
    server = Postgres()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers, whose worker processes end themselves on a poison student."""
    dask = DaskCluster(tmp_path_factory.mktemp("dask"), CLUSTER_ENV)
    for _ in range(2):
        dask.add_worker(preload=POISON)
    dask.wait_for_workers(2)
    yield dask
    dask.stop()


def make_class(repo, folder: Path, students: list[str]):
    course = copy_course(repo, folder)
    answers = {s.id: s.answers for s in demo_students()}
    for student in students:
        source = answers.get(student, answers["alice"])  # poison-* submit alice's work
        write_submission(
            course.submitted(student, ASSIGNMENT),
            course.release(ASSIGNMENT),
            course.source(ASSIGNMENT),
            source,
        )
    return course


def autograde(course, *args: str, gradebook: str | None = None, wait: bool = True):
    env = {**os.environ, **({"NNLA_GRADEBOOK_URL": gradebook} if gradebook else {})}
    command = [sys.executable, "-m", "autograder.cli", "autograde", ASSIGNMENT, *args]
    if not wait:
        return subprocess.Popen(
            command, cwd=course.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    return subprocess.run(command, cwd=course.root, env=env, capture_output=True, text=True, timeout=900)


def results_of(course, student: str) -> dict:
    import json

    return json.loads((course.autograded(student, ASSIGNMENT) / "results.json").read_text())


def what_grading_decided(results: dict) -> dict:
    """Everything of a results.json but how long grading took."""
    extra = {k: v for k, v in results["extra_data"].items() if k != "seconds"}
    return {**{k: v for k, v in results.items() if k not in ("execution_time", "extra_data")}, "extra": extra}


def submissions_in_gradebook(course, gradebook: str) -> dict[str, int]:
    os.environ["NNLA_GRADEBOOK_URL"] = gradebook
    try:
        with open_gradebook(course) as gb:
            counted: dict[str, int] = {}
            for submission in gb.assignment_submissions(ASSIGNMENT):
                counted[submission.student.id] = counted.get(submission.student.id, 0) + 1
            return counted
    finally:
        del os.environ["NNLA_GRADEBOOK_URL"]


def busy_worker(client, seconds: float = 300) -> str:
    """The address of a worker that is running a task."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        busy = [w for w, keys in client.processing().items() if keys]
        if busy:
            executing = client.run(lambda dask_worker: len(dask_worker.state.executing), workers=busy)
            if found := next((w for w, n in executing.items() if n), None):
                return found
        time.sleep(0.2)
    raise AssertionError("no task started")


def test_a_class_graded_on_the_cluster_gets_the_local_pools_results(repo, tmp_path, postgres, cluster):
    local = make_class(repo, tmp_path / "local", CLASS)
    done = autograde(local, "--jobs", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    remote = make_class(repo, tmp_path / "remote", CLASS)
    gradebook = postgres.new_database("same_results")
    done = autograde(remote, "--scheduler", cluster.address, gradebook=gradebook)
    assert done.returncode == 0, done.stdout + done.stderr + cluster.logs()
    for student in CLASS:
        assert what_grading_decided(results_of(remote, student)) == what_grading_decided(
            results_of(local, student)
        )
        assert results_of(remote, student)["extra_data"]["fingerprint"] is not None
        notebooks = sorted(p.name for p in remote.autograded(student, ASSIGNMENT).glob("*.ipynb"))
        assert notebooks == sorted(p.name for p in local.autograded(student, ASSIGNMENT).glob("*.ipynb"))
        assert f"student with ID '{student}'" in remote.log(student, ASSIGNMENT).read_text()
    assert submissions_in_gradebook(remote, gradebook) == dict.fromkeys(CLASS, 1)
    assert not (remote.root / "gradebook.db").exists()
    # The workers keep nothing of the run: their course folders went with the run's end.
    assert not list(Path(tempfile.gettempdir()).glob("nnla-worker-*"))


def test_sqlite_is_refused_for_a_cluster_with_the_reason(repo, tmp_path, cluster):
    course = make_class(repo, tmp_path / "course", ["alice"])
    done = autograde(course, "--scheduler", cluster.address)
    assert done.returncode == 2
    assert "needs a gradebook that every worker can reach, such as PostgreSQL" in done.stderr
    assert "NNLA_GRADEBOOK_URL" in done.stderr
    assert not course.autograded("alice", ASSIGNMENT).exists()


def test_a_worker_killed_mid_student_costs_only_time(repo, tmp_path, postgres, cluster):
    course = make_class(repo, tmp_path / "course", CLASS)
    gradebook = postgres.new_database("killed_worker")
    run = autograde(course, "--scheduler", cluster.address, gradebook=gradebook, wait=False)
    with cluster.client() as client:
        victim = busy_worker(client)
        time.sleep(2)  # well into the student: grading one takes several seconds
        killed = client.run(os.getpid, workers=[victim])[victim]
        os.kill(killed, signal.SIGKILL)
    output, _ = run.communicate(timeout=600)
    assert run.returncode == 0, output + cluster.logs()
    for student in CLASS:
        assert results_of(course, student)["extra_data"]["fingerprint"], student
    assert submissions_in_gradebook(course, gradebook) == dict.fromkeys(CLASS, 1)
    cluster.wait_for_workers(2)  # the nanny restarted the killed worker
    with cluster.client() as client:
        assert killed not in client.run(os.getpid).values()


def test_a_student_whose_task_kills_every_worker_fails_alone(repo, tmp_path, postgres, cluster):
    students = ["alice", "poison-pill", "bob"]
    course = make_class(repo, tmp_path / "course", students)
    gradebook = postgres.new_database("poison")
    done = autograde(course, "--scheduler", cluster.address, gradebook=gradebook)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "grading failed for 1: poison-pill" in done.stdout
    poisoned = results_of(course, "poison-pill")
    assert poisoned["extra_data"]["fingerprint"] is None  # graded again by the next run
    assert "each try ended the worker grading it" in poisoned["output"]
    for student in ("alice", "bob"):
        assert results_of(course, student)["extra_data"]["fingerprint"], student
    assert submissions_in_gradebook(course, gradebook) == {"alice": 1, "bob": 1}
    cluster.wait_for_workers(2)


def other_grader(tmp_path: Path) -> Path:
    """A copy of nnla's code with one judge file changed: another grader fingerprint."""
    root = tmp_path / "other-nnla"
    shutil.copytree(Path(__file__).resolve().parents[1] / "autograder", root / "autograder")
    with open(root / "autograder" / "judge" / "runner.py", "a") as f:
        f.write("\n# another release of the judge\n")
    return root


def test_a_worker_with_another_grader_is_refused_and_gets_no_student(repo, tmp_path, postgres):
    course = make_class(repo, tmp_path / "course", ["alice", "bob"])
    gradebook = postgres.new_database("refused")
    dask = DaskCluster(tmp_path / "dask", CLUSTER_ENV)
    try:
        dask.add_worker(env={"PYTHONPATH": str(other_grader(tmp_path))})
        dask.wait_for_workers(1)
        done = autograde(course, "--scheduler", dask.address, gradebook=gradebook)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "refused: its grader differs from the coordinator's" in done.stderr
        assert "no worker of the cluster" in done.stderr
        assert not course.autograded("alice", ASSIGNMENT).exists()

        dask.add_worker()
        dask.wait_for_workers(2)
        done = autograde(course, "--scheduler", dask.address, gradebook=gradebook)
        assert done.returncode == 0, done.stdout + done.stderr + dask.logs()
        assert "refused: its grader differs" in done.stderr
        with dask.client() as client:
            executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
        assert sorted(executed.values()) == [0, 2], executed  # the refused worker graded no one
    finally:
        dask.stop()
    assert submissions_in_gradebook(course, gradebook) == {"alice": 1, "bob": 1}


def test_the_coordinator_killed_mid_run_resumes_with_the_same_command(repo, tmp_path, postgres, cluster):
    course = make_class(repo, tmp_path / "course", CLASS)
    gradebook = postgres.new_database("resumed")
    run = autograde(course, "--scheduler", cluster.address, gradebook=gradebook, wait=False)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if sum((course.autograded(s, ASSIGNMENT) / "results.json").is_file() for s in CLASS) >= 1:
            break
        time.sleep(0.1)
    run.kill()
    run.wait()
    first = {s for s in CLASS if (course.autograded(s, ASSIGNMENT) / "results.json").is_file()}
    assert first and first != set(CLASS), first
    done = autograde(course, "--scheduler", cluster.address, gradebook=gradebook)
    assert done.returncode == 0, done.stdout + done.stderr + cluster.logs()
    assert f"{len(first)} of {len(CLASS)} students are already graded and unchanged" in done.stderr
    for student in CLASS:
        assert results_of(course, student)["extra_data"]["fingerprint"], student
    assert submissions_in_gradebook(course, gradebook) == dict.fromkeys(CLASS, 1)
    assert not processes_mentioning(str(course.root))


def test_a_grading_process_killed_mid_student_costs_that_student_this_run_only(
    repo, tmp_path, postgres, cluster
):
    import psutil

    course = make_class(repo, tmp_path / "course", CLASS)
    gradebook = postgres.new_database("killed_grader")
    run = autograde(course, "--scheduler", cluster.address, gradebook=gradebook, wait=False)
    with cluster.client() as client:
        worker = busy_worker(client)
        time.sleep(2)
        pid = client.run(os.getpid, workers=[worker])[worker]
        graders = [
            p for p in psutil.Process(pid).children() if "autograder.grading.process" in " ".join(p.cmdline())
        ]
        assert len(graders) == 1, graders
        graders[0].kill()
    output, _ = run.communicate(timeout=600)
    assert run.returncode == 1, output
    failed = [s for s in CLASS if results_of(course, s)["extra_data"]["fingerprint"] is None]
    assert len(failed) == 1, output
    assert "the grading process ended with exit code -9" in results_of(course, failed[0])["output"]
    done = autograde(course, "--scheduler", cluster.address, gradebook=gradebook)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 of 4 students are already graded and unchanged" in done.stderr
    assert all(results_of(course, s)["extra_data"]["fingerprint"] for s in CLASS)
    assert submissions_in_gradebook(course, gradebook) == dict.fromkeys(CLASS, 1)

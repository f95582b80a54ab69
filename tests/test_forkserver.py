"""The judge's fork server: every student's worker is as isolated as a sandbox of its own."""

import os
from pathlib import Path

import pytest

from autograder.judge.client import Cell, ForkServer, StudentCrash, StudentProcess
from autograder.sandbox import FIRST_SANDBOX_UID, SandboxSpec, protections
from tests.conftest import processes_mentioning

pytestmark = pytest.mark.skipif(not all(protections().values()), reason="needs the full sandbox (root)")

LIMITS = SandboxSpec(scratch="", cpu_seconds=20, memory_mb=1024)
SERVER_MARK = "def serve_forever"  # in the command line of the server and of all it forks

PROBE = """
import os, signal, time

def who():
    return [os.getuid(), os.getgid(), os.getpid(), os.getcwd(), sorted(os.listdir("/tmp"))]

def linger():
    open("/tmp/left-behind", "w").close()
    if os.fork() == 0:
        os.setsid()
        time.sleep(600)
        os._exit(0)

def attack(pid):
    try:
        os.kill(pid, signal.SIGKILL)
        return "killed"
    except OSError as e:
        return type(e).__name__
"""


@pytest.fixture
def server():
    server = ForkServer()
    yield server
    server.close()


def student(server: ForkServer) -> StudentProcess:
    process = StudentProcess(LIMITS, server)
    process.add_notebook("probe", [Cell("probe", PROBE)])
    return process


def who(process: StudentProcess) -> tuple[int, int, int, str, list[str]]:
    reply = process.call("probe", "who")
    assert reply.ok, reply.error
    return tuple(reply.value)


def processes_of(uid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _owner(p) == uid]


def _owner(proc: Path) -> int | None:
    try:
        return proc.stat().st_uid
    except OSError:
        return None


def test_each_students_worker_runs_as_a_user_of_its_own_in_a_folder_of_its_own(server):
    with student(server) as alice, student(server) as bob:
        uid_a, gid_a, _, cwd_a, _ = who(alice)
        uid_b, gid_b, _, cwd_b, _ = who(bob)
    assert uid_a >= FIRST_SANDBOX_UID and uid_b >= FIRST_SANDBOX_UID and uid_a != uid_b
    assert (gid_a, gid_b) == (uid_a, uid_b)
    assert cwd_a != cwd_b


def test_nothing_a_student_started_or_left_in_tmp_outlives_their_worker(server):
    with student(server) as alice:
        uid = who(alice)[0]
        assert alice.call("probe", "linger").ok
        assert processes_of(uid) and "left-behind" in who(alice)[4]
    assert processes_of(uid) == []
    with student(server) as bob:
        assert "left-behind" not in who(bob)[4]


def test_a_student_can_signal_neither_the_server_nor_another_students_worker(server):
    with student(server) as alice, student(server) as bob:
        bobs_pid = who(bob)[2]
        assert alice.call("probe", "attack", 1).value == "PermissionError"  # the server is PID 1
        assert alice.call("probe", "attack", bobs_pid).value == "PermissionError"
        assert who(bob)
    with student(server) as carol:
        assert who(carol)


def test_a_worker_that_exits_is_seen_to_have_ended_and_a_new_one_serves(server):
    with student(server) as alice:
        first = who(alice)[0]
        alice.add_notebook("exit", [Cell("exit", "import os\ndef leave():\n    os._exit(3)")])
        with pytest.raises(StudentCrash):
            alice.call("exit", "leave")
        assert not alice.alive
    with student(server) as bob:
        assert who(bob)[0] != first


def test_closing_the_server_ends_it_and_every_worker(server):
    alice = student(server)
    uid = who(alice)[0]
    assert alice.call("probe", "linger").ok
    assert processes_mentioning(SERVER_MARK)
    server.close()
    assert processes_mentioning(SERVER_MARK) == []
    assert processes_of(uid) == []
    assert not alice.alive
    assert os.getpid()  # the grader itself is untouched

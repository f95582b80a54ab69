"""The judge's fork server: every student's worker is as isolated as a sandbox of its own."""

import os

import pytest

from autograder.judge.isolation.client import Cell, ForkServer, StudentCrash, StudentProcess
from autograder.judge.isolation.sandbox import SandboxSpec
from tests.conftest import needs_isolation, processes_mentioning

pytestmark = needs_isolation

LIMITS = SandboxSpec(scratch="", cpu_seconds=20, memory_mb=1024)

PROBE = """
import os, signal, time

def who():
    status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines())
    return [os.getuid(), int(status["CapEff"], 16), os.getpid(), os.getcwd(), sorted(os.listdir(".")),
            sorted(int(p) for p in os.listdir("/proc") if p.isdigit())]

def write(path):
    try:
        open(path, "w").close()
        return "written"
    except OSError as e:
        return type(e).__name__

def peek(path):
    try:
        return sorted(os.listdir(path))
    except OSError as e:
        return type(e).__name__

def linger():
    open("left-behind", "w").close()
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


def test_each_students_worker_runs_unprivileged_alone_in_its_own_process_tree(server):
    with student(server) as alice, student(server) as bob:
        uid_a, caps_a, pid_a, cwd_a, tmp_a, procs_a = who(alice)
        uid_b, caps_b, pid_b, _, _, procs_b = who(bob)
    assert (uid_a, caps_a, pid_a, cwd_a, tmp_a, procs_a) == (1000, 0, 1, server._scratch, [], [1])
    assert (uid_b, caps_b, pid_b, procs_b) == (1000, 0, 1, [1])


def test_a_worker_writes_only_in_a_folder_of_its_own_in_place_of_the_servers(server):
    with student(server) as alice:
        assert alice.call("probe", "peek", server._scratch).value == []
        assert [alice.call("probe", "write", p).value for p in ("x", "/tmp/x", "/x", "/dev/x")] == [
            "written",
            *["OSError"] * 3,
        ]


def test_nothing_a_student_started_or_left_in_tmp_outlives_their_worker(server):
    with student(server) as alice:
        assert alice.call("probe", "linger").ok
        assert len(who(alice)[5]) == 2 and "left-behind" in who(alice)[4]
        # the launcher, the server, alice's guard, her worker and the process it left running
        assert len(processes_mentioning(server._scratch)) == 5
    assert len(processes_mentioning(server._scratch)) == 2
    with student(server) as bob:
        assert who(bob)[4] == []


def test_a_student_can_signal_neither_the_server_nor_another_students_worker(server):
    with student(server) as alice, student(server) as bob:
        assert alice.call("probe", "attack", 2).value == "ProcessLookupError"
        assert alice.call("probe", "attack", -1).value == "ProcessLookupError"
        assert who(bob)
    with student(server) as carol:
        assert who(carol)


def test_signalling_its_own_process_group_ends_nothing_outside_the_worker(server):
    """kill(0) reaches the caller's process group: the worker's own session, not its guard's
    (whose death would end the worker, sooner or later: a verdict that varies from run to run)."""
    with student(server) as alice:
        assert alice.call("probe", "attack", 0).value == "killed"  # as PID 1, the worker itself survives
        assert who(alice)[2] == 1 and alice.alive


def test_a_worker_that_exits_is_seen_to_have_ended_and_a_new_one_serves(server):
    with student(server) as alice:
        alice.add_notebook("exit", [Cell("exit", "import os\ndef leave():\n    os._exit(3)")])
        with pytest.raises(StudentCrash):
            alice.call("exit", "leave")
        assert not alice.alive
    with student(server) as bob:
        assert who(bob)[2] == 1


def test_closing_the_server_ends_it_and_every_worker(server):
    alice = student(server)
    assert alice.call("probe", "linger").ok
    scratch = server._scratch
    assert len(processes_mentioning(scratch)) == 5
    server.close()
    assert processes_mentioning(scratch) == []
    assert not alice.alive
    assert os.getpid()  # the grader itself is untouched

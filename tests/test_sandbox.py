"""The sandbox itself: what student code can see and do there."""

import os
import subprocess
import sys
import tempfile
import time
from textwrap import dedent

import pytest

from autograder.sandbox import FIRST_SANDBOX_UID, SandboxSpec, protections, sandboxed
from tests.conftest import REPO, processes_mentioning

pytestmark = pytest.mark.skipif(not all(protections().values()), reason="needs the full sandbox (root)")


def run_sandboxed(code: str, **limits) -> subprocess.CompletedProcess:
    scratch = tempfile.mkdtemp(prefix="nnla-test-")
    try:
        argv = sandboxed([sys.executable, "-I", "-c", code], SandboxSpec(scratch=scratch, **limits))
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run(["rm", "-rf", scratch, scratch + ".root"], check=False)


def test_student_code_runs_as_its_own_unprivileged_user_in_its_own_process_tree():
    done = run_sandboxed("import os; print(os.getuid(), os.getpid(), os.getppid())")
    uid, pid, ppid = map(int, done.stdout.split())
    assert uid >= FIRST_SANDBOX_UID and pid == 1 and ppid == 0


def test_the_course_the_reference_and_the_grader_do_not_exist_inside():
    hidden = [str(REPO / "nnla_ref"), str(REPO / "autograder"), str(REPO / "source"), "/root/.cache"]
    done = run_sandboxed(f"import os; print([os.path.exists(p) for p in {hidden!r}])")
    assert done.stdout.strip() == str([False] * len(hidden))


def test_numpy_and_matplotlib_work_inside():
    done = run_sandboxed("import numpy, matplotlib.pyplot as plt; plt.subplots(); print(numpy.ones(2).sum())")
    assert done.stdout.strip() == "2.0", done.stderr


def test_there_is_no_network():
    code = dedent("""
        import socket
        try:
            socket.create_connection(("127.0.0.1", 1), timeout=1)
        except OSError as e:
            print(e.errno)
    """)
    assert run_sandboxed(code).stdout.strip() in {"101", "111", "99"}


def test_only_the_scratch_folder_is_writable():
    code = (
        "import sys\n"
        f"for path in ('x', '/usr/x', '{REPO}/x'):\n"
        "    try:\n        open(path, 'w').write('x'); print('ok', path)\n"
        "    except OSError as e:\n        print('denied', path)"
    )
    assert run_sandboxed(code).stdout.split() == ["ok", "x", "denied", "/usr/x", "denied", f"{REPO}/x"]


def test_memory_and_processes_are_capped():
    code = dedent("""
        import os
        try:
            bytearray(4 * 2**30)
        except MemoryError:
            print("memory capped")
        try:
            for _ in range(1000):
                if os.fork() == 0:
                    os._exit(0)
        except OSError:
            print("processes capped")
    """)
    done = run_sandboxed(code, memory_mb=512, max_processes=8)
    assert done.stdout.split("\n")[:2] == ["memory capped", "processes capped"]


STARTER = """
import os, subprocess, sys
from autograder.sandbox import SandboxSpec, sandboxed
scratch, then = sys.argv[1:]
command = [sys.executable, "-I", "-c", "open('ran', 'w').close()"]
child = subprocess.Popen(sandboxed(command, SandboxSpec(scratch)))
if then == "wait":
    child.wait()
os._exit(0)
"""


@pytest.mark.parametrize("then, runs", [("wait", True), ("exit", False)])
def test_a_sandbox_whose_starter_ended_before_it_got_going_does_not_run(then, runs):
    """A grader killed while a kernel starts must not leave that kernel running unattended."""
    scratch = tempfile.mkdtemp(prefix="nnla-test-")
    try:
        subprocess.run([sys.executable, "-c", STARTER, scratch, then], check=True, timeout=60)
        deadline = time.monotonic() + 10
        while processes_mentioning(scratch) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_mentioning(scratch) == []
        assert os.path.exists(os.path.join(scratch, "ran")) == runs
    finally:
        subprocess.run(["rm", "-rf", scratch, scratch + ".root"], check=False)

"""The sandbox itself: what student code can see and do there, as root and as an ordinary user."""

import importlib.util
import json
import os
import site
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from textwrap import dedent

import pytest

from autograder.course import Course
from autograder.judge.isolation.sandbox import FIRST_SANDBOX_UID, REFUSED, SandboxSpec, sandboxed
from autograder.plugin import load_plugin
from tests.conftest import (
    ASSIGNMENT,
    REPO,
    WITHOUT_USER_NAMESPACES,
    needs_isolation,
    processes_mentioning,
)

pytestmark = needs_isolation


def run_sandboxed(code: str, **limits) -> subprocess.CompletedProcess:
    scratch = tempfile.mkdtemp(prefix="nnla-test-")
    try:
        argv = sandboxed([sys.executable, "-I", "-c", code], SandboxSpec(scratch=scratch, **limits))
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run(["rm", "-rf", scratch, scratch + ".root"], check=False)


def test_student_code_runs_unprivileged_with_no_capabilities_as_pid_1():
    code = dedent("""
        import json, os
        status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines())
        print(json.dumps([os.getuid(), os.getgid(), os.getpid(), os.getppid(),
                          int(status["CapEff"], 16), int(status["CapPrm"], 16), status["NoNewPrivs"]]))
    """)
    done = run_sandboxed(code)
    assert json.loads(done.stdout) == [1000, 1000, 1, 0, 0, 0, "1"], done.stderr


def test_outside_the_sandbox_its_processes_belong_to_a_sandbox_user_or_to_the_grader():
    """As root, each sandbox has a uid of its own; as an ordinary user, the grader's own uid
    (which its namespaces keep away from everything of the grader's)."""
    scratch = tempfile.mkdtemp(prefix="nnla-test-")
    try:
        sleeper = [sys.executable, "-I", "-c", "import time; time.sleep(30)"]
        child = subprocess.Popen(sandboxed(sleeper, SandboxSpec(scratch=scratch)))
        deadline = time.monotonic() + 20
        while not (pids := [p for p in processes_mentioning("time.sleep(30)") if _cmdline(p) == sleeper]):
            assert time.monotonic() < deadline  # the launcher has exec'd the command
            time.sleep(0.05)
        owner = Path(f"/proc/{pids[0]}").stat().st_uid
        child.kill()
        child.wait()
    finally:
        subprocess.run(["rm", "-rf", scratch, scratch + ".root"], check=False)
    if os.geteuid() == 0:
        assert owner >= FIRST_SANDBOX_UID
    else:
        assert owner == os.geteuid()


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    except OSError:
        return []


def test_the_course_the_reference_and_the_grader_do_not_exist_inside():
    hidden = [
        str(REPO / "nnla_ref"),
        str(REPO / "autograder"),
        str(REPO / "source"),
        str(REPO / "nbgrader_config.py"),
        os.path.expanduser("~/.bashrc"),
    ]
    done = run_sandboxed(f"import os; print([os.path.exists(p) for p in {hidden!r}])")
    assert done.stdout.strip() == str([False] * len(hidden)), done.stderr


def test_the_graders_packages_cannot_be_imported_inside_wherever_pip_put_them():
    """A plain `pip install .` puts the grader and an assignment's reference into site-packages,
    which the sandbox shows: they are covered there, once grading has loaded the assignment."""
    load_plugin(Course(REPO), ASSIGNMENT)
    names = ("autograder", "nnla_ref")
    installed = [os.path.dirname(importlib.util.find_spec(n).origin) for n in names]
    installed += [os.path.join(d, n) for d in site.getsitepackages() for n in names]
    code = dedent(f"""
        import importlib, json, os
        found = []
        names = ("nnla_ref.params", "autograder.judge.isolation.sandbox", "autograder.plugin")
        for name in names:
            try:
                importlib.import_module(name)
                found.append(name)
            except ImportError:
                pass
        print(json.dumps([found, [os.path.isdir(p) and os.listdir(p) for p in {installed!r}]]))
    """)
    done = run_sandboxed(code)
    found, listings = json.loads(done.stdout)
    assert found == [] and not any(listings), done.stdout


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


def test_student_code_writes_only_in_its_scratch_folder_and_its_own_tmp():
    """Inside, the system and Python folders are read-only; whatever else it writes (the course's
    path too, which may exist inside only as a folder on the way to a venv in it) stays inside."""
    scratch = tempfile.mkdtemp(prefix="nnla-test-")
    x = os.path.basename(scratch) + ".txt"  # a name of its own: /tmp is shared
    paths = (
        x,
        f"/tmp/{x}",
        f"/dev/shm/{x}",
        f"{REPO}/{x}",
        f"/usr/{x}",
        f"{sys.prefix}/{x}",
        f"/{x}",
        f"/dev/{x}",
    )
    code = (
        f"for path in {paths!r}:\n"
        "    try:\n        open(path, 'w').write('x'); print('ok')\n"
        "    except OSError:\n        print('denied')"
    )
    try:
        argv = sandboxed([sys.executable, "-I", "-c", code], SandboxSpec(scratch=scratch))
        said = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.split()
        written_in_scratch = os.path.exists(os.path.join(scratch, x))
    finally:
        subprocess.run(["rm", "-rf", scratch, scratch + ".root"], check=False)
    assert said[:3] == ["ok"] * 3 and said[4:] == ["denied"] * 4, said
    assert written_in_scratch
    assert not any(os.path.exists(p) for p in paths[1:])


def test_no_process_of_the_machine_is_visible_or_can_be_signalled():
    code = dedent("""
        import os, signal
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        results = []
        for target in (2, 300, -1):  # -1: every process it may signal
            try:
                os.kill(target, signal.SIGKILL)
                results.append("sent")
            except OSError as e:
                results.append(type(e).__name__)
        print(pids, results)
    """)
    done = run_sandboxed(code)
    pids, results = done.stdout.strip().split(" ", 1)
    assert pids == "[1]"
    assert results == "['ProcessLookupError', 'ProcessLookupError', 'ProcessLookupError']"


def test_a_new_user_namespace_does_not_lead_out_of_the_sandbox():
    """Student code may make a user namespace of its own and gain capabilities there; with them
    it can remount only its own view, and the old root is gone (pivot_root, not chroot)."""
    code = dedent(f"""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        uid = os.getuid()
        print(libc.unshare(0x10000000 | 0x00020000))
        open("/proc/self/setgroups", "w").write("deny")
        open("/proc/self/uid_map", "w").write(f"0 {{uid}} 1")
        os.mkdir("jail"); os.chroot("jail")
        for _ in range(20):
            os.chdir("..")
        os.chroot(".")
        print(sorted(os.listdir("/"))[:3], os.path.exists({str(REPO / "nnla_ref")!r}))
    """)
    done = run_sandboxed(code)
    lines = done.stdout.split("\n")
    assert lines[0] == "0", done.stderr
    assert lines[1].endswith("False"), done.stdout


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


# Started as jupyter_client starts a kernel, in a session of its own: the launcher, a session
# leader, may not call setsid() (which it once did, so that every kernel of an ordinary user died).
STARTER_WITHOUT_NAMESPACES = """
import subprocess, sys
from autograder.judge.isolation.sandbox import SandboxSpec, sandboxed
command = [sys.executable, "-c", "print('student code ran')"]
sys.exit(subprocess.run(sandboxed(command, SandboxSpec(sys.argv[1])), start_new_session=True).returncode)
"""


def test_without_namespaces_the_launcher_refuses_unless_told_to_go_on(tmp_path):
    """Inside a user namespace that may create none (max_user_namespaces = 0), as on machines
    that forbid them, the launcher runs nothing; accepted explicitly, it runs with limits only."""
    for waiver, expected in (("0", REFUSED), ("1", 0)):
        done = subprocess.run(
            [*WITHOUT_USER_NAMESPACES, sys.executable, "-c", STARTER_WITHOUT_NAMESPACES, str(tmp_path)],
            capture_output=True,
            text=True,
            env={**os.environ, "NNLA_WITHOUT_ISOLATION": waiver},
            cwd=REPO,
            timeout=60,
        )
        assert done.returncode == expected, done.stderr
        assert ("student code ran" in done.stdout) == (expected == 0)
        assert ("refused new namespaces" in done.stderr) == (expected != 0)


STARTER = """
import os, subprocess, sys
from autograder.judge.isolation.sandbox import SandboxSpec, sandboxed
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
        subprocess.run([sys.executable, "-c", STARTER, scratch, then], check=True, timeout=60, cwd=REPO)
        deadline = time.monotonic() + 10
        while processes_mentioning(scratch) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_mentioning(scratch) == []
        assert os.path.exists(os.path.join(scratch, "ran")) == runs
    finally:
        subprocess.run(["rm", "-rf", scratch, scratch + ".root"], check=False)

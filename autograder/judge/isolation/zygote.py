"""The kernel zygote: a process that has imported ipykernel, numpy and matplotlib once, and forks
each notebook's kernel from that warm state instead of starting Python afresh.

A new kernel costs about 1 s of start-up and 0.6 s more for the notebook's first imports; a
fork of the zygote skips both. The grader starts one zygote per grading process
(autograder.judge.kernel) as

    python -c BOOT GRADER_ROOT HOME   with a Unix socket to the grader as fd 0, in folder HOME,

with a sandbox's environment: as a kernel's own interpreter starts, so that it has the same flags.

BOOT imports the warm modules first, then this module. Requests and replies are JSON messages
on the socket (SOCK_SEQPACKET, one message each):

    {"op": "spawn", "argv": [...], "spec": {...},  ->  {"pid": N} with a pidfd of process N
     "waived": bool}
    {"op": "status", "pid": N}                     ->  {"status": exit code, or null if running}

Each spawn forks a child that builds the same sandbox a fresh kernel gets: it runs the
sandbox launcher's own steps (autograder.judge.isolation.sandbox, `_launch`: scratch folder,
uid, namespaces, root file system, limits, no capabilities), and only then, as PID 1 of the
new namespaces, turns into the kernel (`start_kernel`). Every kernel is forked from the
zygote, never from a used kernel, and the zygote never runs student code, so no student sees
another's state. The zygote itself is given nothing a kernel may not see: the sandbox's own
environment, a folder of its own, no grader modules in the kernel (they are imported after
the warm ones and dropped in the child).
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import socket
import sys
import tempfile
from collections.abc import Collection

from autograder.judge.isolation.namespaces import libc
from autograder.judge.isolation.sandbox import ISOLATION_WAIVER, SandboxSpec, _launch

# The modules every notebook's kernel needs, imported once by the zygote (BOOT).
WARM_MODULES = (
    "numpy",
    "matplotlib.pyplot",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
)
BOOT = f"""
import sys
for name in {WARM_MODULES!r}:
    __import__(name)
warm = set(sys.modules)
sys.path.insert(0, sys.argv[1])
from autograder.judge.isolation.zygote import serve
serve(warm, sys.argv[1])
"""
PR_SET_DUMPABLE = 4
KERNEL_LAUNCHER = "ipykernel_launcher"
LAUNCHER_FILE = getattr(importlib.util.find_spec(KERNEL_LAUNCHER), "origin", None) or KERNEL_LAUNCHER


def serve(warm: Collection[str], grader_root: str) -> None:
    """Answer the grader's requests on fd 0 until it closes the socket."""
    import gc

    if len(os.listdir("/proc/self/task")) != 1:  # a fork keeps only this thread: unsafe with others
        sys.exit("nnla kernel zygote: its imports started threads; kernels start afresh")
    gc.freeze()  # what the collector never visits stays shared with the forked kernels
    channel = socket.socket(fileno=os.dup(0))
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.close(devnull)
    exited: dict[int, int] = {}
    while request := channel.recv(1 << 20):
        request = json.loads(request)
        fds: list[int] = []
        if request["op"] == "spawn":
            pid = os.fork()
            if pid == 0:
                _become_kernel(request, warm, grader_root)
            reply, fds = {"pid": pid}, [os.pidfd_open(pid)]
        else:
            _reap(exited)
            reply = {"status": exited.pop(request["pid"], None)}
        socket.send_fds(channel, [json.dumps(reply).encode()], fds)
        for fd in fds:
            os.close(fd)
        _reap(exited)


def _reap(exited: dict[int, int]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exited[pid] = os.waitstatus_to_exitcode(status)


def _become_kernel(request: dict, warm: Collection[str], grader_root: str) -> None:
    """In the forked child: the sandbox launcher, as a fresh kernel gets it; never returns."""
    code = 70
    try:
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        os.setsid()  # as jupyter_client starts a kernel: the grader signals its process group
        spec = SandboxSpec(**request["spec"])
        # The zygote's environment is a sandbox's: the grader's acceptance comes with each request.
        os.environ[ISOLATION_WAIVER] = "1" if request["waived"] else "0"

        def start(argv: list[str], env: dict[str, str]) -> None:
            start_kernel(argv, env, warm, grader_root)

        code = _launch(spec, request["argv"], os.getppid(), start)
    finally:
        os._exit(code)


def start_kernel(argv: list[str], env: dict[str, str], warm: Collection[str], grader_root: str) -> None:
    """Run `argv`, an ipykernel command, in this process, as PID 1 of the sandbox: what
    `python -m ipykernel_launcher ...` would do, from the warm state. Returns only where this
    process would not start as a fresh one would (the launcher then execs `argv`)."""
    if reason_to_start_afresh(argv, warm):
        return
    for name in [n for n in sys.modules if n not in warm]:
        del sys.modules[name]
    sys.path.remove(grader_root)
    if sys.path[0] == "":  # as ipykernel_launcher does; IPython puts it back before site-packages
        del sys.path[0]
    sys.path_importer_cache.clear()
    os.environ.clear()
    os.environ.update(env)
    # What a fresh interpreter would have: PYTHONDONTWRITEBYTECODE is read at start-up, and the
    # random state comes from the system.
    sys.argv = [LAUNCHER_FILE, *argv[3:]]
    sys.orig_argv = list(argv)
    sys.dont_write_bytecode = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    tempfile.tempdir = None
    # A change of uid (root's grader to the sandbox's user) left this process undumpable, so
    # its own /proc/self/environ, fd and the like unreadable; an exec would have reset that.
    libc().prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    _forget_matplotlib_folders()
    import numpy

    numpy.random.seed()
    atexit._clear()
    code: int | str | None = 0
    try:
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
    except SystemExit as stop:
        code = stop.code
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code if isinstance(code, int) else 1)


def reason_to_start_afresh(argv: list[str], warm: Collection[str]) -> str:
    """Why a fork would not behave as a fresh kernel here ("" if it would): another command, or
    files in the working folder that a fresh interpreter reads as it starts: a module shadowing
    one the zygote imported, matplotlib settings, a user site folder."""
    if argv[:3] != [sys.executable, "-m", KERNEL_LAUNCHER]:
        return "not an ipykernel of this Python"
    loaded = {name.partition(".")[0] for name in warm} | {KERNEL_LAUNCHER}
    for entry in os.listdir("."):
        stem = entry.partition(".")[0]
        module = entry.endswith((".py", ".pyc", ".so", ".pyd")) or os.path.isfile(
            os.path.join(entry, "__init__.py")
        )
        if module and stem in loaded:
            return f"{entry} shadows the module {stem}"
    for path in ("matplotlibrc", ".matplotlib/matplotlibrc", ".matplotlib/stylelib", ".local/lib"):
        if os.path.lexists(path):
            return f"{path} configures a fresh interpreter"
    return ""


def _forget_matplotlib_folders() -> None:
    """matplotlib remembers its config and cache folders once asked: the zygote's. A fresh
    kernel finds the sandbox's (MPLCONFIGDIR) when it first needs them."""
    matplotlib = sys.modules.get("matplotlib")
    for function in (getattr(matplotlib, "get_configdir", None), getattr(matplotlib, "get_cachedir", None)):
        cells = dict(zip(function.__code__.co_freevars, function.__closure__ or ())) if function else {}
        if "called" in cells:
            cells["called"].cell_contents = False

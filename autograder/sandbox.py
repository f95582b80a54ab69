"""Run a command where student code can do no harm: limits, namespaces, an unprivileged user.

`sandboxed(argv, spec)` returns the command line that runs `argv` through this module's
launcher. The launcher starts as the grader's user and, before it execs `argv`:

- copies `spec.seed` (a folder) and `spec.copy_in` (single files) into a fresh scratch
  folder, which becomes the working directory and the only writable place;
- when it is root and the kernel allows it: enters new mount, network, PID, IPC and UTS
  namespaces and changes root to a tmpfs holding read-only views of the system folders and
  the Python installation only (`visible_paths`), plus the scratch folder. So there is no
  network, no process outside is visible or killable, and the course, the gradebook, other
  submissions, the reference and the hidden suites, wherever they are on disk, do not exist;
- sets resource limits: CPU seconds, address space, processes, file size, no core dumps;
- when it is root: switches to an unprivileged uid of its own (distinct per sandbox), so that
  files it writes, signals it sends and its process count are its own; unless the spec says
  `drop_privileges=False`, for a trusted program that runs no student code itself and gives
  each process it forks a uid of its own (the judge's fork server, judge/forkserver.py);
- ties itself to the process that started it: when that process ends, the sandbox ends, also
  when it ended before the launcher could ask the kernel for that (the launcher then stops).

What this machine does not grant is said once, by `describe_missing()`, and skipped.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND = 0x1, 0x2, 0x4, 0x1000
MS_REMOUNT, MS_REC, MS_PRIVATE = 0x20, 0x4000, 0x40000
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
FIRST_SANDBOX_UID = 200_000
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


@dataclass
class SandboxSpec:
    """What a sandboxed process may use. Sizes in MB, times in seconds."""

    scratch: str
    seed: str | None = None
    copy_in: dict[str, str] = field(default_factory=dict)
    cpu_seconds: int | None = None
    memory_mb: int | None = None
    max_processes: int = 32
    max_file_mb: int = 64
    env: dict[str, str] = field(default_factory=dict)
    drop_privileges: bool = True


def sandboxed(argv: list[str], spec: SandboxSpec) -> list[str]:
    """The command line that runs `argv` inside a sandbox described by `spec`.

    This process must start it: the launcher ends at once if its parent is not this process.
    """
    spec_json = json.dumps(asdict(spec))
    return [sys.executable, "-I", "-m", "autograder.sandbox", spec_json, str(os.getpid()), "--", *argv]


def visible_paths() -> list[str]:
    """What the sandbox shows, read-only: system folders and this Python (base and venv)."""
    python = (sys.prefix, sys.base_prefix, os.path.dirname(sys.executable))
    prefixes = {os.path.realpath(p) for p in python}
    return [p for p in (*SYSTEM_PATHS, *sorted(prefixes)) if os.path.lexists(p)]


def matplotlib_cache() -> dict[str, str]:
    """The grader's matplotlib font cache, to copy in: building it costs each sandbox ~0.5 s."""
    try:
        import matplotlib
        from matplotlib import font_manager  # noqa: F401 - builds the cache if missing
    except ImportError:
        return {}
    folder = matplotlib.get_cachedir()
    return {
        os.path.join(folder, name): os.path.join(".matplotlib", name)
        for name in os.listdir(folder)
        if name.startswith("fontlist")
    }


@cache
def protections() -> dict[str, bool]:
    """Which protections this machine grants, measured once by starting a sandbox."""
    is_root = os.geteuid() == 0
    isolated = False
    if is_root and sys.platform.startswith("linux"):
        scratch = tempfile.mkdtemp(prefix="nnla-probe-")
        probe = f"import os; print(os.getuid(), os.getpid(), os.path.exists({os.path.abspath(__file__)!r}))"
        try:
            done = subprocess.run(
                sandboxed([sys.executable, "-I", "-c", probe], SandboxSpec(scratch=scratch)),
                capture_output=True,
                text=True,
                timeout=60,
            )
            isolated = done.returncode == 0 and done.stdout.split()[1:] == ["1", "False"]
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.rmtree(root_mountpoint(scratch), ignore_errors=True)
    return {
        "resource limits": True,
        "unprivileged user": is_root,
        "no network": isolated,
        "only system and Python files visible": isolated,
        "separate process tree": isolated,
    }


def describe_missing() -> str | None:
    """One sentence naming the protections this machine lacks, or None when all are there."""
    missing = [name for name, ok in protections().items() if not ok]
    if not missing:
        return None
    why = "the grader is not running as root" if os.geteuid() != 0 else "the kernel refused namespaces"
    return (
        f"sandbox: {', '.join(missing)} unavailable here ({why}); "
        "student code runs with resource limits only."
    )


def _uid_for(scratch: str) -> int:
    """A uid no one else uses, distinct per scratch folder (so per sandbox)."""
    return FIRST_SANDBOX_UID + (os.stat(scratch).st_ino % 1_000_000)


# ---------------------------------------------------------------- the launcher itself


def die_with_parent(parent_alive: Callable[[], bool] | None = None) -> None:
    """Have the kernel SIGKILL this process when the thread that started it ends (Linux only).

    A parent that ended before this call sends no signal, so a process that can tell whether its
    parent is still there (`parent_alive`) ends at once if it is not. A change of uid clears the
    setting, so a process that switches uid must call this again.
    """
    if sys.platform.startswith("linux"):
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent_alive is not None and not parent_alive():
        os._exit(137)  # as if killed: whoever wanted this process is gone


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _encode(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None):
    result = libc.mount(
        _encode(source), _encode(target), _encode(fstype), ctypes.c_ulong(flags), _encode(data)
    )
    _check(result, f"mount {target}")


def _prepare_scratch(spec: SandboxSpec, uid: int) -> None:
    scratch = spec.scratch
    if spec.seed and os.path.isdir(spec.seed):
        shutil.copytree(spec.seed, scratch, dirs_exist_ok=True, symlinks=True)
    for src, rel in spec.copy_in.items():
        dest = os.path.join(scratch, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(src, dest)
    if os.geteuid() == 0 and spec.drop_privileges:
        for folder, dirs, files in os.walk(scratch):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.lchown(name, uid, uid)
    # A process that keeps root gives its children folders of their own inside: they may pass
    # through the scratch folder, not list or change it.
    os.chmod(scratch, 0o700 if spec.drop_privileges else 0o711)


def _build_root(libc, root: str, scratch: str) -> None:
    """A tmpfs at `root` with /dev, /proc, an empty /tmp, read-only system and Python folders,
    and the scratch folder, mounted in that order so that none covers a later one (the
    Python installation or the scratch folder may well live under /tmp)."""
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    _mount(libc, "tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    for path in ("/dev", "/proc", "/tmp"):
        os.makedirs(root + path, exist_ok=True)
    _mount(libc, "/dev", root + "/dev", None, MS_BIND | MS_REC)
    _mount(libc, "proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV)
    _mount(libc, "tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    for path in visible_paths():
        inside = root + path
        if os.path.islink(path):  # /bin -> usr/bin on merged-/usr systems
            os.makedirs(os.path.dirname(inside), exist_ok=True)
            os.symlink(os.readlink(path), inside)
            continue
        os.makedirs(inside, exist_ok=True)
        _mount(libc, path, inside, None, MS_BIND | MS_REC)
        _mount(libc, None, inside, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
    os.makedirs(root + scratch, exist_ok=True)
    _mount(libc, scratch, root + scratch, None, MS_BIND | MS_REC)


def _set_limits(spec: SandboxSpec) -> None:
    def limit(which: int, value: int) -> None:
        resource.setrlimit(which, (value, value))

    limit(resource.RLIMIT_CORE, 0)
    limit(resource.RLIMIT_NPROC, spec.max_processes)
    limit(resource.RLIMIT_FSIZE, spec.max_file_mb * 2**20)
    if spec.cpu_seconds:
        limit(resource.RLIMIT_CPU, int(spec.cpu_seconds))
    if spec.memory_mb:
        limit(resource.RLIMIT_AS, spec.memory_mb * 2**20)


def _environment(spec: SandboxSpec) -> dict[str, str]:
    env = {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": spec.scratch,
        "TMPDIR": spec.scratch,
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": os.path.join(spec.scratch, ".matplotlib"),
        "PYTHONDONTWRITEBYTECODE": "1",
        **spec.env,
    }
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # this machine's safe BLAS settings
        if var in os.environ:
            env[var] = os.environ[var]
    return env


def root_mountpoint(scratch: str) -> str:
    """Where the launcher builds the sandbox's root: beside the scratch folder, removed with it."""
    return scratch.rstrip("/") + ".root"


def _launch(spec: SandboxSpec, argv: list[str], parent: int) -> int:
    parent_alive = _still_parent(parent)
    die_with_parent(parent_alive)  # the launcher goes when whoever started it goes
    uid = _uid_for(spec.scratch)
    _prepare_scratch(spec, uid)
    env = _environment(spec)
    is_root = os.geteuid() == 0
    if is_root and sys.platform.startswith("linux"):
        libc = _libc()
        if libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS) == 0:
            root = root_mountpoint(spec.scratch)
            os.makedirs(root, exist_ok=True)
            # The child is PID 1 of the new namespace, where getppid() says 0; it tells whether
            # the launcher is there by a pipe whose write end only the launcher holds.
            lifeline, held = os.pipe()
            child = os.fork()
            if child:
                os.close(lifeline)
                try:
                    return _wait_for(child)
                finally:
                    libc.umount2(_encode(root), MNT_DETACH)
                    os.rmdir(root)
            os.close(held)
            parent_alive = _held_open(lifeline)
            die_with_parent(parent_alive)
            _build_root(libc, root, spec.scratch)
            os.chroot(root)
    # Without namespaces: the limits (and, as root, the uid) still apply.
    if os.getpid() != 1:
        os.setsid()
    os.chdir(spec.scratch)
    _set_limits(spec)
    if is_root and spec.drop_privileges:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    # Set again after the uid change: without namespaces this ties the process to its starter;
    # inside them to the launcher, whose death then ends the namespace.
    die_with_parent(parent_alive)
    os.execvpe(argv[0], argv, env)
    return 127  # not reached


def _still_parent(pid: int) -> Callable[[], bool]:
    """Whether `pid` is still this process's parent (an orphan's parent changes)."""
    return lambda: os.getppid() == pid


def _held_open(lifeline: int) -> Callable[[], bool]:
    """Whether the pipe's write end is still open, that is, its holder has not ended."""
    return lambda: not select.select([lifeline], [], [], 0)[0]


def _wait_for(child: int) -> int:
    """Wait for the sandboxed child; pass on interrupts, turn termination into SIGKILL.

    The child is PID 1 of its namespace, which ignores signals it has no handler for, so a
    polite SIGTERM would not end it.
    """

    def interrupt(signum, _frame):
        os.kill(child, signal.SIGINT)

    def terminate(signum, _frame):
        os.kill(child, signal.SIGKILL)

    signal.signal(signal.SIGINT, interrupt)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, terminate)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    return os.waitstatus_to_exitcode(status)


def main(args: list[str]) -> int:
    if len(args) < 4 or args[2] != "--" or not args[1].isdigit():
        print("usage: python -m autograder.sandbox SPEC_JSON PARENT_PID -- COMMAND ...", file=sys.stderr)
        return 2
    spec_json, parent, _, *argv = args
    return _launch(SandboxSpec(**json.loads(spec_json)), argv, int(parent))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

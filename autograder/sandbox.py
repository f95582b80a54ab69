"""Run a command where student code can do no harm: limits, namespaces, an unprivileged user.

`sandboxed(argv, spec)` returns the command line that runs `argv` through this module's
launcher. The launcher starts as the grader's user and, before it execs `argv`:

- copies `spec.seed` into a fresh scratch folder and makes that the working directory;
- when it is root and the kernel allows it: enters new mount, network, PID, IPC and UTS
  namespaces, so there is no network, no process outside is visible or killable, and every
  path in `spec.hide` is covered by an empty tmpfs (`spec.keep` paths inside them, such as
  the interpreter's own prefix, are mounted back read-only);
- sets resource limits: CPU seconds, address space, processes, file size, no core dumps;
- when it is root: switches to an unprivileged uid of its own (distinct per sandbox), so
  that files it writes, signals it sends and its process count are its own.

Whatever is not available on this machine is said once, by `protections()`, and skipped.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND = 0x1, 0x2, 0x4, 0x1000
MS_REMOUNT, MS_REC, MS_PRIVATE = 0x20, 0x4000, 0x40000
PR_SET_PDEATHSIG = 1
FIRST_SANDBOX_UID = 200_000


@dataclass
class SandboxSpec:
    """What a sandboxed process may use. Sizes in MB, times in seconds."""

    scratch: str
    seed: str | None = None
    hide: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    cpu_seconds: int | None = None
    memory_mb: int | None = None
    max_processes: int = 32
    max_file_mb: int = 64
    env: dict[str, str] = field(default_factory=dict)


def sandboxed(argv: list[str], spec: SandboxSpec) -> list[str]:
    """The command line that runs `argv` inside a sandbox described by `spec`."""
    return [sys.executable, "-I", "-m", "autograder.sandbox", json.dumps(asdict(spec)), "--", *argv]


def default_hidden_paths(*course_roots: Path) -> tuple[list[str], list[str]]:
    """Paths student code must not see, and the interpreter folders inside them to keep.

    Hidden: the courses (gradebook, submissions, hidden tests), the grader and reference
    packages, and the grader's home folder. Kept read-only: the Python installation and
    virtual environment that run the student's code.
    """
    package_root = Path(__file__).resolve().parents[1]
    home = Path(os.path.expanduser("~")).resolve()
    hide = {str(p.resolve()) for p in (*course_roots, package_root)}
    if home != Path("/"):
        hide.add(str(home))
    prefixes = {str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix)}
    keep = sorted(p for p in prefixes if any(p.startswith(h + os.sep) for h in hide))
    return sorted(hide), keep


@cache
def protections() -> dict[str, bool]:
    """Which protections this machine grants, measured once by starting a sandbox."""
    is_root = os.geteuid() == 0
    namespaces = False
    if is_root and sys.platform.startswith("linux"):
        with tempfile.TemporaryDirectory(prefix="nnla-probe-") as scratch:
            hide, keep = default_hidden_paths()
            probe = sandboxed(
                [sys.executable, "-I", "-c", "import os; print(os.getuid(), os.getpid())"],
                SandboxSpec(scratch=scratch, hide=hide, keep=keep),
            )
            done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
            namespaces = done.returncode == 0 and done.stdout.split() == [str(_uid_for(scratch)), "1"]
    return {
        "resource limits": True,
        "unprivileged user": is_root,
        "no network": namespaces,
        "course files hidden": namespaces,
        "separate process tree": namespaces,
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
    return FIRST_SANDBOX_UID + (os.stat(scratch).st_ino % 100_000)


# ---------------------------------------------------------------- the launcher itself


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _encode(text: str | None) -> bytes | None:
    return text.encode() if text is not None else None


def _mount(libc, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None):
    enc = _encode
    _check(
        libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}"
    )


def _prepare_scratch(spec: SandboxSpec, uid: int) -> None:
    scratch = Path(spec.scratch)
    if spec.seed and Path(spec.seed).is_dir():
        shutil.copytree(spec.seed, scratch, dirs_exist_ok=True, symlinks=True)
    if os.geteuid() == 0:
        for folder, dirs, files in os.walk(scratch):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.lchown(name, uid, uid)
    os.chmod(scratch, 0o700)


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


def _launch(spec: SandboxSpec, argv: list[str]) -> int:
    uid = _uid_for(spec.scratch)
    _prepare_scratch(spec, uid)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
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
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        os.setsid()
        os.chdir(spec.scratch)
        _set_limits(spec)
        os.execvpe(argv[0], argv, env)

    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
    child = os.fork()
    if child:
        return _wait_for(child)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    # Hold the kept folders open before hiding their parents, then bind them back in place.
    staged = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in spec.keep]
    for path in spec.hide:
        if os.path.isdir(path):
            _mount(libc, "tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    for path, fd in staged:
        os.makedirs(path, exist_ok=True)
        _mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        _mount(libc, None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_REC)
        os.close(fd)
    _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
    os.chdir(spec.scratch)
    _set_limits(spec)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    os.execvpe(argv[0], argv, env)
    return 127  # not reached


def _wait_for(child: int) -> int:
    def forward(signum, _frame):
        os.kill(child, signal.SIGKILL)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def main(args: list[str]) -> int:
    spec_json, sep, *argv = args
    if sep != "--" or not argv:
        print("usage: python -m autograder.sandbox SPEC_JSON -- COMMAND ...", file=sys.stderr)
        return 2
    return _launch(SandboxSpec(**json.loads(spec_json)), argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

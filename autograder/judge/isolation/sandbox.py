"""Run a command where student code can do no harm: namespaces, limits, an unprivileged user.

`sandboxed(argv, spec)` returns the command line that runs `argv` through this module's
launcher. The launcher starts as the grader's user, root or not, and before it execs `argv`:

- copies `spec.seed` (a folder) and `spec.copy_in` (single files) into a fresh scratch
  folder, which becomes the working directory and the only writable place besides an empty
  /tmp;
- enters new user, mount, network, PID, IPC and UTS namespaces. The same code serves root
  and an ordinary user, through the kernel's unprivileged user namespaces: inside, student
  code runs as uid 1000 with no capabilities, which is a sandbox uid of its own outside when
  the grader is root and the grader's own uid otherwise. Its root file system is a tmpfs
  holding read-only views of the system folders and the Python installation
  (`visible_paths`) with the grader's own packages covered (`hidden_paths`), the scratch
  folder, a minimal /dev and its own /proc. So there is no network, no process outside is
  visible or can be signalled, and the course, the gradebook, other submissions, the reference
  and the hidden suites do not exist there, however the grader was installed;
- sets resource limits: CPU seconds, address space, processes, file size, no core dumps;
- ties itself to the process that started it: when that process ends, the sandbox ends, also
  when it ended before the launcher could ask the kernel for that (the launcher then stops).

Where the kernel refuses namespaces (Docker's default seccomp profile, user namespaces turned
off, macOS, WSL1) the launcher refuses to run anything, unless the instructor accepted grading
without isolation (`ISOLATION_WAIVER` set to 1, `nnla autograde --without-isolation`): then
only the limits apply (and, as root, a uid of its own). `isolation()` measures what this
machine grants, for the refusal, the log and every results.json.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import shutil
import signal
import site
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import cache

from autograder.judge.isolation import namespaces as ns

FIRST_SANDBOX_UID = 200_000
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# Never importable by student code, wherever pip put them: the grader's own code, and each
# assignment's reference packages (added by hide_packages when its plug-in is loaded).
HIDDEN_PACKAGES = ["autograder"]
ISOLATION_WAIVER = "NNLA_WITHOUT_ISOLATION"
REFUSED = 125  # the launcher's exit code when it will not run a command without isolation
READ_ONLY_TMPFS = ns.MS_RDONLY | ns.MS_NOSUID | ns.MS_NODEV


@dataclass
class SandboxSpec:
    """What a sandboxed process may use. Sizes in MB, times in seconds. `visible` and `hidden`
    are the folders it sees read-only and those among them it must not see, as the grader's
    Python finds them (`sandboxed` fills them in; the launcher runs isolated, `python -I`)."""

    scratch: str
    seed: str | None = None
    copy_in: dict[str, str] = field(default_factory=dict)
    cpu_seconds: int | None = None
    memory_mb: int | None = None
    max_processes: int = 32
    max_file_mb: int = 64
    env: dict[str, str] = field(default_factory=dict)
    visible: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)


def sandboxed(argv: list[str], spec: SandboxSpec) -> list[str]:
    """The command line that runs `argv` inside a sandbox described by `spec`.

    This process must start it: the launcher ends at once if its parent is not this process.
    """
    spec_json = json.dumps({**asdict(spec), "visible": visible_paths(), "hidden": hidden_paths()})
    return [
        sys.executable,
        "-I",
        "-m",
        "autograder.judge.isolation.sandbox",
        spec_json,
        str(os.getpid()),
        "--",
        *argv,
    ]


def visible_paths() -> list[str]:
    """What the sandbox shows, read-only: system folders, this Python (base and venv) and the
    folders its packages come from (a user site, say)."""
    python = {sys.prefix, sys.base_prefix, os.path.dirname(sys.executable), *_site_folders()}
    prefixes = {os.path.realpath(p) for p in python if os.path.isdir(p)}
    system = [p for p in SYSTEM_PATHS if os.path.lexists(p)]
    outermost = [p for p in prefixes if not _inside(p, system + [q for q in prefixes if q != p])]
    return system + sorted(outermost)


def hidden_paths() -> list[str]:
    """Folders inside visible ones that student code must not see: the grader's packages (a
    plain `pip install .` puts them into site-packages) and the course, the working folder."""
    candidates = {os.path.realpath(os.getcwd())}
    for name in HIDDEN_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None:
            candidates |= {os.path.realpath(p) for p in spec.submodule_search_locations or []}
        candidates |= {os.path.realpath(os.path.join(d, name)) for d in _site_folders()}
    visible = visible_paths()
    needed = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.executable)} | set(visible)
    return sorted(
        path
        for path in candidates
        if os.path.isdir(path)
        and _inside(path, visible)
        and path not in visible
        and not any(_inside(n, [path]) for n in needed)
    )


def hide_packages(names: Iterable[str]) -> None:
    """Hide these packages (an assignment's references) from every sandbox started from now on."""
    HIDDEN_PACKAGES.extend(n for n in names if n not in HIDDEN_PACKAGES)


def _site_folders() -> list[str]:
    folders = site.getsitepackages()
    return folders + [site.getusersitepackages()] if site.ENABLE_USER_SITE else folders


def _inside(path: str, folders: list[str]) -> bool:
    """Whether `path` is one of `folders` or below one."""
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


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


# ---------------------------------------------------------------- what this machine grants


class IsolationUnavailable(RuntimeError):
    """This machine cannot isolate student code, and no one accepted grading without it."""


@dataclass(frozen=True)
class Isolation:
    """The protections a sandbox gets on this machine, as measured by `isolation()`."""

    protections: dict[str, bool]
    reason: str = ""

    @property
    def full(self) -> bool:
        return all(self.protections.values())

    @property
    def level(self) -> str:
        return "full" if self.full else "resource limits only"

    @property
    def missing(self) -> list[str]:
        return [name for name, ok in self.protections.items() if not ok]

    def record(self) -> dict:
        """What results.json keeps under extra_data.isolation."""
        record = {"level": self.level, "protections": dict(self.protections)}
        if not self.full:
            record.update(missing=self.missing, reason=self.reason, accepted_without_isolation=waived())
        return record

    def summary(self) -> str:
        """One line for the terminal, the log and the report."""
        if self.full:
            return "isolation: full (user, mount, network, PID, IPC and UTS namespaces; limits)"
        return f"isolation: {self.level}; missing: {', '.join(self.missing)} ({self.reason})"

    def refusal(self) -> str:
        """Why grading stops here, and how to go on."""
        return (
            f"nnla refuses to grade: student code cannot be isolated on this machine: "
            f"{', '.join(self.missing)} unavailable ({self.reason}). Run the grader on Linux with "
            "unprivileged user namespaces allowed (`sysctl kernel.unprivileged_userns_clone=1`, "
            "`sysctl user.max_user_namespaces=15000`; in Docker: --security-opt seccomp=unconfined, "
            "or run as root), or accept grading without isolation: `nnla autograde --without-isolation` "
            f"(or {ISOLATION_WAIVER}=1 for plain nbgrader). Student code can then read and write "
            "whatever the grader's user can."
        )


def waived() -> bool:
    """Whether the instructor accepted grading without isolation."""
    return os.environ.get(ISOLATION_WAIVER) == "1"


PROBE = """
import json, os, socket
caps = next(l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff"))
grader = []
# A covered folder still imports, as an empty namespace package: try modules with code.
for module in ("autograder.judge.isolation.sandbox",):
    try:
        __import__(module)
        grader.append(module)
    except ImportError:
        pass
try:
    socket.create_connection(("127.0.0.1", 9), timeout=1).close()
    network = True
except OSError as e:
    network = e.errno not in (101, 99)
print(json.dumps({"uid": os.getuid(), "pid": os.getpid(), "caps": int(caps, 16), "grader": grader,
                  "hidden": [os.path.exists(p) for p in %r], "network": network}))
"""


@cache
def isolation() -> Isolation:
    """Which protections this machine grants, measured once by starting a sandbox."""
    if not sys.platform.startswith("linux"):
        return _no_isolation(f"{sys.platform} has no Linux namespaces")
    absent = _must_not_exist()  # before the probe's scratch folder exists
    scratch = tempfile.mkdtemp(prefix="nnla-probe-")
    env = {**os.environ, ISOLATION_WAIVER: "0"}
    try:
        done = subprocess.run(
            sandboxed([sys.executable, "-I", "-c", PROBE % (absent,)], SandboxSpec(scratch=scratch)),
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(root_mountpoint(scratch), ignore_errors=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
        return _no_isolation(lines[-1].removeprefix("sandbox: "))
    seen = json.loads(done.stdout)
    return Isolation(
        {
            "resource limits": True,
            "unprivileged user without capabilities": seen["uid"] != 0 and seen["caps"] == 0,
            "separate process tree": seen["pid"] == 1,
            "no network": not seen["network"],
            "only system and Python files visible": not any(seen["hidden"]),
            "grader's packages hidden": seen["grader"] == [],
        }
    )


def _must_not_exist() -> list[str]:
    """Files the probe must not find: the grader's own and those of the course and the
    grader's home (apart from visible ones, such as a venv inside the course)."""
    visible = visible_paths()
    found = [os.path.realpath(__file__)]
    for folder in (os.getcwd(), os.path.expanduser("~")):
        try:
            entries = sorted(os.listdir(folder))[:20]
        except OSError:
            continue
        for entry in entries:
            path = os.path.realpath(os.path.join(folder, entry))
            if not _inside(path, visible) and not any(_inside(v, [path]) for v in visible):
                found.append(path)
    return found


def _no_isolation(reason: str) -> Isolation:
    protections = {
        "resource limits": True,
        # Root gives student code a uid of its own, where its user namespace has such uids (not
        # in a container that maps root alone: student code would then run as root).
        "unprivileged user without capabilities": os.geteuid() == 0
        and all(_mapped(uid) for uid in (FIRST_SANDBOX_UID, FIRST_SANDBOX_UID + 999_999)),
        "separate process tree": False,
        "no network": False,
        "only system and Python files visible": False,
        "grader's packages hidden": False,
    }
    return Isolation(protections, reason)


def require_isolation() -> Isolation:
    """This machine's isolation; raise IsolationUnavailable if it is not full and not waived."""
    found = isolation()
    if not found.full and not waived():
        raise IsolationUnavailable(found.refusal())
    return found


def _uid_for(scratch: str) -> int:
    """A uid no one else uses, distinct per scratch folder (so per sandbox)."""
    return FIRST_SANDBOX_UID + (os.stat(scratch).st_ino % 1_000_000)


def root_mountpoint(scratch: str) -> str:
    """Where the launcher builds the sandbox's root: beside the scratch folder, removed with it."""
    return scratch.rstrip("/") + ".root"


# ---------------------------------------------------------------- the launcher itself

die_with_parent = ns.die_with_parent


def _prepare_scratch(spec: SandboxSpec, owner: int | None) -> None:
    scratch = spec.scratch
    if spec.seed and os.path.isdir(spec.seed):
        shutil.copytree(spec.seed, scratch, dirs_exist_ok=True, symlinks=True)
    for src, rel in spec.copy_in.items():
        dest = os.path.join(scratch, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(src, dest)
    if owner is not None:
        for folder, dirs, files in os.walk(scratch):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + files)]:
                os.lchown(name, owner, owner)
    os.chmod(scratch, 0o700)


def _enter_namespaces(uid_map: str, gid_map: str) -> bool:
    """Enter new namespaces of every kind, with these id maps; False if the kernel refuses.

    The ids are mapped by a helper forked beforehand, which stays in the grader's user
    namespace: only from there may root map more than its own uid.
    """
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    helper = os.fork()
    if helper == 0:
        os.close(go_w)
        os.close(done_r)
        try:
            if os.read(go_r, 1) == b"1":
                ns.write_id_maps(os.getppid(), uid_map, gid_map)
                os.write(done_w, b"1")
        except OSError as e:
            os.write(done_w, f"mapping user ids: {e}".encode()[:512])
        finally:
            os._exit(0)
    os.close(go_r)
    os.close(done_w)
    try:
        ns.unshare(ns.ALL_NAMESPACES)
    except OSError as refused:
        os.write(go_w, b"0")
        os.waitpid(helper, 0)
        _refuse_or_go_on(f"the kernel refused new namespaces ({refused.strerror})")
        return False
    os.write(go_w, b"1")
    answer = os.read(done_r, 512)
    os.waitpid(helper, 0)
    if answer != b"1":
        _fail(answer.decode() or "mapping user ids failed")
    return True


def _refuse_or_go_on(reason: str) -> None:
    if not waived():
        _fail(reason)


def _fail(reason: str) -> None:
    print(f"sandbox: {reason}", file=sys.stderr, flush=True)
    os._exit(REFUSED)


def _build_root(root: str, spec: SandboxSpec) -> None:
    """A tmpfs at `root` with a minimal /dev, /proc, an empty /tmp, read-only system and Python
    folders with the hidden ones covered, and the scratch folder, mounted in that order so that
    none covers a later one (the Python installation or the scratch folder may well be under
    /tmp); then it becomes the root."""
    ns.mount(None, "/", None, ns.MS_REC | ns.MS_PRIVATE)
    ns.mount("tmpfs", root, "tmpfs", ns.MS_NOSUID | ns.MS_NODEV, "size=16m,mode=755")
    _build_dev(root + "/dev")
    os.makedirs(root + "/proc")
    try:
        ns.mount("proc", root + "/proc", "proc", ns.MS_NOSUID | ns.MS_NODEV | ns.MS_NOEXEC)
    except OSError:
        pass  # a container that masks parts of /proc forbids a new one: student code goes without
    os.makedirs(root + "/tmp")
    ns.mount("tmpfs", root + "/tmp", "tmpfs", ns.MS_NOSUID | ns.MS_NODEV, "size=64m,mode=1777")
    for path in spec.visible:
        inside = root + path
        if os.path.islink(path):  # /bin -> usr/bin on merged-/usr systems
            os.makedirs(os.path.dirname(inside), exist_ok=True)
            os.symlink(os.readlink(path), inside)
            continue
        os.makedirs(inside, exist_ok=True)
        ns.bind_read_only(path, inside)
    for path in spec.hidden:
        if os.path.isdir(root + path):
            ns.mount("tmpfs", root + path, "tmpfs", READ_ONLY_TMPFS, "size=4k,mode=755")
    os.makedirs(root + spec.scratch, exist_ok=True)
    ns.mount(spec.scratch, root + spec.scratch, None, ns.MS_BIND | ns.MS_REC)
    ns.pivot_root(root)
    for built in ("/", "/dev"):  # nothing more to create there; /tmp and the scratch folder stay writable
        ns.mount(None, built, None, ns.MS_REMOUNT | ns.MS_BIND | READ_ONLY_TMPFS)


def _build_dev(dev: str) -> None:
    os.makedirs(dev)
    ns.mount("tmpfs", dev, "tmpfs", ns.MS_NOSUID | ns.MS_NOEXEC, "size=64k,mode=755")
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            open(f"{dev}/{name}", "w").close()
            ns.mount(f"/dev/{name}", f"{dev}/{name}", None, ns.MS_BIND)
    os.makedirs(dev + "/shm")
    ns.mount("tmpfs", dev + "/shm", "tmpfs", ns.MS_NOSUID | ns.MS_NODEV, "size=64m,mode=1777")
    os.symlink("/proc/self/fd", f"{dev}/fd")
    for number, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{number}", f"{dev}/{name}")


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


def environment(spec: SandboxSpec) -> dict[str, str]:
    """The whole environment of a sandboxed process: nothing of the grader's comes in."""
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


def _launch(spec: SandboxSpec, argv: list[str], parent: int, start: Callable | None = None) -> int:
    """Build the sandbox and run `argv` in it: exec it, or call `start(argv, env)` where a warm
    process starts it without an exec (autograder.judge.isolation.zygote); either ends the process."""
    parent_alive = _still_parent(parent)
    die_with_parent(parent_alive)  # the launcher goes when whoever started it goes
    # Root gives the sandbox a uid of its own, where its user namespace maps one (not in a
    # container's namespace that maps only root, say); otherwise the sandbox runs as the grader.
    privileged = os.geteuid() == 0 and _mapped(_uid_for(spec.scratch))
    outer_uid = _uid_for(spec.scratch) if privileged else os.geteuid()
    outer_gid = outer_uid if privileged else os.getegid()
    _prepare_scratch(spec, outer_uid if privileged else None)
    env = environment(spec)
    if privileged:
        os.setgroups([])  # while it still can: inside, the supplementary groups stay as they are
    root = root_mountpoint(spec.scratch)
    os.makedirs(root, exist_ok=True)
    if isolated := _enter_namespaces(*_id_maps(privileged, outer_uid, outer_gid)):
        # The child is PID 1 of the new namespace, where getppid() says 0; it tells whether
        # the launcher is there by a pipe whose write end only the launcher holds.
        lifeline, held = os.pipe()
        child = os.fork()
        if child:
            os.close(lifeline)
            return _wait_for(child)
        os.close(held)
        parent_alive = ns.held_open(lifeline)
        die_with_parent(parent_alive)
        try:
            _build_root(root, spec)
        except OSError as e:
            _fail(f"building the sandbox's file system: {e}")
    elif os.getsid(0) != os.getpid():  # jupyter_client starts it as a session leader already
        os.setsid()
    os.chdir(spec.scratch)
    _set_limits(spec)
    if privileged:  # root, inside the namespaces or not: become the sandbox's user
        user = ns.INSIDE_ID if isolated else outer_uid
        os.setgid(user)
        os.setuid(user)
    ns.check(ns.libc().prctl(ns.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    # Set again after the uid change: without namespaces this ties the process to its starter;
    # inside them to the launcher, whose death then ends the namespace.
    die_with_parent(parent_alive)
    if start is not None:
        start(argv, env)
    os.execvpe(argv[0], argv, env)
    return 127  # not reached


def _id_maps(privileged: bool, outer_uid: int, outer_gid: int) -> tuple[str, str]:
    """uid and gid maps. Root keeps uid 0 inside, to bind folders that only root may enter,
    until it becomes the sandbox's user; any other grader maps only itself, and is the
    sandbox's user from the start."""
    inside = ns.INSIDE_ID
    if privileged:
        return f"0 0 1\n{inside} {outer_uid} 1", f"0 0 1\n{inside} {outer_gid} 1"
    return f"{inside} {outer_uid} 1", f"{inside} {outer_gid} 1"


def _mapped(uid: int) -> bool:
    """Whether this process's user namespace has `uid` (so root may switch to it)."""
    with open("/proc/self/uid_map") as f:
        ranges = [tuple(map(int, line.split())) for line in f if line.strip()]
    return any(inside <= uid < inside + count for inside, _, count in ranges)


def _still_parent(pid: int) -> Callable[[], bool]:
    """Whether `pid` is still this process's parent (an orphan's parent changes)."""
    return lambda: os.getppid() == pid


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
        print(
            "usage: python -m autograder.judge.isolation.sandbox SPEC_JSON PARENT_PID -- COMMAND ...",
            file=sys.stderr,
        )
        return 2
    spec_json, parent, _, *argv = args
    return _launch(SandboxSpec(**json.loads(spec_json)), argv, int(parent))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

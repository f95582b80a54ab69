"""Linux calls the sandbox needs and Python's os module lacks: namespaces, mounts, capabilities.

Plain standard library and ctypes, with no imports from the grader: the judge's fork server
runs this file's text inside the sandbox, where the grader's packages do not exist.
"""

import ctypes
import os
import platform
import re
import select
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
# Everything a sandbox gets of its own: users, mounts, network, processes, IPC, host name.
ALL_NAMESPACES = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 0x400, 0x800, 0x200000
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41}.get(platform.machine())
# The uid and gid student code has inside its user namespace: not root there, so it has no
# capabilities once it runs a program, and the same on every machine.
INSIDE_ID = 1000

# statvfs flag -> mount flag: a bind mount may only be made read-only keeping the flags that
# the original mount has (in a user namespace, changing a locked one is refused).
_KEPT_FLAGS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}


def libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _bytes(text):
    return text.encode() if text is not None else None


def mount(source, target, fstype=None, flags=0, data=None) -> None:
    result = libc().mount(_bytes(source), _bytes(target), _bytes(fstype), ctypes.c_ulong(flags), _bytes(data))
    check(result, f"mount {target}")


def unshare(flags: int) -> None:
    check(libc().unshare(flags), "unshare")


def write_id_maps(pid, uid_map: str, gid_map: str) -> None:
    """Map ids of `pid`'s new user namespace (`pid` may be "self"); setgroups is denied first,
    which an unprivileged writer must do and which keeps the groups the process has."""
    for name, text in (("setgroups", "deny"), ("uid_map", uid_map), ("gid_map", gid_map)):
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(text)


def bind_read_only(source: str, target: str) -> None:
    """Show `source` at `target`, read-only, with no set-user-id programs and no devices."""
    mount(source, target, None, MS_BIND | MS_REC)
    for point in [target, *submounts(target)]:
        kept = sum(flag for st, flag in _KEPT_FLAGS.items() if os.statvfs(point).f_flag & st)
        mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | kept)


def submounts(path: str) -> list[str]:
    """Mount points strictly below `path`, from /proc/self/mountinfo."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point.startswith(path.rstrip("/") + "/"):
                found.append(point)
    return found


def pivot_root(new_root: str) -> None:
    """Make `new_root` (a mount point) the root and detach the old one: unlike chroot, this
    leaves no path back to the machine's file system, even for a process that later gains
    capabilities in a user namespace of its own."""
    if PIVOT_ROOT is None:
        raise OSError(f"pivot_root: unknown system call number on {platform.machine()}")
    os.chdir(new_root)
    check(libc().syscall(PIVOT_ROOT, b".", b"."), "pivot_root")
    check(libc().umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def drop_capabilities() -> None:
    """Give up every capability for good, and the means to get one back (set-user-id programs,
    file capabilities) on any later exec."""
    lib = libc()
    for cap in range(64):
        lib.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails past the last capability: fine

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint32) for name in ("effective", "permitted", "inheritable")]

    check(lib.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()), "capset")
    check(lib.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def die_with_parent(parent_alive=None) -> None:
    """Have the kernel SIGKILL this process when the thread that started it ends (Linux only).

    A parent that ended before this call sends no signal, so a process that can tell whether its
    parent is still there (`parent_alive`) ends at once if it is not. A change of uid clears the
    setting, so a process that switches uid must call this again.
    """
    if sys.platform.startswith("linux"):
        libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent_alive is not None and not parent_alive():
        os._exit(137)  # as if killed: whoever wanted this process is gone


def held_open(lifeline: int):
    """Whether the pipe's write end is still open, that is, its holder has not ended. A PID 1,
    whose getppid() says 0, tells whether its starter is there this way."""
    return lambda: not select.select([lifeline], [], [], 0)[0]

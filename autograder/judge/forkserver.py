"""The judge's fork server: imports numpy and matplotlib once, forks a fresh worker per student.

Started as `python -I -c <wire.py + worker.py + this file> CONFIG_JSON` in a sandbox that keeps
root (SandboxSpec.drop_privileges off), with a Unix socket to the grader as fd 0. Importing
numpy and matplotlib.pyplot costs a new Python process about 0.6 s of CPU; a fork costs
milliseconds. Before any student code runs, each worker it forks switches to a user of its own,
in a folder of its own, under the limits the grader asked for. So a student's worker cannot
signal, trace or read this server or another student's worker. Ending a worker kills every
process of its user and removes its files, so nothing a student started outlives their grading.

Requests and replies are JSON messages on the socket (SOCK_SEQPACKET, one message each):

    {"op": "spawn", "limits": {...}}  ->  {"id": 3}  with the worker's stdin (write end),
                                          stdout (read end) and a pidfd attached (SCM_RIGHTS)
    {"op": "end", "id": 3}            ->  {"ended": 3}

Like worker.py, this runs where the grader's packages are hidden: stdlib, numpy, matplotlib.
"""

try:  # in the sandbox, worker.py's text comes first in the same program
    from autograder.judge.worker import main
except ImportError:  # pragma: no cover
    pass

import ctypes
import gc
import json
import os
import resource
import shutil
import signal
import socket
import sys
import time

PR_SET_PDEATHSIG = 1


class Server:
    def __init__(self, channel, first_uid):
        self.channel = channel
        self.first_uid = first_uid
        self.home = os.getcwd()
        self.workers = {}  # id -> (pid, uid, folder)
        self.count = 0
        self.is_root = os.geteuid() == 0

    def serve(self):
        while request := self.channel.recv(1 << 16):
            request = json.loads(request)
            if request["op"] == "spawn":
                reply, fds = self.spawn(request["limits"])
            else:
                reply, fds = self.end(request["id"]), []
            socket.send_fds(self.channel, [json.dumps(reply).encode()], fds)
            for fd in fds:
                os.close(fd)
            self.reap()

    def spawn(self, limits):
        self.count += 1
        folder = os.path.join(self.home, f"worker-{self.count}")
        os.mkdir(folder, 0o700)
        # Distinct from every other sandbox's user: autograder.sandbox derives those from the
        # inodes of their scratch folders, on the same file system as this one.
        uid = self.first_uid + os.stat(folder).st_ino % 1_000_000 if self.is_root else os.getuid()
        if self.is_root:
            os.chown(folder, uid, uid)
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(stdin_r, 0)
                os.dup2(stdout_w, 1)
                os.closerange(3, os.sysconf("SC_OPEN_MAX"))
                become_worker(folder, uid, limits, self.is_root)
            finally:
                os._exit(70)
        os.close(stdin_r)
        os.close(stdout_w)
        self.workers[self.count] = (pid, uid, folder)
        return {"id": self.count}, [stdin_w, stdout_r, os.pidfd_open(pid)]

    def end(self, worker_id):
        pid, uid, folder = self.workers.pop(worker_id)
        if self.is_root:
            kill_user(uid)
            self.bury(uid)
            remove_entries("/tmp", owner=uid)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        # Emptied and taken back, not removed: while its inode is taken, no later worker gets
        # the same uid.
        remove_entries(folder)
        if self.is_root:
            os.chown(folder, 0, 0)
        return {"ended": worker_id}

    def bury(self, uid, patience=5.0):
        """Wait until the killed processes of `uid` are gone from /proc: orphans among them are
        this server's children (it is PID 1), and it reaps them."""
        deadline = time.monotonic() + patience
        while (left := processes_of(uid)) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:  # not ours: its parent, also killed, reaps it
                    pass
            time.sleep(0.005)

    def reap(self):
        """Wait for every ended child: orphans of student processes come to PID 1, this server."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return


def become_worker(folder, uid, limits, is_root):
    """In the forked child: the student's own session, folder, limits and user; then serve."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.chdir(folder)
    os.environ.update({"HOME": folder, "TMPDIR": folder, "MPLCONFIGDIR": os.path.join(folder, ".matplotlib")})
    for which, value in (
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_NPROC, limits["max_processes"]),
        (resource.RLIMIT_FSIZE, limits["max_file_mb"] * 2**20),
        (resource.RLIMIT_CPU, limits.get("cpu_seconds")),
        (resource.RLIMIT_AS, limits["memory_mb"] * 2**20 if limits.get("memory_mb") else None),
    ):
        if value:
            resource.setrlimit(which, (int(value), int(value)))
    server = os.getppid()
    if is_root:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    # After the change of user, which clears it: the worker ends with this server.
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server:
        os._exit(137)
    main()  # worker.py's: serve the judge's calls until it closes the pipe
    os._exit(0)


def kill_user(uid):
    """SIGKILL every process of `uid` in this PID namespace, by a helper that takes on that uid
    (kill(-1) then reaches exactly the processes it may signal: that user's)."""
    helper = os.fork()
    if helper == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(2):  # the second one catches what a fork racing the first produced
                os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        finally:
            os._exit(0)
    os.waitpid(helper, 0)


def processes_of(uid):
    found = []
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                found.append(int(entry.name))
        except OSError:  # gone meanwhile
            pass
    return found


def remove_entries(folder, owner=None):
    """Remove what is in `folder` (what `owner` made there, when given: /tmp is shared)."""
    for entry in os.scandir(folder):
        try:
            if owner is not None and entry.stat(follow_symlinks=False).st_uid != owner:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


def serve_forever():
    import matplotlib.pyplot  # noqa: F401 - what every notebook's setup imports: once, for all

    # Objects the collector never visits stay shared with the forked workers, page for page.
    gc.freeze()
    config = json.loads(sys.argv[1])
    channel = socket.socket(fileno=os.dup(0))
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    Server(channel, config["first_uid"]).serve()


if __name__ == "__main__":
    serve_forever()

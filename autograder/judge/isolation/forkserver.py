"""The judge's fork server: imports numpy and matplotlib once, forks a fresh worker per student.

Started as `python -I -c <namespaces.py + wire.py + worker.py + this file> FOLDER ISOLATION`
in a sandbox (autograder.judge.isolation.sandbox) whose scratch folder is FOLDER, with a Unix socket to the
grader as fd 0; ISOLATION is "isolated", or "limits" where the instructor accepted grading
without isolation. Importing numpy and matplotlib.pyplot costs a new Python process about 0.6 s of CPU;
a fork costs milliseconds.

Each worker is as isolated from the server and from every other worker as a sandbox of its
own: a guard process forked from the server enters new user, mount, PID, IPC, network and UTS
namespaces and starts the worker as PID 1 there. Before any student code runs, the worker
mounts its own /proc and an empty folder of its own over the server's, makes /tmp read-only,
sets the limits the grader asked for and gives up every capability. So a worker cannot see or
signal the server or any other worker, and nothing it writes is seen by the next. Ending a
worker kills its PID 1, and the kernel then kills every process the student started; the
guard returns once they are all gone.

Requests and replies are JSON messages on the socket (SOCK_SEQPACKET, one message each):

    {"op": "spawn", "limits": {...}}  ->  {"id": 3}  with the worker's stdin (write end),
                                          stdout (read end) and a pidfd of its guard attached
    {"op": "end", "id": 3}            ->  {"ended": 3}

Like worker.py, this runs where the grader's packages are hidden: stdlib, numpy, matplotlib.
"""

try:  # in the sandbox, the text of namespaces.py and worker.py comes first in the same program
    from autograder.judge.isolation.namespaces import (
        ALL_NAMESPACES,
        INSIDE_ID,
        MS_BIND,
        MS_NODEV,
        MS_NOEXEC,
        MS_NOSUID,
        MS_RDONLY,
        MS_REMOUNT,
        die_with_parent,
        drop_capabilities,
        held_open,
        mount,
        unshare,
        write_id_maps,
    )
    from autograder.judge.isolation.worker import main
except ImportError:  # pragma: no cover
    pass

import gc
import json
import os
import resource
import shutil
import signal
import socket
import sys


class Server:
    def __init__(self, channel, home, isolated):
        self.channel = channel
        self.home = home
        self.isolated = isolated
        self.guards = {}  # worker id -> pid of its guard
        self.count = 0

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
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(stdin_r, 0)
                os.dup2(stdout_w, 1)
                os.closerange(3, os.sysconf("SC_OPEN_MAX"))
                guard(limits, self.home, self.isolated)
            finally:
                os._exit(70)
        os.close(stdin_r)
        os.close(stdout_w)
        self.guards[self.count] = pid
        return {"id": self.count}, [stdin_w, stdout_r, os.pidfd_open(pid)]

    def end(self, worker_id):
        pid = self.guards.pop(worker_id)
        try:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):  # ended and reaped already
            pass
        return {"ended": worker_id}

    def reap(self):
        """Wait for every ended child: this server is PID 1, so orphans come to it."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return


def guard(limits, home, isolated):
    """In a child of the server: new namespaces, the student's worker as their PID 1, and a
    wait for it. SIGTERM kills the worker, and with it everything the student started.

    Where the instructor accepted grading without isolation (`isolated` false) the worker gets
    a session and a folder of its own instead, and SIGTERM kills that session.
    """
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    die_with_parent()
    if isolated:
        uid, gid = os.getuid(), os.getgid()
        unshare(ALL_NAMESPACES)
        write_id_maps("self", f"{INSIDE_ID} {uid} 1", f"{INSIDE_ID} {gid} 1")
        folder = home  # covered by a folder of the worker's own, in its namespace
    else:
        folder = os.path.join(home, f"worker-{os.getpid()}")
        os.mkdir(folder, 0o700)
    worker = []

    def stop(signum, frame):
        if not worker:
            os._exit(137)
        try:
            (os.kill if isolated else os.killpg)(worker[0], signal.SIGKILL)
        except ProcessLookupError:  # ended already; the wait below returns
            pass

    signal.signal(signal.SIGTERM, stop)
    lifeline, held = os.pipe()
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.close(held)
        try:
            become_worker(limits, folder, held_open(lifeline), isolated)
        finally:
            os._exit(70)
    worker.append(pid)
    os.close(lifeline)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)  # only the worker holds its pipes: its end is their end
    os.dup2(devnull, 1)
    # PID 1 of a namespace ends only once every other process in it has ended.
    os.waitpid(pid, 0)
    if not isolated:
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(0)


def become_worker(limits, folder, parent_alive, isolated):
    """The worker, PID 1 of its namespaces: its own /proc and folder, limits, no capabilities."""
    die_with_parent(parent_alive)
    if isolated:
        # A fresh tmpfs over the server's folder is the worker's own folder and the only place
        # it may write; /tmp, which all workers would share, becomes read-only. (Not a fresh
        # /tmp: the Python installation may live under /tmp.)
        mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=700")
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
        mount(None, "/tmp", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        try:
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        except OSError:
            pass  # a new /proc may be refused; the worker then sees the server's, and cannot signal it
    # A session of its own, also in its namespaces: kill(0, ...) in student code would otherwise
    # reach the guard outside them, whose group the worker was born in.
    os.setsid()
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
    drop_capabilities()
    main()  # worker.py's: serve the judge's calls until it closes the pipe
    os._exit(0)


def serve_forever():
    import matplotlib.pyplot  # noqa: F401 - what every notebook's setup imports: once, for all

    # Objects the collector never visits stay shared with the forked workers, page for page.
    gc.freeze()
    channel = socket.socket(fileno=os.dup(0))
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    Server(channel, home=sys.argv[1], isolated=sys.argv[2] == "isolated").serve()


if __name__ == "__main__":
    serve_forever()

"""The judge's fork server: imports numpy and matplotlib once, forks a fresh worker per student.

Started as `python -I -c <namespaces.py + wire.py + worker.py + this file> FOLDER` in a
sandbox (autograder.sandbox) whose scratch folder is FOLDER, with a Unix socket to the grader
as fd 0. Importing numpy and matplotlib.pyplot costs a new Python process about 0.6 s of CPU;
a fork costs milliseconds.

Each worker is as isolated from the server and from every other worker as a sandbox of its
own: a guard process forked from the server enters new user, mount, PID, IPC, network and UTS
namespaces and starts the worker as PID 1 there. Before any student code runs, the worker
mounts its own /proc and an empty /tmp (its working folder), covers the server's folder, sets
the limits the grader asked for and gives up every capability. So a worker cannot see or
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
    from autograder.judge.worker import main
    from autograder.namespaces import (
        ALL_NAMESPACES,
        INSIDE_ID,
        MS_NODEV,
        MS_NOEXEC,
        MS_NOSUID,
        MS_RDONLY,
        die_with_parent,
        drop_capabilities,
        held_open,
        mount,
        unshare,
        write_id_maps,
    )
except ImportError:  # pragma: no cover
    pass

import gc
import json
import os
import resource
import signal
import socket
import sys


class Server:
    def __init__(self, channel, home):
        self.channel = channel
        self.home = home
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
                guard(limits, self.home)
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


def guard(limits, home):
    """In a child of the server: new namespaces, the student's worker as their PID 1, and a
    wait for it. SIGTERM kills the worker, and with it everything the student started."""
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    die_with_parent()
    uid, gid = os.getuid(), os.getgid()
    unshare(ALL_NAMESPACES)
    write_id_maps("self", f"{INSIDE_ID} {uid} 1", f"{INSIDE_ID} {gid} 1")
    worker = []

    def stop(signum, frame):
        if not worker:
            os._exit(137)
        try:
            os.kill(worker[0], signal.SIGKILL)
        except ProcessLookupError:  # ended already; the wait below returns
            pass

    signal.signal(signal.SIGTERM, stop)
    lifeline, held = os.pipe()
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.close(held)
        try:
            become_worker(limits, home, held_open(lifeline))
        finally:
            os._exit(70)
    worker.append(pid)
    os.close(lifeline)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)  # only the worker holds its pipes: its end is their end
    os.dup2(devnull, 1)
    # PID 1 of a namespace ends only once every other process in it has ended.
    os.waitpid(pid, 0)
    os._exit(0)


def become_worker(limits, home, parent_alive):
    """The worker, PID 1 of its namespaces: its own /proc and /tmp, limits, no capabilities."""
    die_with_parent(parent_alive)
    for fstype, target, flags, options in (  # the server's folder first: it may be under /tmp
        ("tmpfs", home, MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=755"),
        ("proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
        ("tmpfs", "/tmp", MS_NOSUID | MS_NODEV, "size=64m,mode=1777"),
        ("tmpfs", "/dev/shm", MS_NOSUID | MS_NODEV, "size=64m,mode=1777"),
    ):
        try:
            mount(fstype, target, fstype, flags, options)
        except OSError:
            if fstype != "proc":  # a new /proc may be refused; the others are the isolation
                raise
    os.chdir("/tmp")
    os.environ.update({"HOME": "/tmp", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp/.matplotlib"})
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
    Server(channel, home=sys.argv[1]).serve()


if __name__ == "__main__":
    serve_forever()

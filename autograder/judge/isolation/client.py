"""The grader's side of the worker: start it in the sandbox, send calls, enforce time limits."""

from __future__ import annotations

import contextlib
import json
import os
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.judge.isolation import wire
from autograder.judge.isolation.sandbox import (
    SandboxSpec,
    matplotlib_cache,
    require_isolation,
    root_mountpoint,
    sandboxed,
)

SERVER_PROGRAM = "\n".join(
    Path(__file__).with_name(name).read_text()
    for name in ("namespaces.py", "wire.py", "worker.py", "forkserver.py")
)
# The server's own processes: itself and one guard and worker at a time, each holding up to
# the worker's own limit (the kernel counts a user namespace's processes against its creator's).
SERVER_PROCESSES = 256
STARTUP_SECONDS = 30.0
END_SECONDS = 10.0


class StudentTimeout(Exception):
    """The student's code did not answer in time (or its process died)."""


class StudentCrash(Exception):
    """The student's process ended or sent something that is not a wire frame."""


class StudentOutOfMemory(StudentCrash):
    """A call raised MemoryError: the student's code reached its memory limit. Like a crash,
    it ends the property at once: shrinking would make call after call fill the memory, each
    taking long enough that how far it got before the exercise's time ran out varied by run."""


@dataclass
class Reply:
    """What one call of student code did."""

    ok: bool
    value: object = None
    error: dict | None = None
    warnings: list[str] = field(default_factory=list)
    banned: list[str] = field(default_factory=list)
    mutated: list[int] = field(default_factory=list)


@dataclass
class Cell:
    id: str
    source: str


class ForkedWorker:
    """A judge worker forked by the fork server: its pipes, and a pidfd that says when it ended."""

    def __init__(self, worker_id: int, fds: list[int]):
        stdin, stdout, self.pidfd = fds
        self.id = worker_id
        self.stdin = os.fdopen(stdin, "wb")
        self.stdout = os.fdopen(stdout, "rb")

    def exited(self) -> bool:
        return bool(select.select([self.pidfd], [], [], 0)[0])

    def close_files(self) -> None:
        self.stdin.close()
        self.stdout.close()
        os.close(self.pidfd)


class ForkServer:
    """One sandboxed process per grading process that forks every student's judge worker.

    A worker of its own would import numpy and matplotlib for each student (0.6 s of CPU); a
    fork of the server, which imported them once, starts in milliseconds. Each forked worker is
    as isolated as a sandbox of its own: see forkserver.py.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.channel: socket.socket | None = None
        self._scratch = ""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self.close()
        self._scratch = tempfile.mkdtemp(prefix="nnla-judge-")
        spec = SandboxSpec(scratch=self._scratch, copy_in=matplotlib_cache(), max_processes=SERVER_PROCESSES)
        # Grading goes on without isolation only where the instructor accepted that.
        isolated = "isolated" if require_isolation().full else "limits"
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self.proc = subprocess.Popen(
                sandboxed([sys.executable, "-I", "-c", SERVER_PROGRAM, self._scratch, isolated], spec),
                stdin=theirs,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.channel = ours

    def spawn(self, limits: dict, timeout: float) -> ForkedWorker:
        """A new worker under `limits` (SandboxSpec's names), started once if need be."""
        if not self.alive:
            self.start()
        reply, fds = self._ask({"op": "spawn", "limits": limits}, timeout, maxfds=3)
        if len(fds) != 3:
            self.close()
            raise StudentCrash("the judge's fork server did not start a worker")
        return ForkedWorker(reply["id"], fds)

    def end(self, worker: ForkedWorker) -> None:
        """Kill the worker and every process the student started in it; its files go with it."""
        worker.close_files()
        if self.alive:
            # A server that does not answer has been closed, and every worker with it.
            with contextlib.suppress(StudentCrash):
                self._ask({"op": "end", "id": worker.id}, END_SECONDS, maxfds=0)

    def _ask(self, request: dict, timeout: float, maxfds: int) -> tuple[dict, list[int]]:
        assert self.channel is not None
        self.channel.settimeout(timeout)
        try:
            self.channel.send(json.dumps(request).encode())
            message, fds, _, _ = socket.recv_fds(self.channel, 4096, maxfds)
            return json.loads(message), fds
        except (OSError, ValueError):  # timed out, ended, or garbled: start afresh next time
            self.close()
            raise StudentCrash("the judge's fork server did not answer") from None

    def close(self) -> None:
        """End the server: the launcher kills the sandbox's PID 1, so every worker goes with it.

        SIGKILL to the launcher alone would orphan the sandbox's init process, which the
        machine's init may never reap; SIGKILL to the group is the fallback.
        """
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proc is None:
            return
        try:
            self.proc.terminate()
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        shutil.rmtree(self._scratch, ignore_errors=True)
        shutil.rmtree(root_mountpoint(self._scratch), ignore_errors=True)


class StudentProcess:
    """A student's code, one namespace per notebook, in a sandboxed worker restarted when it dies.

    One process serves all of a student's notebooks, so the student's code is loaded once per
    submission; a notebook whose cells hang or end the process while loading is not loaded again.
    """

    def __init__(
        self,
        spec: SandboxSpec,
        server: ForkServer,
        load_seconds: float = 20.0,
        given: str = "",
        banned: dict[str, str] | None = None,
    ):
        """`given`: source of the objects the judge passes by name (the assignment's given.py);
        `banned`: the calls to watch for, as feedback names them -> where they live."""
        self.limits = {
            "cpu_seconds": spec.cpu_seconds,
            "memory_mb": spec.memory_mb,
            "max_processes": spec.max_processes,
            "max_file_mb": spec.max_file_mb,
        }
        self.server = server
        self.load_seconds = load_seconds
        self.setup = {"op": "setup", "given": given, "banned": banned or {}}
        self.worker: ForkedWorker | None = None
        self.notebooks: dict[str, list[Cell]] = {}
        self.load_errors: dict[str, list[dict]] = {}
        self.unloadable: dict[str, str] = {}  # notebook -> what its cells did instead of loading
        self.shared_replies: dict[str, Reply] = {}  # see call(shared=True)
        self.start_seconds: list[float] = []  # how long each (re)start took, for bench/judge.py

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the worker and load every notebook added so far."""
        self.close()
        self.shared_replies.clear()
        started = time.monotonic()
        self.worker = self.server.spawn(self.limits, STARTUP_SECONDS)
        ready = self._read(STARTUP_SECONDS)
        if ready.get("value") != "ready":
            raise StudentCrash("the worker did not start")
        done = self.request(self.setup, STARTUP_SECONDS)
        if not done.get("ok"):  # the assignment's given.py itself failed: the instructor's to fix
            raise RuntimeError(f"the assignment's given.py failed in the worker: {done.get('error')}")
        self.start_seconds.append(time.monotonic() - started)
        for name in list(self.notebooks):
            if name not in self.unloadable:
                self._load(name)

    def add_notebook(self, name: str, cells: list[Cell]) -> None:
        """Load a notebook's cells into a fresh namespace (starting the worker if needed)."""
        self.notebooks[name] = cells
        self.unloadable.pop(name, None)
        if self.alive:
            self._load(name)
        else:
            self.start()

    def _load(self, name: str) -> None:
        message = {"op": "load", "namespace": name, "cells": [c.__dict__ for c in self.notebooks[name]]}
        try:
            loaded = self.request(message, self.load_seconds)
        except (StudentTimeout, StudentCrash) as e:
            # Not loaded again: the student's other notebooks are judged in a fresh worker.
            hung = isinstance(e, StudentTimeout)
            self.unloadable[name] = "did not finish running" if hung else "ended the process running them"
            self.load_errors[name] = [
                {
                    "type": "Timeout" if hung else "ProcessEnded",
                    "message": f"your cells {self.unloadable[name]}"
                    + (f" within {self.load_seconds:g} s" if hung else " (exit, os._exit or a crash)"),
                }
            ]
            self.start()
            return
        self.load_errors[name] = [e for e in loaded.get("errors", []) if isinstance(e, dict)]

    @property
    def alive(self) -> bool:
        return self.worker is not None and not self.worker.exited()

    def close(self) -> None:
        """End the worker, and whatever the student's code started with it."""
        if self.worker is not None:
            worker, self.worker = self.worker, None
            self.server.end(worker)

    def __enter__(self) -> StudentProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ requests

    def request(self, message: dict, timeout: float) -> dict:
        if not self.alive:
            raise StudentCrash("the student's process is not running")
        try:
            wire.write_frame(self.worker.stdin, message)
        except (BrokenPipeError, OSError):
            self.close()
            raise StudentCrash("the student's process ended") from None
        return self._read(timeout)

    def call(
        self,
        namespace: str,
        target: str | int,
        *args,
        path: tuple = (),
        seed: int | None = None,
        watch_banned: bool = False,
        timeout: float = 5.0,
        shared: bool = False,
        trusted: tuple[str, ...] = (),
        **kwargs,
    ) -> Reply:
        """Call the student's `target`. With `shared`, for a function whose result the properties
        only look at (a figure): it runs once per input and worker, and every later call with
        the same input is given that reply. A call that raised is made again. `trusted` names
        the notebook's functions replaced, for this call only, by the given objects of the same
        name, so that the call's result does not depend on the student's versions of those."""
        message = {
            "op": "call",
            "namespace": namespace,
            "target": target,
            "path": list(path),
            "args": [wire.encode(a) for a in args],
            "kwargs": {k: wire.encode(v) for k, v in kwargs.items()},
            "seed": seed,
            "watch_banned": watch_banned,
        }
        if trusted:
            message["trusted"] = list(trusted)
        key = json.dumps(message, sort_keys=True) if shared else ""
        if key in self.shared_replies:
            return self.shared_replies[key]
        reply = self._reply(self.request(message, timeout))
        if shared and reply.ok:
            self.shared_replies[key] = reply
        return reply

    def get(self, namespace: str, target: str | int, *path, timeout: float = 5.0) -> Reply:
        message = {"op": "get", "namespace": namespace, "target": target, "path": list(path)}
        return self._reply(self.request(message, timeout))

    def length(self, namespace: str, target: str | int, *path, timeout: float = 5.0) -> Reply:
        message = {"op": "len", "namespace": namespace, "target": target, "path": list(path)}
        return self._reply(self.request(message, timeout))

    def set(self, namespace: str, target: str | int, path: tuple, value, timeout: float = 5.0) -> Reply:
        message = {
            "op": "set",
            "namespace": namespace,
            "target": target,
            "path": list(path),
            "value": wire.encode(value),
        }
        return self._reply(self.request(message, timeout))

    def _reply(self, answer: dict) -> Reply:
        try:
            reply = Reply(
                ok=bool(answer.get("ok")),
                value=wire.decode(answer.get("value")),
                error=_plain_error(answer.get("error")),
                warnings=[str(w) for w in answer.get("warnings", [])][:10],
                banned=[str(b) for b in answer.get("banned", [])][:10],
                mutated=[int(i) for i in answer.get("mutated", [])],
            )
        except (wire.WireError, TypeError, ValueError, AttributeError, RecursionError) as e:
            raise StudentCrash(f"the student's process sent malformed data ({e})") from None
        if reply.error and "MemoryError" in reply.error["bases"]:
            said = ": ".join(filter(None, [reply.error["message"], *reply.error["where"][-1:]]))
            limit = f"the call ran out of memory (the limit is {self.limits['memory_mb']} MB)"
            raise StudentOutOfMemory(f"{limit}: {said}" if said else limit)
        return reply

    def _read(self, timeout: float) -> dict:
        """One frame from the worker within `timeout` seconds, or kill it."""
        deadline = time.monotonic() + timeout
        fd = self.worker.stdout.fileno()
        buf = bytearray()
        need = 8
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while len(buf) < need:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    self.close()
                    raise StudentTimeout(f"no answer within {timeout:g} s")
                chunk = os.read(fd, min(1 << 20, need - len(buf)))
                if not chunk:
                    self.close()
                    raise StudentCrash("the student's process ended")
                buf += chunk
                if need == 8 and len(buf) == 8:
                    size = int.from_bytes(buf, "big")
                    if size > wire.MAX_FRAME_BYTES:
                        self.close()
                        raise StudentCrash("the student's process sent too much data")
                    need = 8 + size
        try:
            message = json.loads(bytes(buf[8:]))
        except (ValueError, RecursionError):
            self.close()
            raise StudentCrash("the student's process sent malformed data") from None
        if not isinstance(message, dict):
            self.close()
            raise StudentCrash("the student's process sent malformed data")
        return message


def _plain_error(error) -> dict | None:
    if not isinstance(error, dict):
        return None
    return {
        "type": str(error.get("type", "Error"))[:100],
        "bases": [str(b)[:100] for b in error.get("bases", [])][:20]
        if isinstance(error.get("bases"), list)
        else [],
        "message": str(error.get("message", ""))[:2000],
        "where": [str(w)[:300] for w in error.get("where", [])][:3]
        if isinstance(error.get("where"), list)
        else [],
    }

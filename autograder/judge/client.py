"""The grader's side of the worker: start it in the sandbox, send calls, enforce time limits."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from autograder.judge import wire
from autograder.sandbox import SandboxSpec, root_mountpoint, sandboxed

PROGRAM = "\n".join((Path(__file__).with_name(name)).read_text() for name in ("wire.py", "worker.py"))
STARTUP_SECONDS = 30.0


class StudentTimeout(Exception):
    """The student's code did not answer in time (or its process died)."""


class StudentCrash(Exception):
    """The student's process ended or sent something that is not a wire frame."""


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


class StudentProcess:
    """A student's code, one namespace per notebook, in a sandboxed worker restarted when it dies.

    One process serves all of a student's notebooks, so numpy and matplotlib are imported once
    per submission; a notebook whose cells hang while loading is not loaded again.
    """

    def __init__(self, spec: SandboxSpec, load_seconds: float = 20.0):
        self.spec = spec
        self.load_seconds = load_seconds
        self.proc: subprocess.Popen | None = None
        self.notebooks: dict[str, list[Cell]] = {}
        self.load_errors: dict[str, list[dict]] = {}
        self.hung: set[str] = set()
        self.start_seconds: list[float] = []  # how long each (re)start took, for bench/judge.py
        self._scratch = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the worker and load every notebook added so far."""
        self.close()
        started = time.monotonic()
        self._scratch = tempfile.mkdtemp(prefix="nnla-worker-")
        spec = SandboxSpec(**{**self.spec.__dict__, "scratch": self._scratch})
        self.proc = subprocess.Popen(
            sandboxed([sys.executable, "-I", "-c", PROGRAM], spec),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        ready = self._read(STARTUP_SECONDS)
        if ready.get("value") != "ready":
            raise StudentCrash("the worker did not start")
        self.start_seconds.append(time.monotonic() - started)
        for name in list(self.notebooks):
            if name not in self.hung:
                self._load(name)

    def add_notebook(self, name: str, cells: list[Cell]) -> None:
        """Load a notebook's cells into a fresh namespace (starting the worker if needed)."""
        self.notebooks[name] = cells
        self.hung.discard(name)
        if self.alive:
            self._load(name)
        else:
            self.start()

    def _load(self, name: str) -> None:
        message = {"op": "load", "namespace": name, "cells": [c.__dict__ for c in self.notebooks[name]]}
        try:
            loaded = self.request(message, self.load_seconds)
        except StudentTimeout:
            self.hung.add(name)
            self.load_errors[name] = [
                {
                    "type": "Timeout",
                    "message": f"your cells did not finish running within {self.load_seconds:g} s",
                }
            ]
            self.start()
            return
        self.load_errors[name] = [e for e in loaded.get("errors", []) if isinstance(e, dict)]

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """End the worker: the launcher kills and reaps the sandbox, then exits itself.

        SIGKILL to the launcher alone would orphan the sandbox's init process, which the
        machine's init may never reap; SIGKILL to the group is the fallback.
        """
        if self.proc is None:
            return
        try:
            self.proc.terminate()
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()
        self.proc = None
        shutil.rmtree(self._scratch, ignore_errors=True)
        shutil.rmtree(root_mountpoint(self._scratch), ignore_errors=True)

    def __enter__(self) -> StudentProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ requests

    def request(self, message: dict, timeout: float) -> dict:
        if not self.alive:
            raise StudentCrash("the student's process is not running")
        try:
            wire.write_frame(self.proc.stdin, message)
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
        **kwargs,
    ) -> Reply:
        answer = self.request(
            {
                "op": "call",
                "namespace": namespace,
                "target": target,
                "path": list(path),
                "args": [wire.encode(a) for a in args],
                "kwargs": {k: wire.encode(v) for k, v in kwargs.items()},
                "seed": seed,
                "watch_banned": watch_banned,
            },
            timeout,
        )
        return self._reply(answer)

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
            return Reply(
                ok=bool(answer.get("ok")),
                value=wire.decode(answer.get("value")),
                error=_plain_error(answer.get("error")),
                warnings=[str(w) for w in answer.get("warnings", [])][:10],
                banned=[str(b) for b in answer.get("banned", [])][:10],
                mutated=[int(i) for i in answer.get("mutated", [])],
            )
        except (wire.WireError, TypeError, ValueError, AttributeError, RecursionError) as e:
            raise StudentCrash(f"the student's process sent malformed data ({e})") from None

    def _read(self, timeout: float) -> dict:
        """One frame from the worker within `timeout` seconds, or kill it."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
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

"""Grade many students at once: long-lived worker processes, one student each at a time.

The pool hands the next student to whichever worker is free, so a slow submission holds up
one worker, not a fixed share of the class. Workers share the SQLite gradebook; each writes
one student's grades in nbgrader's short transactions, which wait for each other (SQLite's
busy timeout) instead of failing. A worker that dies takes only its current student with it:
that student gets a results.json saying grading failed, and a fresh worker carries on.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from autograder.course import Course
from autograder.pipeline import tool_env
from autograder.results import finish_results

RUN_PREFIX = "nnla-run-"
STUDENT_WALL_SECONDS = 30 * 60  # far above any submission the limits let through


class Worker:
    """One `python -m autograder.grade_worker` process and the student it is grading."""

    def __init__(self, course: Course, assignment: str, run_dir: Path, log: Path):
        env = tool_env()
        env["TMPDIR"] = str(run_dir)  # kernel and judge scratch: removed with the run, even after a kill
        with open(log, "ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "autograder.grade_worker", str(course.root), assignment],
                cwd=course.root,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                encoding="utf-8",
            )
        self.student: str | None = None
        self.since = 0.0

    def grade(self, student: str, fingerprint: str) -> None:
        self.student, self.since = student, time.monotonic()
        self.process.stdin.write(json.dumps({"student": student, "fingerprint": fingerprint}) + "\n")
        self.process.stdin.flush()

    def reply(self) -> dict | None:
        """The reply for the current student, or None if the worker died."""
        line = self.process.stdout.readline()
        return json.loads(line) if line else None

    def stop(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class WorkerPool:
    """Up to `jobs` workers grading one assignment; the folder their kernels write in.

    Workers may be started ahead of the first student (`start`), so that their start-up
    (importing nbgrader and the hidden suites, ~2 s) overlaps with whatever the caller does
    meanwhile, such as registering the assignment in the gradebook.
    """

    def __init__(self, course: Course, assignment: str, jobs: int):
        self.course, self.assignment, self.jobs = course, assignment, jobs
        self.log = course.root / "logs" / assignment / "workers.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.run_dir = _new_run_dir()
        self.idle: list[Worker] = []

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.idle:  # started ahead but given no student: nothing to finish
            worker.process.kill()
            worker.process.wait()
        self.idle = []
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def start(self, workers: int) -> None:
        """Start workers (at most `jobs` in all) that wait for their first student."""
        for _ in range(min(workers, self.jobs) - len(self.idle)):
            self.idle.append(Worker(self.course, self.assignment, self.run_dir, self.log))

    def grade(self, todo: list[tuple[str, str]], on_done: Callable[[dict], None]) -> None:
        """Grade each (student, fingerprint) of `todo`; call `on_done` with each reply."""
        pending = deque(todo)
        self.start(len(pending))
        selector = selectors.DefaultSelector()

        def give_work(worker: Worker) -> None:
            if pending:
                selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
                worker.grade(*pending.popleft())
            else:
                worker.stop()

        try:
            while self.idle:
                give_work(self.idle.pop())
            while selector.get_map():
                for key, _ in selector.select(timeout=1.0):
                    worker = key.data
                    selector.unregister(key.fileobj)
                    reply = worker.reply()
                    if reply is None:
                        worker.process.wait()
                        on_done(_crashed(self.course, self.assignment, worker))
                        if not pending:
                            continue
                        worker = Worker(self.course, self.assignment, self.run_dir, self.log)
                    else:
                        on_done(reply)
                    give_work(worker)
                _kill_overdue(selector)
        finally:
            for key in list(selector.get_map().values()):
                key.data.process.kill()
                key.data.process.wait()


def _kill_overdue(selector: selectors.BaseSelector) -> None:
    """A worker stuck on one student is killed; its reply then reads as a crash."""
    for key in selector.get_map().values():
        if time.monotonic() - key.data.since > STUDENT_WALL_SECONDS:
            key.data.process.kill()


def _crashed(course: Course, assignment: str, worker: Worker) -> dict:
    student = worker.student
    seconds = time.monotonic() - worker.since
    message = f"Grading stopped: the grading process ended with exit code {worker.process.returncode}."
    results = finish_results(course, assignment, student, [message], None, seconds)
    return {
        "student": student,
        "ok": False,
        "seconds": seconds,
        "score": results["score"],
        "max_score": results["max_score"],
        "messages": [message],
        "error": message,
    }


def _new_run_dir() -> Path:
    """A scratch folder for this run's kernels; folders of runs that were killed are removed first."""
    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{RUN_PREFIX}*"):
        try:
            alive = Path(f"/proc/{int((old / 'owner').read_text())}").exists()
        except (OSError, ValueError):
            alive = time.time() - old.stat().st_mtime < 3600  # perhaps a run that is just starting
        if not alive:
            shutil.rmtree(old, ignore_errors=True)
    run_dir = Path(tempfile.mkdtemp(prefix=RUN_PREFIX))
    (run_dir / "owner").write_text(str(os.getpid()))
    return run_dir

"""Grade many students at once: long-lived grading processes, one student each at a time.

The pool hands the next student to whichever grading process is free, so a slow submission
holds up one process, not a fixed share of the class. The processes share the SQLite
gradebook; each writes one student's grades in nbgrader's short transactions, which wait for
each other (SQLite's busy timeout) instead of failing. A grading process that dies takes only
its current student with it: that student gets a results.json saying grading failed, and a
fresh process carries on.
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
from autograder.grading.nbgrader import tool_env
from autograder.grading.results import finish_results

RUN_PREFIX = "nnla-run-"
STUDENT_WALL_SECONDS = 30 * 60  # far above any submission the limits let through


class ClusterRefused(RuntimeError):
    """A run cannot grade on the cluster it was given (autograder.grading.cluster); no student
    was graded."""


class GradingProcess:
    """One `python -m autograder.grading.process` and the student it is grading."""

    def __init__(
        self, course: Course, assignment: str, run_dir: Path, log: Path, env: dict[str, str] | None = None
    ):
        env = {**tool_env(), **(env or {})}
        env["TMPDIR"] = str(run_dir)  # kernel and judge scratch: removed with the run, even after a kill
        with open(log, "ab") as stderr:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "autograder.grading.process", str(course.root), assignment],
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
        self.popen.stdin.write(json.dumps({"student": student, "fingerprint": fingerprint}) + "\n")
        self.popen.stdin.flush()

    def reply(self) -> dict | None:
        """The reply for the current student, or None if the process died."""
        line = self.popen.stdout.readline()
        return json.loads(line) if line else None

    def stop(self) -> None:
        if self.popen.stdin and not self.popen.stdin.closed:
            self.popen.stdin.close()
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class GradingPool:
    """Up to `jobs` processes grading one assignment; the folder their kernels write in.

    Processes may be started ahead of the first student (`start`), so that their start-up
    (importing nbgrader and the hidden suites, ~2 s) overlaps with whatever the caller does
    meanwhile, such as registering the assignment in the gradebook.
    """

    def __init__(self, course: Course, assignment: str, jobs: int):
        self.course, self.assignment, self.jobs = course, assignment, jobs
        self.log = course.root / "logs" / assignment / "grading.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.run_dir = new_run_dir()
        self.idle: list[GradingProcess] = []

    def __enter__(self) -> GradingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.idle:  # started ahead but given no student: nothing to finish
            process.popen.kill()
            process.popen.wait()
        self.idle = []
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def start(self, processes: int) -> None:
        """Start processes (at most `jobs` in all) that wait for their first student."""
        for _ in range(min(processes, self.jobs) - len(self.idle)):
            self.idle.append(GradingProcess(self.course, self.assignment, self.run_dir, self.log))

    def grade(self, todo: list[tuple[str, str]], on_done: Callable[[dict], None]) -> None:
        """Grade each (student, fingerprint) of `todo`; call `on_done` with each reply."""
        pending = deque(todo)
        self.start(len(pending))
        selector = selectors.DefaultSelector()

        def give_work(process: GradingProcess) -> None:
            if pending:
                selector.register(process.popen.stdout, selectors.EVENT_READ, process)
                process.grade(*pending.popleft())
            else:
                process.stop()

        try:
            while self.idle:
                give_work(self.idle.pop())
            while selector.get_map():
                for key, _ in selector.select(timeout=1.0):
                    process = key.data
                    selector.unregister(key.fileobj)
                    reply = process.reply()
                    if reply is None:
                        process.popen.wait()
                        on_done(crashed(self.course, self.assignment, process))
                        if not pending:
                            continue
                        process = GradingProcess(self.course, self.assignment, self.run_dir, self.log)
                    else:
                        on_done(reply)
                    give_work(process)
                _kill_overdue(selector)
        finally:
            for key in list(selector.get_map().values()):
                key.data.popen.kill()
                key.data.popen.wait()


def _kill_overdue(selector: selectors.BaseSelector) -> None:
    """A process stuck on one student is killed; its reply then reads as a crash."""
    for key in selector.get_map().values():
        if time.monotonic() - key.data.since > STUDENT_WALL_SECONDS:
            key.data.popen.kill()


def crashed(course: Course, assignment: str, process: GradingProcess) -> dict:
    """The reply for the student whose grading process died."""
    message = f"Grading stopped: the grading process ended with exit code {process.popen.returncode}."
    return failed(course, assignment, process.student, message, time.monotonic() - process.since)


def failed(course: Course, assignment: str, student: str, message: str, seconds: float) -> dict:
    """A reply, as a grading process gives, for a student whose grading stopped: their
    results.json says why and has no fingerprint, so the next run grades them again."""
    results = finish_results(course, assignment, student, [message], None, seconds)
    return {
        "student": student,
        "ok": False,
        "seconds": seconds,
        "score": results["score"],
        "max_score": results["extra_data"]["max_score"],
        "messages": [message],
        "error": message,
    }


def new_run_dir(prefix: str = RUN_PREFIX) -> Path:
    """A scratch folder for this run's kernels; folders of runs that were killed are removed first."""
    base = Path(tempfile.gettempdir())
    for old in base.glob(f"{prefix}*"):
        try:
            alive = Path(f"/proc/{int((old / 'owner').read_text())}").exists()
        except (OSError, ValueError):
            alive = time.time() - old.stat().st_mtime < 3600  # perhaps a run that is just starting
        if not alive:
            shutil.rmtree(old, ignore_errors=True)
    run_dir = Path(tempfile.mkdtemp(prefix=prefix))
    # Without namespaces a sandbox reaches its scratch folder through this one, as its own uid:
    # it may pass through, not list (the scratch folders are each their own uid's, mode 700).
    os.chmod(run_dir, 0o711)
    (run_dir / "owner").write_text(str(os.getpid()))
    return run_dir

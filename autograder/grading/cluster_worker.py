"""What runs on each Dask worker when a class is graded on a cluster (autograder.grading.cluster).

`CourseOnWorker`, a Dask WorkerPlugin, receives the course (config, manifests, plug-ins, source
and release notebooks: no submissions) and sets the worker up to grade it, again whenever the
worker restarts. It first checks that the worker may grade: its grader must be the coordinator's
(same fingerprint, so the same code and reference packages decide the grades) and its isolation
must be what the run accepts. Only then does it give the worker the Dask resource that every
grading task asks for, so a refused worker never receives a student; why it was refused is kept
for the coordinator to report (`verdict`).

`grade_on_worker` is the task: one student, graded by a long-lived grading process
(autograder.grading.process, exactly as `nnla autograde` grades on one machine) into the
course's server gradebook. It returns the student's autograded files, log and results.json
instead of writing them anywhere the coordinator can see; the coordinator writes them.

The grading process is started from the worker's main thread (the event loop's), because the
kernel signals a parent-death to a child when the *thread* that started it ends: from a task's
thread, it could outlive a killed worker or die with an idle thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import select
import shutil
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from distributed import Worker, WorkerPlugin, get_worker
from distributed.core import Status

from autograder.course import Course
from autograder.grading.fingerprint import grader_fingerprint
from autograder.grading.pool import STUDENT_WALL_SECONDS, GradingProcess, crashed, new_run_dir
from autograder.judge.isolation.sandbox import ISOLATION_WAIVER, isolation

log = logging.getLogger(__name__)

PLUGIN_NAME = "nnla-course"
WORKER_PREFIX = "nnla-worker-"
GRADEBOOK_SETTING = "NNLA_GRADEBOOK_URL"


def resource_for(fingerprint: str) -> str:
    """The Dask resource of workers that grade with this grader: tasks of one run go only there."""
    return f"nnla-{fingerprint[:20]}"


class CourseOnWorker(WorkerPlugin):
    """The course of one grading run, set up on every worker of the cluster."""

    def __init__(self, archive: bytes, assignment: str, fingerprint: str, waived: bool, gradebook: str):
        self.archive, self.assignment, self.fingerprint = archive, assignment, fingerprint
        self.waived, self.gradebook = waived, gradebook
        self.verdict: str | None = "not set up yet"
        self.folder: Path | None = None
        self.process: GradingProcess | None = None

    async def setup(self, worker: Worker) -> None:
        # Paused while it is set up; back to running, the scheduler looks again at the tasks no
        # worker could take so far, which this one now can.
        was = worker.status
        if was == Status.running:
            worker.status = Status.paused
        try:
            self.worker, self.lock = worker, threading.Lock()
            self.folder = new_run_dir(WORKER_PREFIX)  # removed by the next worker if this one is killed
            self.course = Course(self.folder / "course")
            unpack(self.archive, self.course.root)
            self.scratch = self.folder / "scratch"  # the kernels' and the judge's, as a run's folder
            self.scratch.mkdir(mode=0o711)
            self.verdict = self._refusal()
            if self.verdict is None:
                self.process = self._start_process()
                await worker.set_resources(**{resource_for(self.fingerprint): 1})
        except Exception as error:  # noqa: BLE001 - this worker cannot grade; the others may
            self.verdict = f"setting up the course failed: {type(error).__name__}: {error}"
        finally:
            if self.verdict:
                log.warning("nnla: this worker refuses to grade: %s", self.verdict)
            if was == Status.running:
                worker.status = Status.running

    def _refusal(self) -> str | None:
        """Why this worker must not grade the run's students (None: it may)."""
        mine = grader_fingerprint(self.course, self.assignment)
        if mine != self.fingerprint:
            return (
                f"its grader differs from the coordinator's (fingerprint {mine[:12]}, expected "
                f"{self.fingerprint[:12]}): install the same nnla and reference packages on it"
            )
        found = isolation()
        if not found.full and not self.waived:
            return f"student code cannot be isolated there ({found.summary()}); {found.refusal()}"
        return None

    def _env(self) -> dict[str, str]:
        return {GRADEBOOK_SETTING: self.gradebook, ISOLATION_WAIVER: "1" if self.waived else "0"}

    def _start_process(self) -> GradingProcess:
        log_file = self.course.root / "logs" / self.assignment / "grading.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        return GradingProcess(self.course, self.assignment, self.scratch, log_file, self._env())

    async def _restart_process(self) -> None:
        self.process = self._start_process()

    async def teardown(self, worker: Worker) -> None:
        if self.verdict is None:
            with suppress(Exception):  # a worker closing with its scheduler gone: nothing to undo there
                await asyncio.wait_for(worker.set_resources(**{resource_for(self.fingerprint): 0}), 10)
        if self.process is not None:
            self.process.stop()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def grade(self, student: str, fingerprint: str, submission: dict[str, bytes | str | int]) -> dict:
        """Grade one student whose submitted folder is `submission` (see write_submission)."""
        with self.lock, one_grading_of(self.gradebook, self.assignment, student):
            if self.process is None or self.process.popen.poll() is not None:
                asyncio.run_coroutine_threadsafe(
                    self._restart_process(), self.worker.loop.asyncio_loop
                ).result()
            folder = self.course.submitted(student, self.assignment)
            write_submission(folder, submission)
            try:
                reply = self._ask(student, fingerprint)
                files = self._graded_files(student)
                return {
                    "reply": reply,
                    "files": {str(p.relative_to(self.course.root)): p.read_bytes() for p in files},
                    "modes": {str(p.relative_to(self.course.root)): p.stat().st_mode & 0o777 for p in files},
                }
            finally:
                for done in (folder.parent, self.course.autograded(student, self.assignment).parent):
                    shutil.rmtree(done, ignore_errors=True)
                self.course.log(student, self.assignment).unlink(missing_ok=True)

    def _ask(self, student: str, fingerprint: str) -> dict:
        process = self.process
        try:
            process.grade(student, fingerprint)
        except OSError:  # it died meanwhile: its reply reads as a crash
            process.popen.kill()
        ready, _, _ = select.select([process.popen.stdout], [], [], STUDENT_WALL_SECONDS)
        if not ready:
            process.popen.kill()
        reply = process.reply()
        if reply is None:
            process.popen.wait()
            reply = crashed(self.course, self.assignment, process)
        return reply

    def _graded_files(self, student: str) -> list[Path]:
        """The student's autograded files and log."""
        folder = self.course.autograded(student, self.assignment)
        files = [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()]
        log_file = self.course.log(student, self.assignment)
        if log_file.is_file():
            files.append(log_file)
        return files


def grade_on_worker(student: str, fingerprint: str, submission: dict[str, bytes | str | int]) -> dict:
    """The Dask task: grade one student on this worker.

    Returns the grading process's reply, and the student's autograded files and log as
    {"files": {path: bytes}, "modes": {path: permissions}}, paths relative to the course.
    """
    plugin = get_worker().plugins[PLUGIN_NAME]
    return plugin.grade(student, fingerprint, submission)


def verdict(dask_worker: Worker) -> str | None:
    """Why this worker refused the run (None if it grades); run on every worker by the coordinator."""
    plugin = dask_worker.plugins.get(PLUGIN_NAME)
    return "the course was not set up on it" if plugin is None else plugin.verdict


def unpack(archive: bytes, folder: Path) -> None:
    """Extract a course archive (autograder.grading.cluster.course_archive) into `folder`."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
            tar.extractall(folder, filter="data")
        else:
            tar.extractall(folder)


def write_submission(folder: Path, files: dict[str, bytes | str | int]) -> None:
    """Rebuild a submitted folder from autograder.grading.cluster.submission_files: a file's
    bytes, a symbolic link's target, or a file too large to grade as a sparse file of its size.
    Links come last, so that no file is written through one."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    root = str(folder.resolve())
    for relative, content in sorted(files.items(), key=lambda item: isinstance(item[1], str)):
        where = os.path.normpath(os.path.join(root, relative))
        if not where.startswith(root + os.sep):
            raise ValueError(f"submitted file outside its folder: {relative!r}")
        path = Path(where)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            os.symlink(content, path)
        elif isinstance(content, int):
            with open(path, "wb") as f:
                f.truncate(content)
        else:
            path.write_bytes(content)


@contextmanager
def one_grading_of(gradebook: str, assignment: str, student: str) -> Iterator[None]:
    """Hold the student's lock in a PostgreSQL gradebook while grading them.

    A task can run twice at once: a coordinator killed and started again sends the student
    again while the first task still runs, and a worker that the scheduler lost may still be
    working. nbgrader replaces a student's submission in the gradebook when it grades them
    again, so the second grading must wait for the first. PostgreSQL ends the lock with the
    connection, also when the worker is killed.
    """
    if not gradebook.startswith("postgresql"):
        yield
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    key = int.from_bytes(
        hashlib.sha256(f"nnla\0{assignment}\0{student}".encode()).digest()[:8], "big", signed=True
    )
    engine = create_engine(gradebook, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                with suppress(Exception):  # the connection may be gone; the lock went with it
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    finally:
        engine.dispose()

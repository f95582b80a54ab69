"""Grade a class on a Dask cluster: `nnla autograde ASSIGNMENT --scheduler ADDRESS`.

The coordinator (this module, in the `nnla` process) ships the course to every worker as a
Dask WorkerPlugin (autograder.grading.cluster_worker.CourseOnWorker), which also checks that the
worker may grade, then sends one task per student with that student's submitted files. Each
worker grades with the same grading process as one machine does and writes the grades into
the course's server gradebook (PostgreSQL: SQLite is one machine's file); the coordinator
writes the autograded notebooks and the log the task returns, and results.json last, so a
run stopped at any point resumes as on one machine.

Dask reruns a task whose worker died on another worker, and gives up on a student whose tasks
killed `distributed.scheduler.allowed-failures` + 1 workers (KilledWorker): that student gets a
results.json saying grading failed, while the class goes on. A future is released as soon as
its files are stored, or Dask would compute it again if its worker died later.

`--scheduler local` starts a LocalCluster of `--jobs` worker processes on this machine.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tarfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from distributed import Client, KilledWorker, LocalCluster, as_completed

from autograder.course import Course
from autograder.grading.cluster_worker import (
    PLUGIN_NAME,
    CourseOnWorker,
    grade_on_worker,
    resource_for,
    verdict,
)
from autograder.grading.intake import MAX_EXTRA_FILE_BYTES, MAX_NOTEBOOK_BYTES
from autograder.grading.nbgrader import gradebook_url, sqlite_file
from autograder.grading.pool import ClusterRefused, failed
from autograder.judge.isolation.sandbox import waived

log = logging.getLogger(__name__)

CONNECT_SECONDS = 30


def course_archive(course: Course, assignment: str) -> bytes:
    """What a worker needs of the course, as a .tar.gz: the config, every manifest and plug-in,
    and the assignment's source and release notebooks. No submissions, no gradebook."""
    parts = [course.root / "nbgrader_config.py", course.root / "assignments"]
    parts += [course.source(assignment), course.release(assignment)]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for part in parts:
            files = [part] if part.is_file() else sorted(p for p in part.rglob("*") if p.is_file())
            for path in files:
                if "__pycache__" not in path.parts:
                    tar.add(path, arcname=str(path.relative_to(course.root)))
    return buffer.getvalue()


def submission_files(folder: Path) -> dict[str, bytes | str | int]:
    """A submitted folder as the worker rebuilds it (cluster_worker.write_submission): a file's
    bytes, a symbolic link's target (str), or, for a file too large to be graded, its size
    (int), so that grading there says exactly what it says here."""
    files: dict[str, bytes | str | int] = {}
    if not folder.is_dir():
        return files
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        if path.is_symlink():
            files[name] = os.readlink(path)
        elif path.is_file():
            too_large = MAX_NOTEBOOK_BYTES if path.suffix == ".ipynb" else MAX_EXTRA_FILE_BYTES
            size = path.stat().st_size
            files[name] = size if size > too_large else path.read_bytes()
    return files


class ClusterPool:
    """Grades students on the workers of a Dask cluster; the same interface as GradingPool."""

    def __init__(self, course: Course, assignment: str, scheduler: str, jobs: int, fingerprint: str):
        self.course, self.assignment, self.scheduler, self.jobs = course, assignment, scheduler, jobs
        self.fingerprint = fingerprint
        self.cluster: LocalCluster | None = None
        self.client: Client | None = None

    def __enter__(self) -> ClusterPool:
        url = gradebook_url(self.course)
        if sqlite_file(url):
            raise ClusterRefused(
                "grading on a cluster needs a gradebook that every worker can reach, such as "
                "PostgreSQL (NNLA_GRADEBOOK_URL=postgresql+psycopg2://user:password@host/nnla); "
                f"{url} is a file on this machine"
            )
        try:
            if self.scheduler == "local":
                self.cluster = LocalCluster(
                    n_workers=self.jobs,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            address = self.cluster.scheduler_address if self.cluster else self.scheduler
            try:
                self.client = Client(address, timeout=CONNECT_SECONDS)
            except (OSError, TimeoutError) as error:
                raise ClusterRefused(f"no Dask scheduler answers at {address} ({error})") from None
            plugin = CourseOnWorker(
                course_archive(self.course, self.assignment), self.assignment, self.fingerprint, waived(), url
            )
            self.client.register_plugin(plugin, name=PLUGIN_NAME)
            self._check_workers()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _check_workers(self) -> None:
        try:
            self.client.wait_for_workers(1, timeout=CONNECT_SECONDS)
        except TimeoutError:
            pass  # said below
        verdicts = self.client.run(verdict)
        for worker, refusal in sorted(verdicts.items()):
            if refusal:
                log.warning("worker %s refused: %s", worker, refusal)
        accepted = [w for w, refusal in verdicts.items() if refusal is None]
        where = self.client.scheduler.address
        if not verdicts:
            raise ClusterRefused(f"the cluster at {where} has no workers (waited {CONNECT_SECONDS} s)")
        if not accepted:
            raise ClusterRefused(
                f"no worker of the cluster at {where} can grade ({len(verdicts)} refused, above)"
            )
        log.info("grading on %d of the cluster's %d workers", len(accepted), len(verdicts))
        self.slots = len(accepted)

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            try:
                self.client.unregister_worker_plugin(PLUGIN_NAME)
            except Exception:  # noqa: BLE001 - the cluster may be gone; nothing left to undo there
                log.debug("could not remove the course from the workers", exc_info=True)
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def start(self, processes: int) -> None:
        """Nothing to start ahead: the workers are there (GradingPool's interface)."""

    def grade(self, todo: list[tuple[str, str]], on_done: Callable[[dict], None]) -> None:
        """Grade each (student, fingerprint) of `todo`; call `on_done` with each reply.

        A worker that dies takes the tasks waiting on it along with the one it ran, and Dask
        counts a try against each of them. So a student whose tries all ended their workers is
        tried once more at the end, alone on the cluster: only then does a student who keeps
        killing workers fail, and not those who merely waited beside them.
        """
        suspects: list[tuple[str, str]] = []
        self._grade(todo, on_done, self.slots, suspects)
        for suspect in suspects:
            self._grade([suspect], on_done, 1, None, "-alone")

    def _grade(
        self,
        todo: list[tuple[str, str]],
        on_done: Callable[[dict], None],
        slots: int,
        suspects: list[tuple[str, str]] | None,
        attempt: str = "",
    ) -> None:
        """Keep `slots` students on the cluster at a time, so that few wait on any one worker."""
        pending = deque(todo)
        running: dict = {}
        finished = as_completed()

        def send_next() -> None:
            student, fingerprint = pending.popleft()
            future = self.client.submit(
                grade_on_worker,
                student,
                fingerprint,
                submission_files(self.course.submitted(student, self.assignment)),
                key=f"nnla-grade-{self.assignment}-{student}-{fingerprint[:16]}{attempt}",
                resources={resource_for(self.fingerprint): 1},
            )
            running[future] = (student, fingerprint, time.monotonic())
            finished.add(future)

        for _ in range(min(slots, len(pending))):
            send_next()
        for future in finished:
            student, fingerprint, since = running.pop(future)
            try:
                outcome = future.result()
            except KilledWorker:
                if suspects is None:
                    reply = self._failed(
                        student, since, "Grading stopped: each try ended the worker grading it."
                    )
                else:
                    suspects.append((student, fingerprint))
                    reply = None
            except Exception as error:  # noqa: BLE001 - one student's failure; the class goes on
                reply = self._failed(student, since, f"Grading stopped: {type(error).__name__}: {error}")
            else:
                reply = self._store(student, outcome)
            future.release()
            if reply is not None:
                on_done(reply)
            if pending:
                send_next()

    def _store(self, student: str, outcome: dict) -> dict:
        """Write what the worker sent: the autograded files and log, results.json last."""
        folder = self.course.autograded(student, self.assignment)
        results = folder / "results.json"
        results.unlink(missing_ok=True)  # until the new one is written, the student is not graded
        shutil.rmtree(folder, ignore_errors=True)
        allowed = (folder.resolve(), self.course.log(student, self.assignment).resolve())
        graded = None
        for relative, data in outcome["files"].items():
            path = (self.course.root / relative).resolve()
            if path == allowed[0] / "results.json":
                graded = data
            elif path.is_relative_to(allowed[0]) or path == allowed[1]:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                path.chmod(outcome["modes"][relative])  # nbgrader makes autograded files read-only
        if graded is not None:
            partial = results.with_name(".results.json.partial")
            partial.write_bytes(graded)
            os.replace(partial, results)
        return outcome["reply"]

    def _failed(self, student: str, since: float, message: str) -> dict:
        return failed(self.course, self.assignment, student, message, time.monotonic() - since)

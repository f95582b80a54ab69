"""nbgrader preprocessors that decide autograded cells outside the student's kernel.

Configured in nbgrader_config.py (Autograde.autograde_preprocessors), so `nbgrader autograde`
and `nnla autograde` grade alike. JudgeHiddenTests runs after the kernel has executed the
notebook and before SaveAutoGrades: it replaces each autograded test cell's outputs with the
judge's verdict (feedback on stdout, the score as the cell's result, which nbgrader reads as
partial credit), whatever the student's kernel printed or forged there.

The judge needs only the notebook's code, not its outputs, so StartJudging, placed before the
kernel runs, sets the judge to work on a thread of its own: while the kernel computes, the
judge does too. One thread judges every notebook in turn, so the student's judge worker is
only ever used by it.
"""

from __future__ import annotations

import atexit
import copy
import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from autograder.course import Course, Manifest
from autograder.judge.feedback import verdict_text
from autograder.judge.isolation.client import Cell, ForkServer, StudentCrash, StudentProcess, StudentTimeout
from autograder.judge.isolation.sandbox import SandboxSpec, require_isolation
from autograder.judge.runner import judge_notebook
from autograder.notebooks import is_autograded_test, is_solution, nbgrader_meta
from autograder.plugin import load_plugin

log = logging.getLogger(__name__)


def worker_cells(nb: NotebookNode) -> list[Cell]:
    """The code the judge loads: given (locked, ungraded) cells and the student's solution cells.

    Test cells and free cells stay out: they may plot, print or depend on the kernel's state.
    """
    cells = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or "grade_id" not in meta:
            continue
        if is_solution(cell) or (meta.get("locked") and not meta.get("grade")):
            cells.append(Cell(meta["grade_id"], cell.source))
    return cells


def sandbox_for(manifest: Manifest) -> SandboxSpec:
    """The limits of a student's worker: enough for every exercise of the assignment."""
    limits = [manifest.limits_for(e) for e in manifest.exercises] or [manifest.default_limits]
    return SandboxSpec(
        scratch="",
        cpu_seconds=int(sum(lim.cpu_seconds for lim in limits)) + 10,
        memory_mb=max(lim.memory_mb for lim in limits),
    )


def judge(nb: NotebookNode, notebook: str, assignment: str, student: str, course: Course) -> dict:
    """Verdicts for the notebook's autograded cells (empty if it has no hidden suite)."""
    plugin = load_plugin(course, assignment)
    suite = plugin.suite_for(notebook)
    if suite is None:
        return {}
    set_hypothesis_home_dir(course.hypothesis_storage)
    manifest = plugin.manifest
    points = {
        nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"])
        for c in nb.cells
        if is_autograded_test(c)
    }
    process = _student_process(course, assignment, student)
    try:
        process.add_notebook(notebook, worker_cells(nb))
    except (StudentTimeout, StudentCrash):
        pass  # every property then reports that the code could not run
    return judge_notebook(process, suite, points, manifest.limits_for)


_current: tuple[tuple, StudentProcess] | None = None


def _student_process(course: Course, assignment: str, student: str) -> StudentProcess:
    """The worker of the student being graded; nbgrader grades one student's notebooks in a row,
    so the worker (and the student's code loaded into it) serves all of them."""
    global _current
    key = (str(course.root), assignment, student)
    if _current is not None and _current[0] == key:
        return _current[1]
    close_student_process()
    plugin = load_plugin(course, assignment)
    load_seconds = min(plugin.manifest.default_limits.wall_seconds, 20.0)
    process = StudentProcess(
        sandbox_for(plugin.manifest), _server, load_seconds, plugin.given, plugin.manifest.banned_calls
    )
    _current = (key, process)
    return process


def close_student_process() -> None:
    global _current
    if _current is not None:
        _current[1].close()
        _current = None


# Forks every student's worker; started by the first one, by the thread that judges.
_server = ForkServer()


@atexit.register
def close_judge_processes() -> None:
    """End the current student's worker and the fork server (judging later starts a new one)."""
    close_student_process()
    _server.close()


# The thread that starts the fork server must outlive it (the server dies with its starter).
_judging = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nnla-judge")


def finish_judging() -> None:
    """Close the current student's judge worker once every judgement started has finished."""
    _judging.submit(close_student_process).result()


class _JudgePreprocessor(NbGraderPreprocessor):
    course_root = Unicode("", help="The course folder (default: the working directory).").tag(config=True)

    def start_judging(self, nb: NotebookNode, resources: dict) -> Future:
        # Plain `nbgrader autograde` stops here, before a kernel starts, where student code
        # cannot be isolated and no one accepted that; its message says what to do.
        log.info(require_isolation().summary())
        info = resources["nbgrader"]
        course = Course(Path(self.course_root or os.getcwd()))
        load_plugin(course, info["assignment"])  # here, not on the thread: its references are hidden
        # from the kernel, which starts next
        code = copy.deepcopy(nb)  # the kernel is about to change nb's outputs, not its code
        return _judging.submit(judge, code, info["notebook"], info["assignment"], info["student"], course)


class StartJudging(_JudgePreprocessor):
    """Set the judge to work on the notebook's code while the kernel runs it."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        resources["nnla_verdicts"] = self.start_judging(nb, resources)
        return nb, resources


class JudgeHiddenTests(_JudgePreprocessor):
    """Write the judge's verdict into every autograded test cell."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        pending = resources.pop("nnla_verdicts", None) or self.start_judging(nb, resources)
        verdicts = pending.result()
        for cell in nb.cells:
            grade_id = nbgrader_meta(cell).get("grade_id")
            if not is_autograded_test(cell) or grade_id not in verdicts:
                continue
            verdict = verdicts[grade_id]
            cell.outputs = [
                new_output("stream", name="stdout", text=verdict_text(verdict) + "\n"),
                new_output(
                    "execute_result",
                    data={"text/plain": repr(verdict.score)},
                    execution_count=cell.get("execution_count"),
                ),
            ]
            cell.metadata["nnla"] = {"score": verdict.score, "tags": verdict.tags}
        return nb, resources

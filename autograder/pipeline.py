"""Drive nbgrader: register an assignment in the gradebook, autograde submissions.

nbgrader runs as a subprocess of the interpreter that runs nnla, so the course gets the
same nbgrader whether an instructor types `nnla autograde` or `nbgrader autograde`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.course import Course, Manifest

log = logging.getLogger(__name__)


def tool_env() -> dict[str, str]:
    """The environment for nbgrader and its kernels.

    nbgrader creates a new gradebook by running the `alembic` executable found on PATH, so
    the folder of this interpreter's scripts must be on it even when the venv is not active.
    """
    env = dict(os.environ)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([scripts, env.get("PATH", "")])
    env["MPLBACKEND"] = "Agg"
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def run_nbgrader(course: Course, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGS` in the course folder; its log goes to the returned stdout."""
    cmd = [sys.executable, "-m", "nbgrader", *args]
    log.debug("running %s", " ".join(cmd))
    done = subprocess.run(
        cmd,
        cwd=course.root,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed (exit {done.returncode}):\n{done.stdout}")
    return done


def open_gradebook(course: Course) -> Gradebook:
    os.environ["PATH"] = tool_env()["PATH"]  # see tool_env: a new gradebook runs alembic
    return Gradebook(course.gradebook_url, course_id="nnla")


def register_assignment(course: Course, manifest: Manifest) -> None:
    """Record the assignment's notebooks and cells in the gradebook, with its due date.

    nbgrader learns an assignment's cells only by generating it; the student version goes
    to a scratch folder so that the committed release/ is left exactly as it is.
    """
    with tempfile.TemporaryDirectory(prefix="nnla-release-") as scratch:
        run_nbgrader(
            course,
            "generate_assignment",
            manifest.id,
            "--force",
            f"--CourseDirectory.release_directory={scratch}",
        )
    with open_gradebook(course) as gb:
        gb.update_or_create_assignment(manifest.id, duedate=manifest.due.replace(tzinfo=None))


def autograde(
    course: Course, manifest: Manifest, students: list[str], jobs: int = 1
) -> subprocess.CompletedProcess:
    """Autograde `submitted/<student>/<assignment>` for each student, replacing earlier grades.

    With `jobs` > 1 the students are split into that many groups, each graded by its own
    nbgrader process; the processes share the SQLite gradebook, whose short write
    transactions wait for each other (sqlite's busy timeout) rather than fail.
    """
    args = [
        "autograde",
        manifest.id,
        "--force",
        "--create",
        f"--LateSubmissionPlugin.penalty_method={manifest.late_policy}",
    ]
    everyone = course.students_submitted(manifest.id)
    groups = [students[i::jobs] for i in range(jobs)] if jobs > 1 else [students]
    with ThreadPoolExecutor(max_workers=len(groups)) as pool:
        runs = [
            pool.submit(run_nbgrader, course, *args, *_selecting(g, everyone), check=False)
            for g in groups
            if g
        ]
        done = [r.result() for r in runs]
    code = next((d.returncode for d in done if d.returncode), 0)
    return subprocess.CompletedProcess(args, code, "".join(d.stdout for d in done))


def _selecting(students: list[str], everyone: list[str]) -> list[str]:
    """nbgrader options that select exactly `students`: one glob, or all but the others."""
    if len(students) == 1:
        return [f"--CourseDirectory.student_id={_glob_literal(students[0])}"]
    others = sorted(set(everyone) - set(students))
    if any("," in s for s in others):
        raise ValueError("student ids with commas can only be graded one at a time (--student ID)")
    return [f"--CourseDirectory.student_id_exclude={','.join(others)}"] if others else []


def _glob_literal(text: str) -> str:
    """A glob pattern that matches exactly `text` (nbgrader treats student ids as globs)."""
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)

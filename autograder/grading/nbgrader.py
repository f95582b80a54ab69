"""Drive nbgrader: run its commands, read the course's configuration, register an assignment.

nbgrader's commands run as subprocesses of the interpreter that runs nnla, and its converters
in this process under the course's own nbgrader_config.py, so the course gets the same nbgrader
whether an instructor types `nnla autograde` or `nbgrader autograde`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from nbgrader.api import Gradebook
from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config, PyFileConfigLoader

from autograder.course import Course, Manifest
from autograder.grading.gradebook import alembic_in_process, repair_half_built

log = logging.getLogger(__name__)


def tool_env() -> dict[str, str]:
    """The environment for nbgrader and its kernels: this interpreter's scripts first on PATH,
    as if its venv were active (nbgrader's gradebook no longer needs it: see
    autograder.grading.gradebook)."""
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


def gradebook_url(course: Course) -> str:
    """The gradebook's URL as nbgrader_config.py sets it, or nbgrader's default."""
    config = course_config(course)
    return config.CourseDirectory.get("db_url") or f"sqlite:///{course.root / 'gradebook.db'}"


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite gradebook's URL; None for a server's."""
    return Path(url.split(":///", 1)[1]) if url.startswith("sqlite:///") else None


def gradebook_ready(course: Course) -> None:
    """Let nbgrader create the gradebook whatever PATH holds, and repair an SQLite one that an
    earlier creation left half built (autograder.grading.gradebook)."""
    alembic_in_process()
    file = sqlite_file(gradebook_url(course))
    if file and (problem := repair_half_built(file)):
        log.warning("%s", problem)


def open_gradebook(course: Course) -> Gradebook:
    """The course's gradebook, created if needed."""
    gradebook_ready(course)
    return Gradebook(gradebook_url(course), course_id=course_id(course))


def course_id(course: Course) -> str:
    """The course id nbgrader_config.py sets (nbgrader's default, "", when it sets none)."""
    config = course_config(course)
    return config.CourseDirectory.get("course_id", "")


def course_config(course: Course) -> Config:
    """The course's nbgrader_config.py, as `nbgrader` would read it in the course folder."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course.root)).load_config()
    config.CourseDirectory.root = str(course.root)
    return config


def register_assignment(course: Course, manifest: Manifest) -> None:
    """Record the assignment's notebooks and cells in the gradebook, with its due date.

    nbgrader learns an assignment's cells only by generating it (`nbgrader generate_assignment`,
    run here in this process to spare a start-up of nbgrader); the student version goes to a
    scratch folder so that the committed release/ is left exactly as it is.
    """
    gradebook_ready(course)
    config = course_config(course)
    with tempfile.TemporaryDirectory(prefix="nnla-release-") as scratch:
        config.CourseDirectory.release_directory = scratch
        coursedir = CourseDirectory(config=config)
        coursedir.assignment_id = manifest.id
        generate = GenerateAssignment(coursedir=coursedir, config=config)
        generate.force = True
        generate.start()
    with open_gradebook(course) as gb:
        gb.update_or_create_assignment(manifest.id, duedate=gradebook_time(manifest.due))


def gradebook_time(when: dt.datetime) -> dt.datetime:
    """A time as nbgrader's gradebook keeps it: in UTC, without a zone."""
    return when.astimezone(dt.UTC).replace(tzinfo=None)


def glob_literal(text: str) -> str:
    """A glob pattern that matches exactly `text` (nbgrader treats student ids as globs)."""
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)

"""A long-lived grading process: grades one student at a time, as `nnla autograde` asks it to.

    python -m autograder.grading.process COURSE ASSIGNMENT

Requests arrive on stdin and replies leave on stdout, one JSON object per line:

    {"student": "alice", "fingerprint": "..."}
    {"student": "alice", "ok": true, "seconds": 7.9, "score": 27, "max_score": 27, "messages": [], ...}

For each student it stages the submission (autograder.grading.intake), runs nbgrader's own
Autograde converter in this process, configured by the course's nbgrader_config.py, and writes
results.json last, so a results.json means the student is completely graded. Staying alive
between students spares each of them nbgrader's start-up and the hidden suites' imports.
Everything else it or its kernels print goes to stderr, never into the replies.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir
from nbgrader.converters import Autograde
from nbgrader.converters.base import NbGraderException
from nbgrader.coursedir import CourseDirectory
from traitlets.config import Config

from autograder.course import Course
from autograder.grading.intake import stage_submission
from autograder.grading.nbgrader import course_config, glob_literal
from autograder.grading.results import finish_results
from autograder.judge.isolation.sandbox import die_with_parent
from autograder.judge.kernel import stopped_kernels
from autograder.judge.preprocessor import finish_judging


def grading_config(course: Course, manifest_late_policy: str) -> Config:
    """The course's nbgrader_config.py, with nnla's staging folder as the submissions to read."""
    config = course_config(course)
    config.CourseDirectory.submitted_directory = str(course.staging)
    config.LateSubmissionPlugin.penalty_method = manifest_late_policy
    return config


class Grader:
    """Grades single students of one assignment with one nbgrader configuration."""

    def __init__(self, course: Course, assignment: str):
        self.course = course
        self.manifest = course.manifest(assignment)
        self.config = grading_config(course, self.manifest.late_policy)
        self.coursedir = CourseDirectory(config=self.config)

    def grade(self, student: str, fingerprint: str) -> dict:
        started = time.monotonic()
        assignment = self.manifest.id
        staged = self.course.staging / student / assignment
        messages = stage_submission(
            self.course.submitted(student, assignment),
            self.course.release(assignment),
            staged,
            self.manifest.notebooks,
        )
        try:
            ok, error, log = self._autograde(student)
        finally:
            finish_judging()
            shutil.rmtree(staged.parent, ignore_errors=True)
        if ok:
            messages += stopped_kernels(self.course.autograded(student, assignment))
        else:
            messages.append("Grading failed; the instructor has the log. Nothing was scored.")
        log_file = self.course.log(student, assignment)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(log + error)
        # A failed run leaves no fingerprint, so the next run grades the student again.
        seconds = time.monotonic() - started
        results = finish_results(
            self.course, assignment, student, messages, fingerprint if ok else None, seconds
        )
        return {
            "student": student,
            "ok": ok,
            "seconds": seconds,
            "score": results["score"],
            "max_score": results["extra_data"]["max_score"],
            "messages": messages,
            "error": error,
        }

    def _autograde(self, student: str) -> tuple[bool, str, str]:
        """Run nbgrader's Autograde for one student: (succeeded, error, nbgrader's log)."""
        self.coursedir.assignment_id = self.manifest.id
        self.coursedir.student_id = glob_literal(student)
        app = LiteralAutograde(coursedir=self.coursedir, config=self.config)
        app.force = True
        app.create_student = True
        captured = _LogCapture(app.log)
        try:
            app.start()
            return True, "", captured.text()
        except Exception:  # noqa: BLE001 - any failure is this student's, reported, and the next goes on
            return False, traceback.format_exc(), captured.text()
        finally:
            captured.close()


class LiteralAutograde(Autograde):
    """nbgrader's Autograde for one student whose id may hold glob characters (`kim[2]`):
    nbgrader globs for the notebooks inside the folder it found, whose name it does not escape."""

    def init_notebooks(self) -> None:
        self.assignments, self.notebooks = {}, []
        where = self._format_source(self.coursedir.assignment_id, self.coursedir.student_id)
        for folder in glob.glob(where):
            if found := glob.glob(os.path.join(glob.escape(folder), self.coursedir.notebook_id + ".ipynb")):
                self.assignments[folder] = found
        if not self.assignments:
            raise NbGraderException(f"No notebooks were matched by '{where}'")


class _LogCapture(logging.Handler):
    def __init__(self, logger: logging.Logger):
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
        self.lines: list[str] = []
        self.logger = logger
        logger.addHandler(self)
        logger.setLevel(logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def close(self) -> None:
        self.logger.removeHandler(self)
        super().close()


def main(argv: list[str]) -> int:
    course_root, assignment = argv
    die_with_parent()
    course = Course(Path(course_root))
    set_hypothesis_home_dir(course.hypothesis_storage)  # not .hypothesis/ in the course folder
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # kernels and libraries that print must not corrupt the replies
    sys.stdout = sys.stderr
    grader = Grader(course, assignment)
    for line in sys.stdin:
        request = json.loads(line)
        reply = grader.grade(request["student"], request["fingerprint"])
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

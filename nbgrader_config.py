"""nbgrader configuration of the nnla course. Plain `nbgrader ...` and `nnla ...` both read it."""

import os
from pathlib import Path

from autograder.exchange.client import configure as configure_exchange

c = get_config()  # noqa: F821 (injected by traitlets)

c.CourseDirectory.course_id = "nnla"

# The exchange (release, fetch, submit, collect, feedback): the course's own, a daemon the
# instructor runs (`nnla exchange serve`) on this socket, which knows each caller from the kernel
# and stamps submission times itself (README, "Exchange"). The socket's folder must belong to
# the instructor, writable by them alone and reachable by students. `nnla exchange
# student-config` prints the config students' nbgrader needs.
configure_exchange(c, socket_path="/srv/nnla/exchange.sock")

# The gradebook: the embedded SQLite one next to this file, created on first use (never
# committed), unless NNLA_GRADEBOOK_URL names another, such as a PostgreSQL server's
# (postgresql+psycopg2://user@host/db), which grading on a cluster requires. nbgrader, the
# formgrader and nnla all read it here and nowhere else.
c.CourseDirectory.db_url = os.environ.get(
    "NNLA_GRADEBOOK_URL", f"sqlite:///{Path(__file__).resolve().parent / 'gradebook.db'}"
)
# nbgrader creates and upgrades the gradebook with the `alembic` executable found on PATH, which
# fails when the venv's bin folder is not on it (`.venv/bin/jupyter server`, `.venv/bin/nbgrader`):
# every nbgrader app, the formgrader and nnla use alembic's Python API and this interpreter instead,
# and `nbgrader db upgrade` first repairs a gradebook such a failure left half built.
from autograder.grading.gradebook import alembic_in_process  # noqa: E402

alembic_in_process()

# Given code draws figures; Agg renders them without a display, and without the inline
# backend's PNG payloads in every autograded notebook. Students keep inline plots in Jupyter.
os.environ.setdefault("MPLBACKEND", "Agg")

# A cell that runs longer than this is interrupted; the notebook goes on to the next cell.
c.Execute.timeout = 30
c.Execute.startup_timeout = 60
# Once the notebook has run, its sandboxed kernel has nothing left to do: kill it rather than wait
# for a polite shutdown (about 0.4 s a notebook).
c.Execute.shutdown_kernel = "immediate"
# A runaway print loop must not bloat the autograded notebook.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 40

# Grading: the student's kernel runs in the sandbox, and every autograded test cell is decided
# by the judge outside it (hidden hypothesis properties against nnla_ref). The judge starts on
# the notebook's code as the kernel starts running it (StartJudging), and its verdicts are
# written into the test cells after the kernel is done and before nbgrader saves the grades
# (JudgeHiddenTests). The hidden-test blocks are removed
# before the kernel runs: they decide nothing there, and student code could copy them into its
# outputs, which go back to the student as feedback. Last, everything the student wrote or their
# code displayed is made inert in the autograded copy, which formgrader and the feedback render
# as HTML in the Jupyter server's origin (SanitizeStudentContent). For the graders in formgrader, each
# hand-graded answer is followed by a read-only cell with the source's model answer and rubric
# (ShowRubrics), which the feedback removes again (RemoveGraderNotes).
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.ClearHiddenTests",
    "autograder.judge.preprocessor.StartJudging",
    "autograder.judge.kernel.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.judge.preprocessor.JudgeHiddenTests",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
    "autograder.grading.sanitize.SanitizeStudentContent",
    "autograder.grading.rubrics.ShowRubrics",
]

# Feedback: the graders' notes go first (RemoveGraderNotes); nbgrader's ClearHiddenTests runs on each
# autograded notebook before it becomes HTML, so a notebook autograded under another configuration
# does not show its hidden tests either.
# `nnla feedback` passes the same list (autograder/outputs/feedback.py, FEEDBACK_PREPROCESSORS).
c.GenerateFeedback.preprocessors = [
    "autograder.grading.rubrics.RemoveGraderNotes",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.GetGrades",
    "autograder.grading.sanitize.SanitizeStudentContent",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

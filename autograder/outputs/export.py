"""`nnla export`: an assignment's grades for the LMS, as Canvas's gradebook import CSV or a plain CSV.

The grades come from nbgrader's gradebook, counted as results.json counts them
(autograder.grading.results): autograded scores, plus the written answers a grader scored in
formgrader, minus nbgrader's late penalty. A written answer still waiting for a grader counts 0,
and a student with no submission gets 0, as in nbgrader's own CSV export. Every student of the
gradebook has a row, sorted by id; the same gradebook gives the same bytes.

The same code is an nbgrader export plugin, so from the course folder

    nbgrader export --exporter=autograder.outputs.export.CanvasExportPlugin --assignment=<assignment>
    nbgrader export --exporter=autograder.outputs.export.GradesCsvExportPlugin --assignment=<assignment>

write what `nnla export <assignment> --format canvas|csv` writes (the roster and the Canvas column
header through `--CanvasExportPlugin.roster=FILE` and `--CanvasExportPlugin.column=HEADER`).

Student text (names, e-mail, ids) is hostile: a cell that a spreadsheet would read as a formula
(starting with = + - @, a tab or a line break) gets a leading `'`. Numbers are never changed.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins.export import ExportPlugin
from traitlets import Unicode

from autograder.course import Course
from autograder.grading.results import assignment_items, manual_score
from autograder.notebooks import GradedItem

FORMATS = ("canvas", "csv")
# Canvas's gradebook import: the student columns, in this order, then one column per assignment.
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
# The first cell of the row under the header, as Canvas's own exports write it.
POINTS_POSSIBLE = "    Points Possible"
CSV_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "lms_user_id",
    "score",
    "max_score",
    "late_penalty",
    "submitted",
)
ROSTER_COLUMNS = ("id", "canvas_id", "sis_user_id", "sis_login_id", "section")
# Canvas drops trailing columns with these names (its read-only totals) when it imports.
CANVAS_READ_ONLY = re.compile(
    r"Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade"
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
SHOWN = 10  # ids a warning names before it says "and N more"


class ExportRefused(Exception):
    """Nothing was written: the message says why, in one line."""


@dataclasses.dataclass(frozen=True)
class RosterEntry:
    """One student's LMS ids, from the roster."""

    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""


@dataclasses.dataclass(frozen=True)
class StudentGrade:
    """One student's row: who, which LMS ids, and the grade as results.json counts it."""

    id: str
    first_name: str
    last_name: str
    email: str
    canvas_id: str  # the roster's canvas_id, else nbgrader's lms_user_id
    sis_user_id: str
    sis_login_id: str
    section: str
    score: float  # 0 without a submission
    late_penalty: float
    submitted: dt.datetime | None  # nbgrader's timestamp (UTC), None without a submission or timestamp
    has_submission: bool
    ungraded: int  # written answers waiting for a grader (counted 0)

    @property
    def sortable_name(self) -> str:
        """The name as Canvas lists students, "Last, First"; the one name there is, or the id."""
        names = [n for n in (self.last_name, self.first_name) if n]
        return ", ".join(names) if names else self.id

    @property
    def matchable(self) -> bool:
        """Whether Canvas can find the student other than by name: a numeric Canvas user id, or
        an SIS user or login id."""
        return self.canvas_id.isdigit() or bool(self.sis_user_id or self.sis_login_id)


@dataclasses.dataclass(frozen=True)
class Export:
    """An assignment's grades, one row per student of the gradebook, sorted by id."""

    assignment: str
    title: str
    max_score: float  # autograded and written points, from the notebooks' nbgrader metadata
    rows: tuple[StudentGrade, ...]
    warnings: tuple[str, ...]  # one line each

    @property
    def without_submission(self) -> int:
        return sum(not row.has_submission for row in self.rows)

    def summary(self) -> str:
        return f"{_count(len(self.rows), 'student')}, {self.without_submission} with no submission"

    def unmatchable(self) -> list[str]:
        """Students Canvas can match only by name: no numeric Canvas ID, SIS User ID or SIS Login ID."""
        return [row.id for row in self.rows if not row.matchable]


def read_roster(path: Path) -> dict[str, RosterEntry]:
    """The roster: nbgrader student id -> LMS ids.

    A CSV with the header `id,canvas_id,sis_user_id,sis_login_id,section`, only `id` required,
    other columns ignored, a byte-order mark and Windows line ends tolerated. Raise
    ExportRefused when it cannot be read, has no `id` column, or names a student twice.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as unreadable:
        raise ExportRefused(f"roster {path}: cannot read it ({unreadable})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    if "id" not in header:
        raise ExportRefused(
            f"roster {path}: no `id` column in its header (expected {','.join(ROSTER_COLUMNS)})"
        )
    at = {name: header.index(name) for name in ROSTER_COLUMNS if name in header}
    roster: dict[str, RosterEntry] = {}
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {name: row[i].strip() if i < len(row) else "" for name, i in at.items()}
        student = cells.pop("id")
        if not student:
            raise ExportRefused(f"roster {path}, line {line}: no id")
        if student in roster:
            raise ExportRefused(f"roster {path}, line {line}: id {student!r} is there twice")
        roster[student] = RosterEntry(**cells)
    return roster


def collect_grades(
    gb: Gradebook,
    course: Course,
    assignment: str,
    roster: dict[str, RosterEntry] | None = None,
    students: Iterable[str] | None = None,
) -> Export:
    """Every student's grade for `assignment` (only `students`, when given).

    Raise ExportRefused when the gradebook does not know the assignment or its source
    notebooks carry no points.
    """
    try:
        found = gb.find_assignment(assignment)
    except MissingEntry:
        known = ", ".join(a.name for a in gb.assignments) or "none"
        raise ExportRefused(
            f"assignment {assignment!r} is not in the gradebook (it has: {known}); run `nnla autograde` first"
        ) from None
    items = assignment_items(course, assignment)
    if not items:
        raise ExportRefused(
            f"no graded cells in {course.source(assignment)}: cannot tell the points possible"
        )
    try:
        title = course.manifest(assignment).title
    except FileNotFoundError:
        title = assignment
    submissions = {sub.student.id: sub for sub in found.submissions}
    roster = roster or {}
    everyone = {student.id: student for student in gb.students}
    warnings = []
    wanted = sorted(everyone)
    if students is not None:
        asked = {str(s) for s in students}
        if unknown := sorted(asked - set(everyone)):
            warnings.append(f"not students in the gradebook, skipped: {_some(unknown)}")
        wanted = [s for s in wanted if s in asked]
    if stray := sorted(set(roster) - set(everyone)):
        warnings.append(
            f"{_count(len(stray), 'roster id')} not among the gradebook's students, skipped: {_some(stray)}"
        )
    rows = []
    for student_id in wanted:
        student, entry = everyone[student_id], roster.get(student_id, RosterEntry())
        submission = submissions.get(student_id)
        score, penalty, ungraded = _total(submission, items)
        rows.append(
            StudentGrade(
                id=student_id,
                first_name=(student.first_name or "").strip(),
                last_name=(student.last_name or "").strip(),
                email=(student.email or "").strip(),
                canvas_id=entry.canvas_id or (student.lms_user_id or "").strip(),
                sis_user_id=entry.sis_user_id,
                sis_login_id=entry.sis_login_id,
                section=entry.section,
                score=score,
                late_penalty=penalty,
                submitted=submission.timestamp if submission is not None else None,
                has_submission=submission is not None,
                ungraded=ungraded,
            )
        )
    if waiting := [r.id for r in rows if r.ungraded]:
        warnings.append(
            f"{_count(len(waiting), 'student')} with written answers not graded yet, counted 0: "
            f"{_some(waiting)}"
        )
    return Export(
        assignment=assignment,
        title=title,
        max_score=sum(item.points for item in items),
        rows=tuple(rows),
        warnings=tuple(warnings),
    )


def _total(submission, items: list[GradedItem]) -> tuple[float, float, int]:
    """(score, late penalty, written answers waiting for a grader) of one submission, counted as
    autograder.grading.results.build_results counts results.json's top-level score."""
    if submission is None:
        return 0.0, 0.0, 0
    notebooks = submission.notebooks
    graded = {(nb.name, grade.name): grade for nb in notebooks for grade in nb.grades}
    late_penalty = sum(float(nb.late_submission_penalty or 0.0) for nb in notebooks)
    tests, hand = [], []
    for item in items:
        grade = graded.get((item.notebook, item.grade_id))
        if item.autograded:
            tests.append(float(grade.score or 0.0) if grade else 0.0)
        else:
            hand.append(manual_score(grade))
    waiting = sum(score is None for score in hand)
    return sum(tests) + sum(s for s in hand if s is not None) - late_penalty, late_penalty, waiting


def _count(n: int, what: str) -> str:
    """ "1 student", "2 students"."""
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _some(ids: list[str]) -> str:
    """The first few ids, comma-separated, and how many more."""
    shown = ", ".join(ids[:SHOWN])
    return shown if len(ids) <= SHOWN else f"{shown} and {len(ids) - SHOWN} more"


def text_cell(value: str) -> str:
    """Student text as a CSV cell that no spreadsheet runs as a formula (CSV injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def number(value: float) -> str:
    """A score without float noise: 33.5, 27, 0.3333."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def default_column(export: Export) -> str:
    """Canvas's column header when none is given: the title and the assignment id, with no
    "(number)" at the end, which Canvas would take for the id of an existing assignment."""
    return f"{export.title} [{export.assignment}]" if export.title != export.assignment else export.assignment


def check_column(column: str) -> None:
    """Refuse a Canvas column header that Canvas would not import as the assignment's scores."""
    if not column.strip() or any(ch in column for ch in "\r\n"):
        raise ExportRefused("the Canvas column header must be one non-empty line")
    if CANVAS_READ_ONLY.search(column):
        raise ExportRefused(
            f"Canvas ignores a column named like its read-only totals ({CANVAS_READ_ONLY.pattern}): "
            f"{column!r}; give another header (--column)"
        )


def canvas_csv(export: Export, column: str | None = None) -> bytes:
    """Canvas's gradebook import CSV: the student columns, one column of points, UTF-8 with a BOM."""
    column = default_column(export) if column is None else column
    check_column(column)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*CANVAS_COLUMNS, column])
    writer.writerow([POINTS_POSSIBLE, "", "", "", "", number(export.max_score)])
    for row in export.rows:
        ids = (row.sortable_name, row.canvas_id, row.sis_user_id, row.sis_login_id, row.section)
        writer.writerow([*(text_cell(v) for v in ids), number(row.score)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def grades_csv(export: Export) -> bytes:
    """A plain CSV, one row per student, UTF-8: ids, names, score, late penalty, submission time."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in export.rows:
        writer.writerow(
            [
                *(text_cell(v) for v in (row.id, row.first_name, row.last_name, row.email, row.canvas_id)),
                number(row.score),
                number(export.max_score),
                number(row.late_penalty),
                _utc(row.submitted),
            ]
        )
    return out.getvalue().encode("utf-8")


def _utc(when: dt.datetime | None) -> str:
    """nbgrader's timestamp (naive, in UTC) in ISO 8601, or "" when there is none."""
    if when is None:
        return ""
    return (when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)).isoformat()


def default_path(course: Course, assignment: str, fmt: str) -> Path:
    """exports/<assignment>-canvas.csv or exports/<assignment>-grades.csv in the course."""
    return course.root / "exports" / f"{assignment}-{'canvas' if fmt == 'canvas' else 'grades'}.csv"


def write_export(
    gb: Gradebook,
    course: Course,
    assignment: str,
    fmt: str,
    out: Path | None = None,
    roster: Path | None = None,
    column: str | None = None,
    students: Iterable[str] | None = None,
) -> tuple[Path, Export]:
    """Write the export (atomically) and return where, with what it holds and its warnings.

    Raise ExportRefused, writing nothing, for a bad roster, column header or assignment.
    """
    if fmt not in FORMATS:
        raise ExportRefused(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    if column is not None and fmt != "canvas":
        raise ExportRefused("a column header is for --format canvas only")
    entries = read_roster(roster) if roster is not None else None
    export = collect_grades(gb, course, assignment, entries, students)
    if fmt == "canvas" and (lost := export.unmatchable()):
        warning = (
            f"{_count(len(lost), 'student')} without an LMS id (numeric Canvas ID, SIS User ID or SIS "
            f"Login ID), whom Canvas can match only by name: {_some(lost)}; add them to the roster"
        )
        export = dataclasses.replace(export, warnings=(*export.warnings, warning))
    data = canvas_csv(export, column) if fmt == "canvas" else grades_csv(export)
    path = out if out is not None else default_path(course, assignment, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
    return path, export


class _CourseExportPlugin(ExportPlugin):
    """An nbgrader export plugin writing one of nnla's exports (`fmt`) of one assignment."""

    fmt = "canvas"
    roster = Unicode(
        "", help="CSV of LMS ids per student: id,canvas_id,sis_user_id,sis_login_id,section"
    ).tag(config=True)

    def column_header(self) -> str | None:
        return None

    def export(self, gradebook: Gradebook) -> None:
        coursedir = getattr(self.parent, "coursedir", None)
        course = Course(Path(coursedir.root)) if coursedir is not None else Course.find()
        try:
            path, export = write_export(
                gradebook,
                course,
                self._assignment(gradebook),
                self.fmt,
                out=Path(self.to) if self.to else None,
                roster=Path(self.roster) if self.roster else None,
                column=self.column_header(),
                students=[str(s) for s in self.student] or None,
            )
        except ExportRefused as refused:
            self.log.error("%s", refused)
            sys.exit(2)
        for warning in export.warnings:
            self.log.warning("%s", warning)
        self.log.info("wrote %s: %s", path, export.summary())

    def _assignment(self, gradebook: Gradebook) -> str:
        """The one assignment to export: nbgrader's --assignment, or the gradebook's only one."""
        asked = [str(a) for a in self.assignment]
        if len(asked) == 1:
            return asked[0]
        known = sorted(a.name for a in gradebook.assignments)
        if not asked and len(known) == 1:
            return known[0]
        self.log.error(
            "give one assignment, --assignment=<id> (the gradebook has: %s)", ", ".join(known) or "none"
        )
        sys.exit(2)


class CanvasExportPlugin(_CourseExportPlugin):
    """`nbgrader export --exporter=autograder.outputs.export.CanvasExportPlugin`: Canvas's
    gradebook import CSV (default exports/<assignment>-canvas.csv)."""

    fmt = "canvas"
    column = Unicode(
        "",
        help='Canvas column header (default "<title> [<assignment>]"); "Name (12345)" updates '
        "the existing Canvas assignment 12345",
    ).tag(config=True)

    def column_header(self) -> str | None:
        return self.column or None


class GradesCsvExportPlugin(_CourseExportPlugin):
    """`nbgrader export --exporter=autograder.outputs.export.GradesCsvExportPlugin`: one plain CSV
    row per student (default exports/<assignment>-grades.csv)."""

    fmt = "csv"

"""Per-student results in Gradescope's results.json format, from the gradebook.

results.json holds only what Gradescope's autograder results specification defines (checked
against tests/gradescope_results.schema.json); everything else is under `extra_data`. The
top-level `output` is what the student must read first: every note on the submission
(`extra_data.messages`: a notebook missing, repaired, ...) and, for a late submission, when it
came, the due date, how late and the penalty, or one line saying that all notebooks were graded.
Who sees what, and when, is the manifest's `[results]` table (autograder.course.ResultsVisibility).

Only what the machine decided is in `tests`, each numbered "N.K" (the notebook's place in the
manifest, the test's place in its notebook) with `status` "passed" at full marks. Written
answers, graded by a person in formgrader, are listed apart under `extra_data.manually_graded`,
each with its `score` (None while it waits for a grader), `max_score`, the grader's `comment` and
the student's `answer` (its text); the top-level `score` and `extra_data.max_score` count them,
as nbgrader does, so they equal `nbgrader export`'s grades.csv (Gradescope takes the top-level
`score` as the total when it is there). A grade a grader gave or overrode in formgrader
(`manual_score`) wins over the autograder's, and nbgrader keeps it when it grades the submission
again. results.json is written when a student is autograded; grades given later, and a changed
`[results]` table, reach it through `refresh_results`, which `nnla autograde` (for every student
it was asked about, graded or skipped), `nnla report` and `nnla feedback` run first.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder.course import Course, Manifest
from autograder.grading.nbgrader import open_gradebook
from autograder.judge.isolation.sandbox import isolation
from autograder.notebooks import (
    GradedItem,
    graded_items,
    is_autograded_test,
    is_written_answer,
    nbgrader_meta,
)

NOT_GRADED = "not graded: notebook missing or unreadable"
LATE_POLICY_SAYS = {"none": "late work keeps its score", "zero": "late work scores 0"}


def graded_output(cell: nbformat.NotebookNode) -> str:
    """What a grade cell's outputs tell the student.

    A cell the judge decided carries its feedback on stdout (its result is the score);
    otherwise the error the cell raised, or what it printed.
    """
    judged = "nnla" in cell.get("metadata", {})
    lines = []
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            lines.append(f"{out.ename}: {out.evalue}".rstrip(": "))
        elif out.output_type == "stream":
            lines.append(out.text.rstrip())
        elif out.output_type == "execute_result" and not judged:
            lines.append(out.get("data", {}).get("text/plain", "").rstrip())
    return "\n".join(line for line in lines if line) or "passed"


def _autograded_cells(
    folder: Path,
) -> tuple[dict[tuple[str, str], tuple[str, list[str]]], dict[tuple[str, str], str]]:
    """From the autograded notebooks: (notebook, grade_id) -> (feedback text, misconception tags)
    of each autograded test, and (notebook, grade_id) -> the text of each written answer."""
    outputs, answers = {}, {}
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - a notebook nbgrader could not read has no outputs
            continue
        for cell in nb.cells:
            if is_autograded_test(cell):
                tags = [str(t) for t in cell.get("metadata", {}).get("nnla", {}).get("tags", [])]
                outputs[path.stem, nbgrader_meta(cell)["grade_id"]] = (graded_output(cell), tags)
            elif is_written_answer(cell):
                answers[path.stem, nbgrader_meta(cell)["grade_id"]] = answer_text(cell.source)
    return outputs, answers


class _TextOfHTML(HTMLParser):
    """The text of an HTML fragment: a paragraph per block, a line per list item (marked "- ",
    or "1." in a numbered list) and table row (cells between " | "), images by their alt text,
    heading anchors left out."""

    PARAGRAPHS = {"p", "pre", "blockquote", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"}
    LINES = {"div", "li", "tr", "thead", "tbody", "br", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.in_pre = 0
        self.in_anchor = False
        self.numbered: list[int | None] = []  # per open list: the next item's number, None if bulleted
        self.between_blocks = True  # after a tag that lays out blocks, rows or cells

    def _end_line(self, blank: bool = False) -> None:
        self.text = self.text.rstrip(" ")
        if self.text and not self.text.endswith("\n"):
            self.text += "\n"
        if blank and self.text and not self.text.endswith("\n\n"):
            self.text += "\n"

    def handle_starttag(self, tag, attrs):
        self.between_blocks = tag in self.PARAGRAPHS | self.LINES | {"td", "th"}
        if tag in ("ul", "ol") and self.numbered:  # a list within a list item
            self._end_line()
        elif tag in self.PARAGRAPHS:
            self._end_line(blank=True)
        elif tag in self.LINES:
            self._end_line()
        if tag == "pre":
            self.in_pre += 1
        elif tag in ("ul", "ol"):
            self.numbered.append(1 if tag == "ol" else None)
        elif tag == "li":
            number = self.numbered[-1] if self.numbered else None
            self.text += "  " * max(len(self.numbered) - 1, 0) + (f"{number}. " if number else "- ")
            if number:
                self.numbered[-1] = number + 1
        elif tag in ("td", "th") and not self.text.endswith("\n"):
            self.text += " | "
        elif tag == "img":
            self.text += f"[image: {dict(attrs).get('alt') or 'no description'}]"
        elif tag == "a":
            self.in_anchor = True

    def handle_endtag(self, tag):
        self.between_blocks = tag in self.PARAGRAPHS | self.LINES | {"td", "th"}
        if tag == "pre":
            self.in_pre = max(self.in_pre - 1, 0)
        elif tag in ("ul", "ol") and self.numbered:
            self.numbered.pop()
        elif tag == "a":
            self.in_anchor = False
        if tag in ("ul", "ol") and self.numbered:
            self._end_line()
        elif tag in self.PARAGRAPHS:
            self._end_line(blank=True)
        elif tag in self.LINES:
            self._end_line()

    def handle_data(self, data):
        if self.in_anchor and data == "\u00b6":  # the link a rendered heading gets
            return
        if not self.in_pre and not data.strip() and (self.between_blocks or not self.text):
            return  # the layout between blocks, list items and cells
        if not self.in_pre and self.text.endswith("\n"):
            data = data.lstrip(" ")
        self.between_blocks = False
        self.text += data


def answer_text(source: str) -> str:
    """A written answer as text. The autograded copy holds it as the cleaned HTML it renders to
    (autograder.grading.sanitize), which becomes its text here; other markdown is kept as written."""
    if not source.startswith("<div>"):
        return source
    parser = _TextOfHTML()
    parser.feed(source.replace("&#10;", "\n"))
    parser.close()
    return "\n".join(line.rstrip() for line in parser.text.strip().split("\n"))


def manual_score(grade) -> float | None:
    """A grade's score as nbgrader counts it, or None while a written answer waits for a grader.

    A grader's score (`manual_score`) wins; nbgrader flags a graded cell for review again when
    it autogrades the submission anew, but keeps that score, and so does this.
    """
    if grade is None:
        return 0.0
    if grade.manual_score is not None:
        return float(grade.manual_score)
    if grade.needs_manual_grade:
        return None
    return float(grade.auto_score or 0.0)


def build_results(
    gb: Gradebook,
    course: Course,
    assignment: str,
    student: str,
    messages: list[str] | None = None,
    manifest: Manifest | None = None,
) -> dict:
    """results.json content for one student, items in notebook order (0 where never graded);
    `messages` are the notes on the submission that grading recorded."""
    manifest = manifest or course.manifest(assignment)
    messages = [str(m) for m in messages or []]
    try:
        submission = gb.find_submission(assignment, student)
        notebooks = submission.notebooks
    except MissingEntry:
        submission, notebooks = None, []
    graded = {(nb.name, grade.name): grade for nb in notebooks for grade in nb.grades}
    comments = {
        (nb.name, c.name): c.manual_comment or c.auto_comment for nb in notebooks for c in nb.comments
    }
    late_penalty = sum(float(nb.late_submission_penalty or 0.0) for nb in notebooks)
    outputs, answers = _autograded_cells(course.autograded(student, assignment))
    tests, manual = [], []
    place = notebook_numbers(manifest, course, assignment)
    in_notebook = Counter()
    for item in assignment_items(course, assignment):
        grade = graded.get((item.notebook, item.grade_id))
        key = (item.notebook, item.grade_id)
        if item.autograded:
            in_notebook[item.notebook] += 1
            output, tags = outputs.get(key, (NOT_GRADED, []))
            # What intake said of this test's notebook (missing, repaired) heads its output too.
            notes = [m for m in messages if m.startswith(f"{item.notebook}.ipynb: ")]
            output = "\n".join([*notes, output])
            score = float(grade.score or 0.0) if grade else 0.0
            tests.append(
                {
                    "name": item.grade_id,
                    "number": f"{place[item.notebook]}.{in_notebook[item.notebook]}",
                    "score": score,
                    "max_score": item.points,
                    "status": "passed" if score >= item.points else "failed",
                    "output": output,
                    "output_format": "text",
                    "tags": tags,
                    "visibility": manifest.results.of_test(item.notebook, item.grade_id),
                    "extra_data": {"notebook": item.notebook},
                }
            )
        else:
            manual.append(
                {
                    "name": item.grade_id,
                    "notebook": item.notebook,
                    "max_score": item.points,
                    "score": manual_score(grade),
                    "comment": comments.get(key),
                    "answer": answers.get(key),
                }
            )
    hand = sum(m["score"] for m in manual if m["score"] is not None)
    late = lateness(submission, late_penalty, manifest.late_policy) if submission is not None else None
    return {
        "score": sum(t["score"] for t in tests) + hand - late_penalty,
        "output": summary_output(messages, late, len(manifest.notebooks)),
        "output_format": "text",
        "visibility": manifest.results.visibility,
        "stdout_visibility": manifest.results.stdout_visibility,
        "tests": tests,
        "extra_data": {
            "student": student,
            "assignment": assignment,
            "max_score": sum(t["max_score"] for t in tests) + sum(m["max_score"] for m in manual),
            "late_penalty": late_penalty,
            "manually_graded": manual,
            "messages": messages,
        },
    }


def notebook_numbers(manifest: Manifest, course: Course, assignment: str) -> dict[str, int]:
    """notebook -> its 1-based place in the manifest's `notebooks` (a source notebook the
    manifest does not list comes after them, in name order)."""
    numbers = {nb: at for at, nb in enumerate(manifest.notebooks, 1)}
    for path in sorted(course.source(assignment).glob("*.ipynb")):
        numbers.setdefault(path.stem, len(numbers) + 1)
    return numbers


def summary_output(messages: list[str], late: str | None, notebooks: int) -> str:
    """The top-level `output`: the lateness line, then every message, one a line; for an
    on-time submission without any, that all its notebooks were graded."""
    lines = ([late] if late else []) + [str(m) for m in messages]
    return "\n".join(lines) if lines else f"All {notebooks} notebooks graded."


def lateness(submission, penalty: float, late_policy: str) -> str | None:
    """One line on a submission nbgrader recorded as late (None when it was on time): when it
    was submitted, the due date, how late, and the penalty in points under the late policy."""
    seconds = float(submission.total_seconds_late or 0)
    if seconds <= 0:
        return None
    says = LATE_POLICY_SAYS.get(late_policy, late_policy)
    return (
        f"Submitted {_utc(submission.timestamp)}, after the due date {_utc(submission.duedate)}: "
        f"{late_by(seconds)} late. Late policy {late_policy!r} ({says}): a penalty of {penalty:g} "
        f"point{'' if penalty == 1 else 's'}."
    )


def _utc(when: dt.datetime) -> str:
    """A time from the gradebook (UTC, without a zone, as nbgrader stores it)."""
    return f"{when:%Y-%m-%d %H:%M} UTC"


def late_by(seconds: float) -> str:
    """How late, in words: "3 h 20 min", "2 days 1 h", "40 s"."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    parts = [f"{days} day{'' if days == 1 else 's'}"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{rest // 60} min"] if rest // 60 and not days else []
    return " ".join(parts)


def assignment_items(course: Course, assignment: str) -> list[GradedItem]:
    """Every graded cell of the assignment's source notebooks, in order."""
    return [item for path in sorted(course.source(assignment).glob("*.ipynb")) for item in graded_items(path)]


def write_json_atomically(path: Path, data: dict) -> None:
    """Write `data` so that a reader, or a run killed halfway, sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, path)


def finish_results(
    course: Course,
    assignment: str,
    student: str,
    messages: list[str],
    fingerprint: str | None,
    seconds: float,
) -> dict:
    """Write results.json, the last step of grading a student, and return it.

    `fingerprint` is None when grading failed, so that the next run tries the student again.
    """
    with open_gradebook(course) as gb:
        results = build_results(gb, course, assignment, student, messages)
    results = _timed(results, round(seconds, 3))
    results["extra_data"].update(fingerprint=fingerprint, isolation=isolation().record())
    write_json_atomically(course.autograded(student, assignment) / "results.json", results)
    return results


def _timed(results: dict, seconds: float | None) -> dict:
    """`results` with `execution_time` after the score (left out when None)."""
    rest = {k: v for k, v in results.items() if k not in ("score", "execution_time")}
    timed = {"execution_time": seconds} if seconds is not None else {}
    return {"score": results["score"], **timed, **rest}


def refresh_results(course: Course, assignment: str, students: list[str]) -> None:
    """Bring each student's results.json up to date with the gradebook and the manifest: grades
    and comments given in formgrader since it was written, the `[results]` table's visibility.
    What grading recorded (messages, and the top-level output made from them, fingerprint,
    isolation, time) stays; a student without results.json or without a submission in the
    gradebook is left alone, and an unchanged file is not rewritten."""
    manifest = course.manifest(assignment)
    with open_gradebook(course) as gb:
        for student in students:
            old = read_results(course, assignment, student)
            if old is None or not in_gradebook(gb, assignment, student):
                continue
            recorded = old.get("extra_data", {})
            new = build_results(gb, course, assignment, student, recorded.get("messages"), manifest)
            new = _timed(new, old.get("execution_time"))
            new["extra_data"] = {**recorded, **new["extra_data"]}
            if new != old:
                write_json_atomically(course.autograded(student, assignment) / "results.json", new)


def in_gradebook(gb: Gradebook, assignment: str, student: str) -> bool:
    """Whether nbgrader has a submission of `student` for `assignment`."""
    try:
        gb.find_submission(assignment, student)
    except MissingEntry:
        return False
    return True


def read_results(course: Course, assignment: str, student: str) -> dict | None:
    """A student's results.json, or None if the student has not been (completely) graded."""
    path = course.autograded(student, assignment) / "results.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None

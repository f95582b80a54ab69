"""Per-student results in Gradescope's results.json format, from the gradebook.

Only what the machine decided is in `tests`. Written answers, graded by a person in formgrader,
are listed apart under `extra_data.manually_graded`, each with its `score` (None while it waits
for a grader), `max_score` and the grader's `comment`; the top-level `score` and `max_score`
count them, as nbgrader does, so they equal `nbgrader export`'s grades.csv (Gradescope takes
the top-level `score` as the total when it is there). A grade a grader gave or overrode in
formgrader (`manual_score`) wins over the autograder's, and nbgrader keeps it when it grades
the submission again. results.json is written when a student is autograded; grades given
later reach it through `refresh_results`, which `nnla autograde` (for every student it was
asked about, graded or skipped), `nnla report` and `nnla feedback` run first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder.course import Course
from autograder.grading.nbgrader import open_gradebook
from autograder.judge.isolation.sandbox import isolation
from autograder.notebooks import GradedItem, graded_items, is_autograded_test, nbgrader_meta


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


def _autograded_outputs(folder: Path) -> dict[tuple[str, str], tuple[str, list[str]]]:
    """(notebook, grade_id) -> (feedback text, misconception tags) from the autograded notebooks."""
    found = {}
    for path in sorted(folder.glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - a notebook nbgrader could not read has no outputs
            continue
        for cell in nb.cells:
            if is_autograded_test(cell):
                tags = [str(t) for t in cell.get("metadata", {}).get("nnla", {}).get("tags", [])]
                found[path.stem, nbgrader_meta(cell)["grade_id"]] = (graded_output(cell), tags)
    return found


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


def build_results(gb: Gradebook, course: Course, assignment: str, student: str) -> dict:
    """results.json content for one student, items in notebook order (0 where never graded)."""
    try:
        notebooks = gb.find_submission(assignment, student).notebooks
    except MissingEntry:
        notebooks = []
    graded = {(nb.name, grade.name): grade for nb in notebooks for grade in nb.grades}
    comments = {
        (nb.name, c.name): c.manual_comment or c.auto_comment for nb in notebooks for c in nb.comments
    }
    late_penalty = sum(float(nb.late_submission_penalty or 0.0) for nb in notebooks)
    outputs = _autograded_outputs(course.autograded(student, assignment))
    tests, manual = [], []
    for item in assignment_items(course, assignment):
        grade = graded.get((item.notebook, item.grade_id))
        if item.autograded:
            output, tags = outputs.get(
                (item.notebook, item.grade_id), ("not graded: notebook missing or unreadable", [])
            )
            tests.append(
                {
                    "name": item.grade_id,
                    "notebook": item.notebook,
                    "score": float(grade.score or 0.0) if grade else 0.0,
                    "max_score": item.points,
                    "output": output,
                    "tags": tags,
                }
            )
        else:
            manual.append(
                {
                    "name": item.grade_id,
                    "notebook": item.notebook,
                    "max_score": item.points,
                    "score": manual_score(grade),
                    "comment": comments.get((item.notebook, item.grade_id)),
                }
            )
    hand = sum(m["score"] for m in manual if m["score"] is not None)
    return {
        "score": sum(t["score"] for t in tests) + hand - late_penalty,
        "max_score": sum(t["max_score"] for t in tests) + sum(m["max_score"] for m in manual),
        "tests": tests,
        "extra_data": {
            "student": student,
            "assignment": assignment,
            "late_penalty": late_penalty,
            "manually_graded": manual,
        },
    }


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
        results = build_results(gb, course, assignment, student)
    results["execution_time"] = round(seconds, 3)
    results["extra_data"].update(messages=messages, fingerprint=fingerprint, isolation=isolation().record())
    write_json_atomically(course.autograded(student, assignment) / "results.json", results)
    return results


def refresh_results(course: Course, assignment: str, students: list[str]) -> None:
    """Bring each student's results.json up to date with the gradebook: grades and comments
    given in formgrader since it was written. What grading recorded (messages, fingerprint,
    isolation, time) stays; a student without results.json or without a submission in the
    gradebook is left alone, and an unchanged file is not rewritten."""
    with open_gradebook(course) as gb:
        for student in students:
            old = read_results(course, assignment, student)
            if old is None or not in_gradebook(gb, assignment, student):
                continue
            new = build_results(gb, course, assignment, student)
            if "execution_time" in old:
                new["execution_time"] = old["execution_time"]
            new["extra_data"] = {**old.get("extra_data", {}), **new["extra_data"]}
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

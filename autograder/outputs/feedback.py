"""`nnla feedback`: nbgrader's feedback pages with hidden tests masked, and a summary page per student.

Masking happens on the notebook, before nbgrader renders it to HTML, where the markers would be
split across syntax-highlighting spans: GenerateFeedback runs nbgrader's own ClearHiddenTests
first. The autograded notebooks have no hidden tests already (Autograde clears them before the
kernel runs); this covers notebooks autograded under another configuration. The same list is in
nbgrader_config.py, so plain `nbgrader generate_feedback` and the formgrader mask too; it is also
passed on the command line here so that a course with an older config is masked all the same.
The graders' model answers and rubrics, which autograde puts beside the written answers for
formgrader (autograder.grading.rubrics), are taken out first of all. A last check refuses to
leave a page that still shows a hidden-test line or the graders' notes.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat

from autograder.course import Course
from autograder.grading.nbgrader import glob_literal, run_nbgrader
from autograder.grading.results import refresh_results
from autograder.grading.rubrics import TITLE as GRADER_NOTES
from autograder.outputs.pages import render

FEEDBACK_PREPROCESSORS = [
    "autograder.grading.rubrics.RemoveGraderNotes",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.GetGrades",
    "autograder.grading.sanitize.SanitizeStudentContent",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def hidden_test_lines(course: Course, assignment: str) -> set[str]:
    """Lines (stripped, longer than 15 characters) found only inside the source's hidden-test blocks,
    and not within a line outside them."""
    hidden, public = set(), set()
    for path in sorted(course.source(assignment).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                if BEGIN in line or END in line:
                    inside = BEGIN in line
                elif len(line.strip()) > 15:
                    (hidden if inside else public).add(line.strip())
    # A hidden line that is part of a public one (`scale = ...` inside `_scale = ...`) shows
    # whenever the public line does: it proves nothing.
    return {line for line in hidden - public if not any(line in shown for shown in public)}


def visible_text(page: str) -> str:
    """What a browser shows of an HTML page, roughly: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _refuse_leaks(page: Path, secrets: set[str]) -> None:
    """Delete the page and raise if it shows a hidden-test marker or line, or the graders' notes."""
    text = visible_text(page.read_text(encoding="utf-8"))
    if GRADER_NOTES in text:
        page.unlink()
        raise RuntimeError(f"{page} showed the graders' model answer and rubric; deleted it")
    leaked = sorted(line for line in secrets if line in text) + ([BEGIN] if BEGIN in text else [])
    if leaked:
        page.unlink()
        raise RuntimeError(f"{page} showed hidden test code ({leaked[0]!r}); deleted it")


def _graded(course: Course, assignment: str) -> tuple[list[str], list[str]]:
    """Students with an autograded folder (nbgrader's view), and those of them with results.json."""
    base = course.root / "autograded"
    # iterdir, not glob: a student id may contain glob characters such as '['.
    folders = sorted(p.name for p in base.iterdir() if (p / assignment).is_dir()) if base.is_dir() else []
    return folders, [
        s for s in folders if course.autograded(s, assignment).joinpath("results.json").is_file()
    ]


def _selections(chosen: list[str], everyone: list[str]) -> list[list[str]]:
    """nbgrader options for runs that together cover exactly `chosen` (ids are globs to nbgrader)."""
    others = sorted(set(everyone) - set(chosen))
    if not others:
        return [[]]
    if len(chosen) > 1 and not any("," in s for s in others):  # the exclude list is comma-separated
        return [[f"--CourseDirectory.student_id_exclude={','.join(others)}"]]
    return [[f"--CourseDirectory.student_id={glob_literal(s)}"] for s in chosen]


def summary_html(results: dict, student: str, assignment: str) -> str:
    """The student's page from results.json: its notes, score, each test's verdict and feedback
    (templates/summary.html.j2, which escapes every value)."""
    extra = results.get("extra_data", {})
    notebooks: dict[str, list[dict]] = {}
    for test in results["tests"]:
        score, top = test["score"], test["max_score"]
        verdict = "passed" if score >= top else "partial credit" if score > 0 else "failed"
        notebooks.setdefault(test["extra_data"]["notebook"], []).append({**test, "verdict": verdict})
    return render(
        "summary.html.j2",
        assignment=assignment,
        student=student,
        # The notes students read first, lateness among them, as on Gradescope.
        messages=[line for line in str(results.get("output") or "").splitlines() if line],
        score=results["score"],
        max_score=extra["max_score"],
        late=float(extra.get("late_penalty") or 0),
        notebooks=list(notebooks.items()),
        manual=extra.get("manually_graded", []),
    )


def write_feedback(course: Course, assignment: str, students: list[str] | None = None) -> dict[str, Path]:
    """nbgrader's feedback pages (hidden tests masked) and a summary.html for each student.

    `students` defaults to every student with results; returns student -> summary page.
    """
    everyone, graded = _graded(course, assignment)
    chosen = graded if students is None else list(dict.fromkeys(students))
    missing = [s for s in chosen if s not in graded]
    if not graded or missing:
        who = f" for {', '.join(missing)}" if missing else f" in {course.root / 'autograded'}"
        raise FileNotFoundError(f"no {assignment} results{who}: run `nnla autograde {assignment}` first")
    refresh_results(course, assignment, chosen)  # grades and comments given in formgrader since
    preprocessors = f"--GenerateFeedback.preprocessors={json.dumps(FEEDBACK_PREPROCESSORS)}"
    for selection in _selections(chosen, everyone):
        run_nbgrader(course, "generate_feedback", assignment, "--force", preprocessors, *selection)

    secrets = hidden_test_lines(course, assignment)
    written = {}
    for student in chosen:
        folder = course.root / "feedback" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        results = json.loads((course.autograded(student, assignment) / "results.json").read_text("utf-8"))
        written[student] = folder / "summary.html"
        written[student].write_text(summary_html(results, student, assignment), encoding="utf-8")
        for page in sorted(folder.glob("*.html")):
            _refuse_leaks(page, secrets)
    return written

"""Model answers and rubrics beside the students' written answers, for graders only.

Formgrader shows the autograded notebook, which holds the student's answer only; the model
answer and the rubric are in the source notebook, inside the answer cell's solution region.
`ShowRubrics` (an autograde preprocessor, after SanitizeStudentContent: this text is the
instructor's) inserts after each hand-graded cell a read-only markdown cell "For graders: model
answer and rubric", copied from the source notebook and marked in its metadata
(`nnla_grader_notes`). It carries no nbgrader metadata, so it is no grade cell and nbgrader's
checksums and cell checks are untouched. `RemoveGraderNotes`, first of the feedback
preprocessors (nbgrader_config.py and autograder.outputs.feedback), takes every such cell out
again before a page for the student is made, and the feedback refuses a page that still shows
the title.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from autograder.notebooks import is_written_answer, nbgrader_meta

TITLE = "For graders: model answer and rubric"
MARK = "nnla_grader_notes"  # cell metadata key: the grade_id of the answer the notes are for
_REGION = re.compile(r"### BEGIN SOLUTION[^\n]*\n(.*?)\n?[ \t]*### END SOLUTION", re.S)


def grader_notes(source: str) -> str | None:
    """What graders need from a source answer cell: its solution region from the model answer
    on (the rubric included), or the whole region when it has no `**Model answer.**`."""
    found = _REGION.search(source)
    if not found or not found.group(1).strip():
        return None
    region = found.group(1)
    start = region.find("**Model answer.**")
    return region[start if start >= 0 else 0 :].strip()


@cache
def _source_notes(path: Path, mtime: float) -> dict[str, str]:
    nb = nbformat.read(path, as_version=4)
    return {
        nbgrader_meta(cell)["grade_id"]: notes
        for cell in nb.cells
        if is_written_answer(cell) and (notes := grader_notes(cell.source))
    }


def source_notes(path: Path) -> dict[str, str]:
    """grade_id -> grader notes of each hand-graded cell of a source notebook ({} if none)."""
    try:
        return _source_notes(path, path.stat().st_mtime)
    except (OSError, ValueError):
        return {}


def notes_cell(grade_id: str, notes: str) -> NotebookNode:
    cell = new_markdown_cell(f"#### {TITLE}\n\n{notes}")
    cell.metadata = NotebookNode({MARK: grade_id, "editable": False, "deletable": False})
    return cell


def is_grader_notes(cell: NotebookNode) -> bool:
    return MARK in cell.get("metadata", {})


def remove_grader_notes(nb: NotebookNode) -> NotebookNode:
    nb.cells = [cell for cell in nb.cells if not is_grader_notes(cell)]
    return nb


def add_grader_notes(nb: NotebookNode, notes: dict[str, str]) -> NotebookNode:
    """After each hand-graded cell with notes, a notes cell; any notes cell already there
    (a student could plant one) is dropped first."""
    cells = []
    for cell in remove_grader_notes(nb).cells:
        cells.append(cell)
        grade_id = nbgrader_meta(cell).get("grade_id")
        if cell.cell_type == "markdown" and nbgrader_meta(cell).get("grade") and grade_id in notes:
            cells.append(notes_cell(grade_id, notes[grade_id]))
    nb.cells = cells
    return nb


class ShowRubrics(NbGraderPreprocessor):
    """Autograde: the source notebook's model answer and rubric after each hand-graded answer."""

    course_root = Unicode("", help="The course folder (default: the working directory).").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources.get("nbgrader", {})
        root = Path(self.course_root or os.getcwd())
        path = root / "source" / str(info.get("assignment", "")) / f"{info.get('notebook', '')}.ipynb"
        return add_grader_notes(nb, source_notes(path)), resources


class RemoveGraderNotes(NbGraderPreprocessor):
    """Feedback: no cell of notes for graders reaches a student."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        return remove_grader_notes(nb), resources

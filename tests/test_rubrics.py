"""Graders' notes: the source's model answer and rubric after each written answer in the autograded
notebook (formgrader), and never in what students get."""

import copy

import nbformat
from nbgrader.preprocessors import CheckCellMetadata
from nbgrader.utils import compute_checksum

from autograder.grading.rubrics import MARK, TITLE, RemoveGraderNotes, ShowRubrics, grader_notes, notes_cell
from autograder.notebooks import is_written_answer, nbgrader_meta
from tests.conftest import ASSIGNMENT, REPO

NOTEBOOK = "02_batch_forms"


def answered() -> nbformat.NotebookNode:
    nb = nbformat.read(REPO / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    for cell in nb.cells:
        if is_written_answer(cell):
            cell.source = "Because (AB)^T = B^T A^T. **Rubric (2 points).** give me full marks"
    return nb


def show(nb):
    resources = {"nbgrader": {"assignment": ASSIGNMENT, "notebook": NOTEBOOK, "student": "x"}}
    return ShowRubrics(course_root=str(REPO)).preprocess(nb, resources)[0]


def test_grader_notes_are_the_model_answer_and_rubric_of_the_source():
    source = nbformat.read(REPO / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    cell = next(c for c in source.cells if is_written_answer(c))
    notes = grader_notes(cell.source)
    assert notes.startswith("**Model answer.**") and "**Rubric (2 points).**" in notes
    assert "BEGIN SOLUTION" not in notes and "END SOLUTION" not in notes and "Question" not in notes
    assert grader_notes("no solution region") is None


def test_notes_follow_each_written_answer_and_are_no_grade_cell():
    before = answered()
    checksums = [compute_checksum(c) for c in before.cells if nbgrader_meta(c).get("grade")]
    nb = show(copy.deepcopy(before))
    assert len(nb.cells) == len(before.cells) + 1
    at = next(i for i, c in enumerate(nb.cells) if is_written_answer(c))
    notes = nb.cells[at + 1]
    assert notes.cell_type == "markdown" and notes.metadata[MARK] == "forms_agree_answer"
    assert notes.source.startswith(f"#### {TITLE}") and "**Rubric (2 points).**" in notes.source
    assert "nbgrader" not in notes.metadata and notes.metadata["editable"] is False
    assert [compute_checksum(c) for c in nb.cells if nbgrader_meta(c).get("grade")] == checksums
    CheckCellMetadata().preprocess(nb, {})  # nbgrader's own check of grade cells still passes
    assert show(nb).cells == nb.cells  # a second run changes nothing


def test_feedback_removes_the_notes_and_a_forged_notes_cell_is_dropped():
    before = answered()
    nb = show(copy.deepcopy(before))
    assert RemoveGraderNotes().preprocess(nb, {})[0].cells == before.cells
    forged = answered()
    forged.cells.insert(0, notes_cell("forms_agree_answer", "Give this student full marks."))
    shown = show(forged)
    assert not any("full marks." in c.source for c in shown.cells if MARK in c.metadata)
    assert sum(MARK in c.metadata for c in shown.cells) == 1

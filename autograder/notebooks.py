"""Reading nbgrader's cell metadata: which cells are solutions, tests, written answers."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode


def nbgrader_meta(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def is_solution(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_autograded_test(cell: NotebookNode) -> bool:
    """A locked code cell with points: nbgrader scores it from its outputs."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")


def is_written_answer(cell: NotebookNode) -> bool:
    """A markdown cell the student writes in and a person grades."""
    meta = nbgrader_meta(cell)
    return cell.cell_type == "markdown" and meta.get("grade") and meta.get("solution")


@dataclass(frozen=True)
class GradedItem:
    notebook: str
    grade_id: str
    points: float
    autograded: bool


def read(path: Path) -> NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def graded_items(path: Path) -> Iterator[GradedItem]:
    """Every cell of a notebook that carries points, in order."""
    for cell in read(path).cells:
        meta = nbgrader_meta(cell)
        if meta.get("grade"):
            yield GradedItem(path.stem, meta["grade_id"], float(meta["points"]), is_autograded_test(cell))


def autograded_points(folder: Path) -> dict[str, float]:
    """notebook -> the autograded points of the notebooks in `folder`, from their metadata."""
    return {
        path.stem: sum(item.points for item in graded_items(path) if item.autograded)
        for path in sorted(folder.glob("*.ipynb"))
    }


def defined_names(source: str) -> set[str]:
    """Top-level functions and classes a cell defines."""
    tree = ast.parse(source)
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def solution_sources(nb: NotebookNode) -> dict[str, str]:
    """grade_id -> source of each solution code cell."""
    return {
        nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells if c.cell_type == "code" and is_solution(c)
    }

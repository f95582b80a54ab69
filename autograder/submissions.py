"""Build student submissions from release notebooks: the demo class and the test corpora.

A submission is described by the code a student put into solution cells, keyed by the
cell's grade_id; every other cell is the release notebook unchanged.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from autograder.notebooks import nbgrader_meta, read

SOLUTION_REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION\n?", re.S | re.M)

# Solutions: the source notebook's own code, with the markers removed.
SOLUTION = object()


def strip_solution_markers(source: str) -> str:
    """Source-notebook code as a student who solved it would have written it."""
    return SOLUTION_REGION.sub(lambda m: m.group(1), source)


def fill_notebook(
    release_nb: Path, source_nb: Path, answers: dict[str, str | object]
) -> nbformat.NotebookNode:
    """The release notebook with the solution cells named in `answers` replaced.

    An answer is the cell's new source, or SOLUTION for the source notebook's solution.
    """
    nb = read(release_nb)
    solutions = {
        nbgrader_meta(c).get("grade_id"): strip_solution_markers(c.source)
        for c in read(source_nb).cells
        if nbgrader_meta(c).get("solution")
    }
    unknown = set(answers) - set(solutions)
    if unknown:
        raise KeyError(f"{release_nb.name} has no solution cell {sorted(unknown)}")
    for cell in nb.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if grade_id in answers:
            answer = answers[grade_id]
            cell.source = solutions[grade_id] if answer is SOLUTION else answer
    return nb


def write_submission(
    folder: Path,
    release_dir: Path,
    source_dir: Path,
    answers: dict[str, dict[str, str | object]],
) -> None:
    """Write every release notebook into `folder`, filled with `answers[notebook]`."""
    folder.mkdir(parents=True, exist_ok=True)
    for release_nb in sorted(release_dir.glob("*.ipynb")):
        nb = fill_notebook(release_nb, source_dir / release_nb.name, answers.get(release_nb.stem, {}))
        nbformat.write(nb, folder / release_nb.name)


def full_solution(source_dir: Path) -> dict[str, dict[str, object]]:
    """Answers that fill every solution cell (code and written) with the source's solution."""
    return {
        nb_path.stem: {
            nbgrader_meta(c)["grade_id"]: SOLUTION
            for c in read(nb_path).cells
            if nbgrader_meta(c).get("solution")
        }
        for nb_path in sorted(source_dir.glob("*.ipynb"))
    }

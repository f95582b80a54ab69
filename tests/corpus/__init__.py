"""Grader-accuracy corpus: correct alternatives and known bugs, one module per notebook.

Each module `nXX_<name>` defines

- ``CORRECT``: name -> {solution grade_id: cell source}, mathematically correct implementations
  written differently from the source solution (loops, einsum, reduce, other stable formulas,
  other valid figure layouts). Every one must get full marks in every autograded cell.
- ``BUGGY``: name -> ``Bug``, a realistic mistake from the chapter. It must lose points in
  ``Bug.grade_id`` with ``Bug.tag`` in that cell's tags, and keep full marks in every grade cell
  that tests another contract name.

Solution cells an entry does not name get the source notebook's solution. The code is a cell's
whole source (def/class only): numpy is imported as ``np`` and ``matplotlib.pyplot`` as ``plt``
by the notebook's setup cell, and ``relu``/``sigmoid`` exist where the notebook gives them.
Bug code is self-contained: a buggy name is never called from another name's cell, so a bug
costs points only where it belongs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bug:
    """A buggy submission: the cells it replaces, the grade cell that must catch it, and how."""

    answers: dict[str, str]
    grade_id: str
    tag: str


# Notebook -> corpus module (under tests.corpus).
MODULES = {
    "01_param_count": "n01_param_count",
    "02_batch_forms": "n02_batch_forms",
    "03_stored_activations": "n03_stored_activations",
    "04_tanh_vs_relu": "n04_tanh_vs_relu",
    "05_linear_collapse": "n05_linear_collapse",
    "06_halfspace_neurons": "n06_halfspace_neurons",
}

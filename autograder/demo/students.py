"""A demo student: synthetic work and the autograded score per notebook it must get.

Each assignment's plug-in may list its demo class (`STUDENTS` in its demo.py, autograder.plugin);
`nnla demo` grades it and checks every score.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoStudent:
    id: str
    story: str
    answers: dict[str, dict[str, object]]  # notebook -> {solution grade_id: code or SOLUTION}
    expected: dict[str, float]  # notebook -> autograded score

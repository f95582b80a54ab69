"""Grader accuracy: the judge gives full marks to correct alternatives and catches known bugs.

The corpus (tests/corpus) holds, per notebook, correct implementations written differently from
the source solution and realistic buggy ones. Each submission is judged in-process, exactly as
`nbgrader autograde` would (autograder.judge.preprocessor.judge), under a student id of its own.
"""

from __future__ import annotations

import importlib

import pytest

from autograder.judge.feedback import verdict_text
from autograder.judge.preprocessor import close_judge_processes, judge
from autograder.notebooks import is_autograded_test, is_solution, nbgrader_meta, read
from autograder.submissions import SOLUTION, fill_notebook
from tests.conftest import ASSIGNMENT, MANIFEST, REPO, plugin_module
from tests.corpus import MODULES, Bug

pytestmark = pytest.mark.e2e  # runs the real tools; `-m 'not e2e'` leaves it out

CORPUS = {nb: importlib.import_module(f"tests.corpus.{module}") for nb, module in MODULES.items()}
MIN_CORRECT, MIN_BUGGY = 3, 6


def _cells(notebook: str, keep) -> list:
    return [c for c in read(REPO / "source" / ASSIGNMENT / f"{notebook}.ipynb").cells if keep(c)]


SOLUTION_CELLS = {nb: [nbgrader_meta(c)["grade_id"] for c in _cells(nb, is_solution)] for nb in CORPUS}
GRADE_CELLS = {
    nb: {
        nbgrader_meta(c)["grade_id"]: float(nbgrader_meta(c)["points"])
        for c in _cells(nb, is_autograded_test)
    }
    for nb in CORPUS
}


def _params(kind: str) -> list:
    return [
        pytest.param(nb, name, id=f"{nb}-{name}")
        for nb, module in CORPUS.items()
        for name in getattr(module, kind)
    ]


@pytest.fixture(scope="module")
def grade(repo):
    """judge(notebook, student, answers) -> {grade_id: CellVerdict}; unnamed cells get the solution."""

    def run(notebook: str, student: str, answers: dict[str, str]) -> dict:
        filled = {**dict.fromkeys(SOLUTION_CELLS[notebook], SOLUTION), **answers}
        nb = fill_notebook(
            repo.release(ASSIGNMENT) / f"{notebook}.ipynb",
            repo.source(ASSIGNMENT) / f"{notebook}.ipynb",
            filled,
        )
        verdicts = judge(nb, notebook, ASSIGNMENT, student, repo)
        assert set(verdicts) == set(GRADE_CELLS[notebook]), "the judge must decide every autograded cell"
        return verdicts

    yield run
    close_judge_processes()


def _report(verdicts: dict) -> str:
    return "\n".join(verdict_text(v) for v in verdicts.values())


@pytest.mark.parametrize("notebook", sorted(CORPUS))
def test_corpus_entries_are_well_formed(notebook):
    module = CORPUS[notebook]
    code_cells = {
        nbgrader_meta(c)["grade_id"] for c in _cells(notebook, is_solution) if c.cell_type == "code"
    }
    assert len(module.CORRECT) >= MIN_CORRECT and len(module.BUGGY) >= MIN_BUGGY
    for name, answers in module.CORRECT.items():
        assert answers and set(answers) <= code_cells, name
    for name, bug in module.BUGGY.items():
        assert isinstance(bug, Bug) and bug.answers and set(bug.answers) <= code_cells, name
        assert bug.grade_id in GRADE_CELLS[notebook], name
        assert bug.tag in plugin_module("misconceptions").BY_ID, f"{name}: {bug.tag} is not in the catalogue"


@pytest.mark.parametrize("notebook", sorted(CORPUS))
def test_source_solution_gets_full_marks(grade, notebook):
    verdicts = grade(notebook, f"corpus-{notebook[:2]}-solution", {})
    assert {g: v.score for g, v in verdicts.items()} == GRADE_CELLS[notebook], _report(verdicts)


@pytest.mark.parametrize(("notebook", "name"), _params("CORRECT"))
def test_correct_alternative_gets_full_marks(grade, notebook, name):
    verdicts = grade(notebook, f"corpus-{notebook[:2]}-correct-{name}", CORPUS[notebook].CORRECT[name])
    assert {g: v.score for g, v in verdicts.items()} == GRADE_CELLS[notebook], _report(verdicts)


@pytest.mark.parametrize(("notebook", "name"), _params("BUGGY"))
def test_bug_loses_points_in_its_own_cell_with_its_tag(grade, notebook, name):
    bug: Bug = CORPUS[notebook].BUGGY[name]
    verdicts = grade(notebook, f"corpus-{notebook[:2]}-bug-{name}", bug.answers)
    own = verdicts[bug.grade_id]
    feedback = verdict_text(own)
    assert own.score < own.points, f"{bug.grade_id} did not catch the bug:\n{feedback}"
    assert bug.tag in own.tags, f"{bug.grade_id} lacks the tag {bug.tag!r} (tags {own.tags}):\n{feedback}"
    assert f"hint [{bug.tag}]" in feedback, f"the feedback shows no hint for {bug.tag!r}:\n{feedback}"
    buggy_name = MANIFEST.name_tested_by(bug.grade_id, notebook)
    for grade_id, verdict in verdicts.items():
        if MANIFEST.name_tested_by(grade_id, notebook) != buggy_name:
            assert verdict.score == verdict.points, (
                f"a bug in {buggy_name} cost points in {grade_id}:\n{verdict_text(verdict)}"
            )


# Student code that hangs or runs out of memory on some inputs: a property stops at the first
# such input and says so with that input, without shrinking (each call would take seconds),
# and never reads as the grader's fault or as flaky code.
LIMITS_REACHED = {
    "hangs on invalid sizes": (
        "def count_params(layer_sizes):\n"
        "    if len(layer_sizes) < 2 or any(not isinstance(s, int) or s <= 0 for s in layer_sizes):\n"
        "        while True:\n"
        "            pass\n"
        "    return sum(a * b + b for a, b in zip(layer_sizes, layer_sizes[1:]))\n",
        {"count_params_values": 2, "count_params_errors": 0},
        "the call did not finish within 5 s",
    ),
    "fills the memory": (
        "def count_params(layer_sizes):\n"
        "    hog = []\n"
        "    while True:\n"
        "        hog.append(bytearray(10**8))\n",
        {"count_params_values": 0, "count_params_errors": 0},
        "the call ran out of memory (the limit is 1024 MB): cell count_params_solution, line 4",
    ),
    "builds the weights to count them": (
        "def count_params(layer_sizes):\n"
        "    if len(layer_sizes) < 2 or any(type(s) is not int or s <= 0 for s in layer_sizes):\n"
        "        raise ValueError('need two or more positive integer sizes')\n"
        "    layers = [(np.zeros((b, a)), np.zeros(b)) for a, b in zip(layer_sizes, layer_sizes[1:])]\n"
        "    return sum(W.size + bias.size for W, bias in layers)\n",
        {"count_params_values": 1, "count_params_errors": 1},
        "the call ran out of memory (the limit is 1024 MB): Unable to allocate 7.28 TiB",
    ),
}


@pytest.mark.parametrize("case", sorted(LIMITS_REACHED))
def test_a_call_that_reaches_a_limit_fails_its_property_at_once_with_its_input(grade, case):
    code, scores, said = LIMITS_REACHED[case]
    verdicts = grade("01_param_count", f"limits-{case}", {"count_params_solution": code})
    assert {g: v.score for g, v in verdicts.items()} == scores, _report(verdicts)
    feedback = _report(verdicts)
    for result in (r for v in verdicts.values() for r in v.results if not r.passed):
        text = result.gave_up or ""
        assert text.startswith(said), feedback
        assert result.failure is not None and result.failure.inputs, feedback  # the input is shown
    assert "input that shows it" in feedback
    assert "grader's side" not in feedback and "different answers" not in feedback

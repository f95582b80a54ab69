"""Traps: mistakes that once passed every visible test and the self-check and still lost hidden
points. Each is now either caught by the self-check with a message that names the rule, or costs
no hidden points; and every rule the hidden tests check is stated in the released notebook.
"""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pytest

from autograder.notebooks import nbgrader_meta
from tests.conftest import ASSIGNMENT
from tests.test_grader_accuracy import grade  # noqa: F401 - the judge fixture
from tests.test_selfcheck import RELEASE, selfcheck, solution_code, student_folder


def _solution_with(notebook: str, grade_id: str, old: str, new: str) -> str:
    code = solution_code(notebook, grade_id)
    assert code.count(old) == 1, (grade_id, old)
    return code.replace(old, new)


TANH_HELPER = '''def _reference(z):
    """Only for comparing while developing; never called by tanh."""
    return np.tanh(z)


def tanh(z):
    z = np.asarray(z, dtype=float)
    t = np.exp(-2.0 * np.minimum(np.abs(z), 20.0))
    return np.sign(z) * (1.0 - t) / (1.0 + t)
'''
TANH_CLIPS_IN_PLACE = """def tanh(z):
    z = np.asarray(z, dtype=float)
    np.clip(z, -20.0, 20.0, out=z)
    t = np.exp(-2.0 * np.abs(z))
    return np.sign(z) * (1.0 - t) / (1.0 + t)
"""
STACK_POPS = """def forward_stack(X, weights, biases, activation):
    H = np.asarray(X, dtype=float)
    while weights:
        H = activation(H @ weights.pop(0).T + biases.pop(0))
    return H
"""
COUNT_CHECKS_SIGN_ONLY = """def count_params(layer_sizes):
    sizes = list(layer_sizes)
    if len(sizes) < 2 or any(n < 1 for n in sizes):
        raise ValueError("bad sizes")
    return sum(int(a) * int(b) + int(b) for a, b in zip(sizes[:-1], sizes[1:]))
"""
AFFINE_WITHOUT_CHECKS = """def collapse_affine(weights, biases):
    W_eff = np.eye(np.shape(weights[0])[1])
    b_eff = np.zeros(np.shape(weights[0])[1])
    for W, b in zip(weights, biases):
        W_eff, b_eff = W @ W_eff, W @ b_eff + b
    return W_eff, b_eff
"""


def _maps(old: str, new: str) -> str:
    return _solution_with("06_halfspace_neurons", "plot_neuron_maps_solution", old, new)


CONTOURF = 'ax.contourf(xx, yy, H[:, i].reshape(xx.shape), levels=20, cmap="viridis")'
TRAPS = {
    "np.tanh in a helper of the tanh cell": (
        "04_tanh_vs_relu",
        "tanh_solution",
        TANH_HELPER,
        "tanh",
        "the cell uses np.tanh",
    ),
    "tanh clips its argument in place": (
        "04_tanh_vs_relu",
        "tanh_solution",
        TANH_CLIPS_IN_PLACE,
        "tanh",
        "tanh changed its argument z",
    ),
    "forward_stack pops the caller's lists": (
        "04_tanh_vs_relu",
        "forward_stack_solution",
        STACK_POPS,
        "forward_stack",
        "changed the length",
    ),
    "int zeros for b": (
        "03_stored_activations",
        "DenseLayer_solution",
        lambda: _solution_with(
            "03_stored_activations",
            "DenseLayer_solution",
            "self.b = np.zeros(n_out)",
            "self.b = np.zeros(n_out, dtype=int)",
        ),
        "DenseLayer",
        "must hold floats",
    ),
    "weights scaled by sqrt(1 / n_in)": (
        "03_stored_activations",
        "DenseLayer_solution",
        lambda: _solution_with(
            "03_stored_activations",
            "DenseLayer_solution",
            "* np.sqrt(2.0 / n_in)\n",
            "* np.sqrt(1.0 / n_in)\n",
        ),
        "DenseLayer",
        "He scaling",
    ),
    "count_params accepts 2.5, True, '3' and None": (
        "01_param_count",
        "count_params_solution",
        COUNT_CHECKS_SIGN_ONLY,
        "count_params",
        "ValueError",
    ),
    "collapse_affine without its ValueError": (
        "05_linear_collapse",
        "collapse_affine_solution",
        AFFINE_WITHOUT_CHECKS,
        "collapse_affine",
        "raise ValueError",
    ),
    "contour levels from the column's min and max": (
        "06_halfspace_neurons",
        "plot_neuron_maps_solution",
        lambda: _maps(
            CONTOURF,
            "col = H[:, i]\n        ax.contourf(xx, yy, col.reshape(xx.shape), "
            "levels=np.linspace(col.min(), col.max(), 12))",
        ),
        "plot_neuron_maps",
        "a dead neuron (a column of zeros) gets its map too",
    ),
    "every map drawn from the first column": (
        "06_halfspace_neurons",
        "plot_neuron_maps_solution",
        lambda: _maps(CONTOURF, 'ax.contourf(xx, yy, H[:, 0].reshape(xx.shape), levels=20, cmap="viridis")'),
        "plot_neuron_maps",
        "spans another range than column 1 of H",
    ),
}


@pytest.mark.e2e
@pytest.mark.parametrize("trap", sorted(TRAPS))
def test_the_selfcheck_names_the_rule_a_trap_breaks(tmp_path, trap):
    notebook, grade_id, code, function, said = TRAPS[trap]
    folder = student_folder(tmp_path / ASSIGNMENT, {notebook: {grade_id: code() if callable(code) else code}})
    run = selfcheck(folder, notebook[:2])
    assert run.statuses[notebook, function] in ("fail", "error"), run.stdout  # error: the code raised
    assert said in run.section(notebook, function), run.stdout


# ---------------------------------------------------------------- no double penalty

NAIVE_TANH = """def tanh(z):
    z = np.asarray(z, dtype=float)
    return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))
"""
STACK_SKIPS_LAST = """def forward_stack(X, weights, biases, activation):
    H = np.asarray(X, dtype=float)
    for i, (W, b) in enumerate(zip(weights, biases)):
        H = H @ W.T + b
        if i < len(weights) - 1:
            H = activation(H)
    return H
"""
SAMPLE_STD = """def summarize(H):
    H = np.asarray(H, dtype=float)
    std = float(np.std(H, ddof=1)) if H.size > 1 else 0.0
    return {"mean": float(np.mean(H)), "std": std, "frac_positive": float(np.mean(H > 0))}
"""


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("grade_id", "code", "loses"),
    [
        ("tanh_solution", NAIVE_TANH, "tanh_values"),
        ("forward_stack_solution", STACK_SKIPS_LAST, "forward_stack_values"),
        ("summarize_solution", SAMPLE_STD, "summarize_values"),
    ],
    ids=["tanh", "forward_stack", "summarize"],
)
def test_a_mistake_in_what_compare_relu_tanh_calls_costs_points_only_where_it_is(
    grade,  # noqa: F811 - the fixture imported above
    grade_id,
    code,
    loses,
):
    """The source's compare_relu_tanh calls the student's tanh, forward_stack and summarize."""
    verdicts = grade("04_tanh_vs_relu", f"trap-{grade_id}", {grade_id: code})
    assert verdicts[loses].score < verdicts[loses].points
    compare = verdicts["compare_relu_tanh_values"]
    assert compare.score == compare.points, compare


# --------------------------------------------------------------- what the notebooks state

RULES = [
    ("01_param_count", 2, "`None`"),
    ("03_stored_activations", 4, "an array of floats (not `dtype=int`"),
    ("03_stored_activations", 4, "`np.random.randn(n_out, n_in) * np.sqrt(2.0 / n_in)`"),
    ("04_tanh_vs_relu", 4, "must not appear anywhere in the code of this cell's functions"),
    ("04_tanh_vs_relu", 4, "Do not change the caller's array"),
    ("04_tanh_vs_relu", 10, "It is graded on its own"),
    ("05_linear_collapse", 5, "raises\n`ValueError` for an empty list of weights"),
    ("06_halfspace_neurons", 10, "a **dead** neuron"),
    ("06_halfspace_neurons", 10, "its colour range\n  runs from that column's minimum to its maximum"),
]


def _cell(notebook: str, key):
    cells = nbformat.read(RELEASE / f"{notebook}.ipynb", as_version=4).cells
    if isinstance(key, int):
        return cells[key]
    return next(c for c in cells if nbgrader_meta(c).get("grade_id") == key)


@pytest.mark.parametrize(("notebook", "key", "rule"), RULES, ids=[r[2][:30] for r in RULES])
def test_the_release_states_each_rule_the_hidden_tests_check(notebook, key, rule):
    assert " ".join(rule.split()) in " ".join(_cell(notebook, key).source.split())


def test_the_derivative_statement_of_03_is_right():
    text = _cell("03_stored_activations", 4).source
    assert "cannot always tell you" not in text
    assert "$h > 0$ exactly where $z > 0$" in text


def test_06_says_which_networks_are_affine_on_a_region():
    text = _cell("06_halfspace_neurons", 15).source
    assert "a network built on it" not in text
    assert "this hidden layer and an\naffine output layer" in text


def test_the_seed_of_06_leaves_a_region_where_no_neuron_is_active():
    """The project's picture has something to show for the question about such regions."""
    source = _cell("06_halfspace_neurons", 14).source
    seed = int(re.search(r"default_rng\((\d+)\)", source).group(1))
    rng = np.random.default_rng(seed)
    W1, b1 = rng.standard_normal((6, 2)), rng.standard_normal(6)
    xx, yy = np.meshgrid(np.linspace(-3, 3, 150), np.linspace(-3, 3, 150))
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    silent = np.mean(~np.any(grid @ W1.T + b1 > 0, axis=1))
    assert silent > 0.05, f"only {silent:.2%} of the square has no active neuron"
    assert f"default_rng({seed})" in _cell("06_halfspace_neurons", 14).source

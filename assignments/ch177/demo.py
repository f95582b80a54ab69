"""The demo class of ch177: synthetic students with known work and the scores they must get.

Each student is a dict notebook -> {solution grade_id: code or SOLUTION}; a solution cell
not named keeps the release stub. `expected` is the autograded score per notebook: the judge
gives each cell points in proportion to the hidden properties that hold, so a bug costs part
of a cell.
"""

from pathlib import Path

from autograder.demo.students import DemoStudent
from autograder.notebooks import autograded_points
from autograder.submissions import full_solution

SOURCE = Path(__file__).resolve().parents[2] / "source" / "ch177"
FULL_MARKS = autograded_points(SOURCE)
NOTHING = dict.fromkeys(FULL_MARKS, 0.0)


def _with(base: dict[str, dict[str, object]], notebook: str, grade_id: str, code: str):
    answers = {nb: dict(cells) for nb, cells in base.items()}
    answers[notebook][grade_id] = code
    return answers


def _expect(**scores: float) -> dict[str, float]:
    return {**FULL_MARKS, **scores}


EVERYTHING = full_solution(SOURCE)

WEIGHTS_ONLY = """
def count_params(layer_sizes):
    return sum(a * b for a, b in zip(layer_sizes, layer_sizes[1:]))
"""

UNTRANSPOSED_ROWS = """
def affine_rows(X, W, b):
    return X @ W + b
"""

Z_OVERWRITTEN = """
class DenseLayer:
    def __init__(self, n_in, n_out, activation=relu):
        self.W = np.random.randn(n_out, n_in) * np.sqrt(2.0 / n_in)
        self.b = np.zeros(n_out)
        self.activation = activation

    def forward(self, x):
        self.z = x @ self.W.T + self.b
        self.z = self.activation(self.z)
        self.h = self.z
        return self.h
"""

TANH_VIA_SIGMOID = """
def tanh(z):
    z = np.asarray(z, dtype=float)
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))
"""

REVERSED_PRODUCT = """
def collapse_linear(weights):
    if len(weights) == 0:
        raise ValueError("no layers")
    W_eff = weights[0]
    for W in weights[1:]:
        W_eff = W_eff @ W
    return W_eff
"""

BOUNDARY_INCLUSIVE = """
def active_region(grid, w, b):
    return grid @ w + b >= 0
"""

MISSING_RELU = """
def hidden_activations(grid, W1, b1):
    return grid @ W1.T + b1
"""

LOOPS_AND_EINSUM = {
    "01_param_count": {
        "count_params_solution": """
def count_params(layer_sizes):
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError("need two sizes")
    for n in sizes:
        if type(n) is bool or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"not a positive integer size: {n!r}")
    total = 0
    for i in range(len(sizes) - 1):
        n_in, n_out = sizes[i], sizes[i + 1]
        total += int(n_out) * (int(n_in) + 1)
    return total
"""
    },
    "02_batch_forms": {
        "affine_rows_solution": """
def affine_rows(X, W, b):
    return np.einsum("...i,oi->...o", X, W) + b
""",
        "affine_cols_solution": """
def affine_cols(X, W, b):
    return np.transpose(np.matmul(W, np.transpose(X))) + b
""",
    },
}


def _students() -> list[DemoStudent]:
    partial = {nb: EVERYTHING[nb] for nb in ("01_param_count", "02_batch_forms", "03_stored_activations")}
    alt = {nb: {**cells, **LOOPS_AND_EINSUM.get(nb, {})} for nb, cells in EVERYTHING.items()}
    return [
        DemoStudent("alice", "full solutions", EVERYTHING, _expect()),
        DemoStudent("bob", "downloaded, never touched", {}, dict(NOTHING)),
        DemoStudent(
            "carol",
            "finished the first three notebooks only",
            partial,
            {**NOTHING, **{nb: FULL_MARKS[nb] for nb in partial}},
        ),
        DemoStudent(
            "dave",
            "counts weights but forgets biases",
            _with(EVERYTHING, "01_param_count", "count_params_solution", WEIGHTS_ONLY),
            _expect(**{"01_param_count": 0.0}),
        ),
        DemoStudent(
            "erin",
            "row form without the transpose (X @ W + b)",
            _with(EVERYTHING, "02_batch_forms", "affine_rows_solution", UNTRANSPOSED_ROWS),
            _expect(**{"02_batch_forms": 2.0}),
        ),
        DemoStudent(
            "frank",
            "stores the activation over z",
            _with(EVERYTHING, "03_stored_activations", "DenseLayer_solution", Z_OVERWRITTEN),
            _expect(**{"03_stored_activations": 5.27}),
        ),
        DemoStudent(
            "grace",
            "tanh written as a sigmoid",
            _with(EVERYTHING, "04_tanh_vs_relu", "tanh_solution", TANH_VIA_SIGMOID),
            _expect(**{"04_tanh_vs_relu": 3.4}),
        ),
        DemoStudent(
            "heidi",
            "multiplies the weight matrices in the wrong order",
            _with(EVERYTHING, "05_linear_collapse", "collapse_linear_solution", REVERSED_PRODUCT),
            _expect(**{"05_linear_collapse": 1.8}),
        ),
        DemoStudent(
            "ivan",
            "counts the boundary w.x + b = 0 as active",
            _with(EVERYTHING, "06_halfspace_neurons", "active_region_solution", BOUNDARY_INCLUSIVE),
            _expect(**{"06_halfspace_neurons": 3.75}),
        ),
        DemoStudent(
            "judy",
            "hidden layer without its ReLU",
            _with(EVERYTHING, "06_halfspace_neurons", "hidden_activations_solution", MISSING_RELU),
            _expect(**{"06_halfspace_neurons": 3.33}),
        ),
        DemoStudent("kim", "correct, with loops and einsum instead of @", alt, _expect()),
        DemoStudent(
            "José Ñúñez",
            "full solutions; a name with spaces and accents",
            EVERYTHING,
            _expect(),
        ),
    ]


STUDENTS = _students()

"""Hidden properties of 04_tanh_vs_relu: tanh, forward_stack, summarize and compare_relu_tanh.

tanh is checked against nnla_ref for every finite input (no NaN, inf or warning, even near
1e308), with np.tanh / math.tanh watched while it runs and looked for in its cell's source.
Activations handed to forward_stack are the worker's trusted ones ({"__fn__": name}).
"""

import ast
import itertools

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnla_ref as ref
from autograder.judge.properties import (
    Failure,
    Suite,
    add_wrong_answer_tags,
    expect_close,
    expect_unchanged_inputs,
)
from autograder.judge.strategies import arrays, shapes

from ..misconceptions import CATALOGUE
from ..stacks import stack
from ..strategies import layer_chains, square_chains, widths

suite = Suite("04_tanh_vs_relu", CATALOGUE)

ACTS = {"relu": ref.relu, "tanh": ref.tanh, "sigmoid": ref.sigmoid, "identity": lambda z: z}
SMALL = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
MODERATE_Z = st.floats(-30.0, 30.0, allow_nan=False, allow_infinity=False)
TINY_Z = st.floats(-1e-6, 1e-6, allow_nan=False, allow_infinity=False)
LARGE_Z = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
FINITE_Z = st.floats(allow_nan=False, allow_infinity=False)
MAX = np.finfo(float).max
SUMMARY_KEYS = ("mean", "std", "frac_positive")


# ---------------------------------------------------------------------- tanh


def call_tanh(student, z):
    """tanh(z) from the student; calling np.tanh or math.tanh on the way fails every property."""
    inputs = {"z": z}
    got = student.call("tanh", z, watch_banned=True, inputs=inputs)
    if student.last.banned:
        raise Failure(
            f"tanh called {', '.join(student.last.banned)}: build it from np.exp (or np.expm1) instead",
            inputs=inputs,
            tags=("banned-call",),
            show_values=False,
        )
    return got, inputs


def wrong_tanh(z):
    """What the known mistakes of tanh give."""
    return [("sigmoid-instead-of-tanh", lambda: 1 / (1 + np.exp(-np.clip(z, -500, 500))))]


def expect_tanh(got, z, inputs) -> None:
    expect_close(got, ref.tanh(z), inputs=inputs, what="tanh(z)", wrong_answers=wrong_tanh(z))


def expect_quiet_finite(student, got, z, inputs) -> None:
    """No floating-point warning and no NaN/inf: the failures of exp(z) or exp(2|z|) for large |z|."""
    floating = [w for w in student.last.warnings if w.startswith("RuntimeWarning")]
    if floating:
        raise Failure(
            f"tanh(z) emitted a warning: {floating[0]}",
            inputs=inputs,
            expected="no warning",
            actual=floating[0],
            tags=("exp-overflow",) if "overflow" in floating[0] else (),
        )
    arr = np.asarray(got) if isinstance(got, np.ndarray | np.generic | float | int) else None
    if arr is not None and arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        failure = Failure(
            "tanh(z) contains nan or inf",
            inputs=inputs,
            expected=ref.tanh(z),
            actual=got,
            tags=("exp-overflow",),
        )
        raise add_wrong_answer_tags(failure, got, wrong_tanh(z))


@suite.prop(
    "tanh_values",
    "tanh(z) equals the hyperbolic tangent elementwise, for any shape (0-d and empty included), "
    "and does not change z",
    exercise="tanh",
    max_examples=15,
)
@given(z=arrays(shapes(), st.one_of(MODERATE_Z, TINY_Z)))
@example(z=np.array([-2.0, 0.0, 0.5, 1.0]))
@example(z=np.array(0.5))
@example(z=np.zeros((0, 3)))
@example(z=np.linspace(-25.0, 25.0, 101))
@example(z=np.array([[1e-12, -3.5e-9], [19.5, -20.5]]))
def tanh_values(student, z):
    got, inputs = call_tanh(student, z)
    expect_tanh(got, z, inputs)
    expect_unchanged_inputs(student, "tanh(z)", inputs)


def _is_float_result(got) -> bool:
    if type(got) is float:
        return True
    return isinstance(got, np.ndarray | np.generic) and got.dtype.kind == "f"


@suite.prop(
    "tanh_values",
    "tanh returns floats of z's shape, also for integer arrays and Python or NumPy scalars",
    exercise="tanh",
    max_examples=10,
)
@given(
    z=st.one_of(
        hnp.arrays(
            np.int64, hnp.array_shapes(min_dims=0, max_dims=2, max_side=5), elements=st.integers(-40, 40)
        ),
        st.integers(-40, 40),
        MODERATE_Z,
    )
)
@example(z=np.array([-3, 0, 2]))
@example(z=2)
@example(z=np.float64(-0.3))
@example(z=np.array(1))
def tanh_floats(student, z):
    got, inputs = call_tanh(student, z)
    if not _is_float_result(got):
        kind = f"dtype {got.dtype}" if isinstance(got, np.ndarray | np.generic) else type(got).__name__
        failure = Failure(
            f"tanh(z) should return floats, got {kind}", inputs=inputs, expected=ref.tanh(z), actual=got
        )
        raise add_wrong_answer_tags(failure, got, wrong_tanh(z))
    expect_tanh(got, z, inputs)


@suite.prop(
    "tanh_values",
    "tanh gives no nan, no inf and no warning for |z| up to 1e4, where exp(z) and exp(2z) overflow",
    exercise="tanh",
    max_examples=10,
)
@given(z=arrays(hnp.array_shapes(min_dims=1, max_dims=2, max_side=5), LARGE_Z))
@example(z=np.array([-1000.0, -710.0, 710.0, 1000.0]))
@example(z=np.array([356.0, -400.0]))
@example(z=np.array([[800.0], [-1e4]]))
def tanh_large(student, z):
    got, inputs = call_tanh(student, z)
    expect_quiet_finite(student, got, z, inputs)
    expect_tanh(got, z, inputs)


@suite.prop(
    "tanh_values",
    "tanh gives no nan, no inf and no warning for any finite z, even near the float64 limit 1.8e308",
    exercise="tanh",
    max_examples=10,
)
@given(z=arrays(st.integers(1, 6), FINITE_Z))
@example(z=np.array([-1e308, 1e308]))
@example(z=np.array([-1e308, -800.0, -20.0, -1e-12, 1e-12, 3.5, 800.0, 1e308]))
@example(z=np.array([MAX, -MAX]))
def tanh_huge(student, z):
    got, inputs = call_tanh(student, z)
    expect_quiet_finite(student, got, z, inputs)
    expect_tanh(got, z, inputs)


class _BannedUses(ast.NodeVisitor):
    """Ways to reach a library tanh: np.tanh, math.tanh, from math import tanh, getattr(np, "tanh").

    Inside functions and classes every use counts; at the top level of the cell only aliases
    and imports do (a check such as ``np.allclose(tanh(z), np.tanh(z))`` is allowed there).
    """

    def __init__(self):
        self.found: list[str] = []
        self.depth = 0
        self.called: set[int] = set()

    def _nested(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _nested

    def visit_Module(self, node):
        for stmt in node.body:
            if self.depth == 0 and isinstance(stmt, ast.Assert | ast.Expr):
                continue  # top-level checks and prints
            self.visit(stmt)

    def visit_Call(self, node):
        self.called.add(id(node.func))
        if any(isinstance(a, ast.Constant) and a.value == "tanh" for a in node.args):
            self.found.append(ast.unparse(node))
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr == "tanh" and (self.depth > 0 or id(node) not in self.called):
            self.found.append(ast.unparse(node))
        self.generic_visit(node)

    def visit_Subscript(self, node):
        if isinstance(node.slice, ast.Constant) and node.slice.value == "tanh":
            self.found.append(ast.unparse(node))
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        for alias in node.names:
            if alias.name == "tanh":
                self.found.append(f"from {node.module} import tanh")

    def visit_Import(self, node):
        for alias in node.names:
            if alias.name.endswith(".tanh"):
                self.found.append(f"import {alias.name}")


def banned_uses(source: str) -> list[str]:
    """Library tanh functions the cell that defines tanh reaches for (static check)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    finder = _BannedUses()
    finder.visit(tree)
    return list(dict.fromkeys(finder.found))


@suite.prop(
    "tanh_values",
    "tanh does not use np.tanh or math.tanh (neither when it runs nor in its cell's code)",
    exercise="tanh",
)
def tanh_not_banned(student):
    z = np.array([0.25, -3.0, 0.0, 40.0])
    call_tanh(student, z)
    uses = banned_uses(student.source_defining("tanh"))
    if uses:
        raise Failure(
            f"the cell that defines tanh uses {', '.join(uses[:3])}: build tanh from np.exp (or np.expm1)",
            tags=("banned-call",),
            show_values=False,
        )


# ---------------------------------------------------------------------- forward_stack


@st.composite
def stack_problems(draw, batch=True, square=False, activations=tuple(ACTS)):
    """(X, weights, biases, activation name) for a stack of 1 to 4 layers."""
    if square:
        weights, biases = draw(square_chains(widths(5), st.integers(1, 4), SMALL))
    else:
        weights, biases = draw(layer_chains(1, 4, 5, SMALL))
    n_0 = weights[0].shape[1]
    X = draw(arrays((draw(st.integers(1, 5)), n_0), SMALL)) if batch else draw(arrays((n_0,), SMALL))
    return X, weights, biases, draw(st.sampled_from(activations))


V_X = np.array([[1.0, 2.0]])
V_W = [np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]), np.array([[1.0, -1.0, 0.0]])]
V_B = [np.zeros(3), np.array([-0.5])]


def _check_stack(student, problem):
    X, weights, biases, activation = problem
    inputs = {"X": X, "weights": weights, "biases": biases, "activation": activation}
    got = student.call("forward_stack", X, weights, biases, {"__fn__": activation}, inputs=inputs)
    act = ACTS[activation]
    expect_close(
        got,
        stack(X, weights, biases, act),
        inputs=inputs,
        what="forward_stack(X, weights, biases, activation)",
        wrong_answers=[
            ("last-layer-not-activated", lambda: stack(X, weights, biases, act, output=None)),
            ("untransposed-weight", lambda: stack(X, weights, biases, act, transpose=False)),
        ],
    )


@suite.prop(
    "forward_stack_values",
    "forward_stack applies H = activation(H @ W.T + b) for every layer, the last one included, "
    "to a batch X of shape (B, n_0)",
    exercise="forward_stack",
    max_examples=10,
)
@given(problem=stack_problems())
@example(problem=(V_X, V_W, V_B, "relu"))
@example(problem=(np.array([[1.0, 2.0], [0.0, -1.0]]), V_W, V_B, "identity"))
@example(
    problem=(
        np.array([[1.0, -2.0, 0.5]]),
        [np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])],
        [V_B[0][:2]],
        "tanh",
    )
)
def stack_batch(student, problem):
    _check_stack(student, problem)


@suite.prop(
    "forward_stack_values",
    "forward_stack of a single example X of shape (n_0,) returns shape (n_L,)",
    exercise="forward_stack",
    max_examples=8,
)
@given(problem=stack_problems(batch=False))
@example(problem=(np.array([1.0, 2.0]), V_W, V_B, "relu"))
def stack_single(student, problem):
    _check_stack(student, problem)


@suite.prop(
    "forward_stack_values",
    "forward_stack uses W.T also with square weights, where a missing transpose keeps the shapes",
    exercise="forward_stack",
    max_examples=8,
)
@given(problem=stack_problems(square=True, activations=("identity", "tanh", "sigmoid")))
@example(
    problem=(
        np.array([[1.0, 2.0]]),
        [np.array([[1.0, 2.0], [3.0, 4.0]])],
        [np.array([0.5, -1.0])],
        "identity",
    )
)
def stack_square(student, problem):
    _check_stack(student, problem)


@suite.prop(
    "forward_stack_values",
    "forward_stack does not change X, the weights or the biases",
    exercise="forward_stack",
    max_examples=5,
)
@given(problem=st.one_of(stack_problems(), stack_problems(batch=False)))
@example(problem=(V_X, V_W, V_B, "relu"))
def stack_keeps_inputs(student, problem):
    X, weights, biases, activation = problem
    inputs = {"X": X, "weights": weights, "biases": biases, "activation": activation}
    student.call("forward_stack", X, weights, biases, {"__fn__": activation}, inputs=inputs)
    expect_unchanged_inputs(student, "forward_stack", inputs)


# ---------------------------------------------------------------------- summarize


def _real(value) -> float | None:
    """A real scalar as a float (Python or NumPy, or a 0-d array), else None."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iuf":
        return float(value)
    return None


def _close(a: float, e: float, scale: float) -> bool:
    return bool(np.isclose(a, e, rtol=1e-7, atol=1e-9 * max(1.0, scale)))


def expect_summary(
    got, expected: dict, *, inputs: dict, what: str, scale: float, frac_range: tuple | None = None
) -> None:
    """A dict with exactly the keys of `expected`, real scalar values close to its values.

    `frac_range` (lowest, highest) widens 'frac_positive' for arrays the student computed
    themselves: an entry within rounding of 0 may come out as 0 or of either sign.
    """
    keys = tuple(expected)

    def ok(value: float, key: str) -> bool:
        if key == "frac_positive" and frac_range is not None:
            return frac_range[0] - 1e-12 <= value <= frac_range[1] + 1e-12
        return _close(value, expected[key], scale)

    if not isinstance(got, dict):
        raise Failure(
            f"{what} should be a dict, got {type(got).__name__}", inputs=inputs, expected=expected, actual=got
        )
    if set(got) != set(keys):
        raise Failure(
            f"{what} should have exactly the keys {list(keys)}, got {sorted(got)}",
            inputs=inputs,
            expected=expected,
            actual=got,
            tags=("swapped-keys",),
        )
    values = {k: _real(got[k]) for k in keys}
    if any(v is None for v in values.values()):
        bad = next(k for k in keys if values[k] is None)
        raise Failure(
            f"{what}[{bad!r}] should be a float, got {type(got[bad]).__name__}",
            inputs=inputs,
            expected=expected,
            actual=got,
        )
    wrong = [k for k in keys if not ok(values[k], k)]
    if wrong:
        swapped = any(
            perm != keys and all(ok(values[k], p) for k, p in zip(keys, perm))
            for perm in itertools.permutations(keys)
        )
        raise Failure(
            f"{what} has wrong {', '.join(repr(k) for k in wrong)}",
            inputs=inputs,
            expected=expected,
            actual=got,
            tags=("swapped-keys",) if swapped else (),
        )


def summary_arrays():
    """Any non-empty shape, with exact zeros (not positive) and values of both signs."""
    elements = st.one_of(st.just(0.0), st.floats(-10.0, 10.0, allow_nan=False), st.sampled_from([1.0, -1.0]))
    return arrays(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5), elements)


V_H = np.array([[1.0, -1.0], [3.0, 0.0]])


@suite.prop(
    "summarize_values",
    "summarize(H) gives the mean, the population std (ddof=0) and the fraction of entries strictly > 0",
    exercise="summarize",
    max_examples=15,
)
@given(H=summary_arrays())
@example(H=V_H)
@example(H=np.zeros(6))
@example(H=np.array([[2.0]]))
@example(H=np.array([[[0.5, -2.0, 0.0]], [[4.0, 0.0, -1.0]]]))
@example(H=np.array([3.0, 1.0]))
def summarize_values(student, H):
    inputs = {"H": H}
    got = student.call("summarize", H, inputs=inputs)
    scale = float(np.max(np.abs(H), initial=0.0))
    try:
        expect_summary(got, ref.summarize(H), inputs=inputs, what="summarize(H)", scale=scale)
    except Failure as failure:
        raise add_wrong_answer_tags(failure, got, wrong_summaries(H)) from None


def wrong_summaries(H):
    """What the known mistakes of summarize give."""
    mean, frac_positive = float(np.mean(H)), float(np.mean(H > 0))
    return [
        (
            "sample-std",
            lambda: {
                "mean": mean,
                "std": float(np.std(H, ddof=1)) if np.size(H) > 1 else float("nan"),
                "frac_positive": frac_positive,
            },
        ),
        (
            "boundary-inclusive",
            lambda: {"mean": mean, "std": float(np.std(H)), "frac_positive": float(np.mean(H >= 0))},
        ),
    ]


@suite.prop(
    "summarize_values",
    "summarize returns a dict with exactly the keys 'mean', 'std', 'frac_positive', each a float, "
    "and does not change H",
    exercise="summarize",
    max_examples=5,
)
@given(H=summary_arrays())
@example(H=V_H)
def summarize_structure(student, H):
    inputs = {"H": H}
    got = student.call("summarize", H, inputs=inputs)
    expect_unchanged_inputs(student, "summarize(H)", inputs)
    if not isinstance(got, dict) or set(got) != set(SUMMARY_KEYS):
        raise Failure(
            f"summarize(H) should return a dict with exactly the keys {list(SUMMARY_KEYS)}",
            inputs=inputs,
            expected=ref.summarize(H),
            actual=got,
            tags=("swapped-keys",) if isinstance(got, dict) else (),
        )
    for key in SUMMARY_KEYS:
        if _real(got[key]) is None:
            raise Failure(
                f"summarize(H)[{key!r}] should be a float, got {type(got[key]).__name__}",
                inputs=inputs,
                expected=ref.summarize(H),
                actual=got,
            )


# ---------------------------------------------------------------------- compare_relu_tanh


# compare_relu_tanh is judged with the given (correct) versions of the functions it builds on in
# place of the student's, so that a mistake in one of those costs points only where it is tested.
# These properties come last in the notebook's suite: nothing is judged after the swap.
BUILDS_ON = ("relu", "tanh", "forward_stack", "summarize")


@st.composite
def compare_problems(draw):
    weights, biases = draw(layer_chains(1, 3, 5, SMALL))
    return draw(arrays((draw(st.integers(1, 5)), weights[0].shape[1]), SMALL)), weights, biases


C_X = np.array([[1.0, -1.0], [-2.0, 0.5]])


def _check_compare(student, X, weights, biases):
    inputs = {"X": X, "weights": weights, "biases": biases}
    got = student.call("compare_relu_tanh", X, weights, biases, trusted=BUILDS_ON, inputs=inputs)
    runs = {name: stack(X, weights, biases, ACTS[name]) for name in ("relu", "tanh")}
    expected = {name: ref.summarize(H) for name, H in runs.items()}
    if not isinstance(got, dict) or set(got) != {"relu", "tanh"}:
        raise Failure(
            "compare_relu_tanh should return a dict with exactly the keys 'relu' and 'tanh'",
            inputs=inputs,
            expected=expected,
            actual=got,
            tags=("swapped-keys",) if isinstance(got, dict) else (),
        )
    scale = max(float(np.max(np.abs(H), initial=0.0)) for H in runs.values())
    # Entries within rounding of 0 may be computed as 0 or of either sign by a correct student.
    delta = 1e-9 * max(1.0, scale)
    fracs = {name: (float(np.mean(H > delta)), float(np.mean(H > -delta))) for name, H in runs.items()}
    try:
        for name in ("relu", "tanh"):
            expect_summary(
                got[name],
                expected[name],
                inputs=inputs,
                what=f"compare_relu_tanh(...)[{name!r}]",
                scale=scale,
                frac_range=fracs[name],
            )
    except Failure as failure:
        swapped = True
        for name, other in (("relu", "tanh"), ("tanh", "relu")):
            try:
                expect_summary(
                    got[name], expected[other], inputs=inputs, what="", scale=scale, frac_range=fracs[other]
                )
            except Failure:
                swapped = False
        failure.expected, failure.actual = expected, got
        failure.tags = (*failure.tags, "swapped-keys") if swapped else failure.tags
        raise
    return inputs


@suite.prop(
    "compare_relu_tanh_values",
    "compare_relu_tanh gives {'relu': summarize(...), 'tanh': summarize(...)} of forward_stack with "
    "each activation and the same weights and biases",
    exercise="compare_relu_tanh",
    max_examples=10,
)
@given(problem=compare_problems())
@example(problem=(C_X, [np.eye(2)], [np.zeros(2)]))
@example(
    problem=(
        C_X,
        [np.array([[1.0, -2.0], [0.5, 1.0], [-1.0, 0.0]]), np.array([[1.0, 1.0, -1.0]])],
        [np.array([0.1, -0.2, 0.3]), np.array([0.2])],
    )
)
def compare_values(student, problem):
    _check_compare(student, *problem)


@suite.prop(
    "compare_relu_tanh_values",
    "compare_relu_tanh does not change X, the weights or the biases",
    exercise="compare_relu_tanh",
    max_examples=4,
)
@given(problem=compare_problems())
@example(problem=(C_X, [np.eye(2)], [np.zeros(2)]))
def compare_keeps_inputs(student, problem):
    X, weights, biases = problem
    inputs = {"X": X, "weights": weights, "biases": biases}
    student.call("compare_relu_tanh", X, weights, biases, trusted=BUILDS_ON, inputs=inputs)
    expect_unchanged_inputs(student, "compare_relu_tanh", inputs)

"""Hidden properties of 02_batch_forms: affine_rows and affine_cols."""

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

import nnla_ref as ref
from autograder.judge.properties import Suite, expect_close, expect_unchanged_inputs
from autograder.judge.strategies import arrays

from ..misconceptions import CATALOGUE
from ..strategies import affine_problems

suite = Suite("02_batch_forms", CATALOGUE)

HUGE = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
SQUARE = (np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, -1.0]))
TALL = (np.array([[1.0, 0.0, 2.0]]), np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([1.0, -1.0]))


@st.composite
def square_problems(draw):
    """n_in == n_out, where X @ W and X @ W.T have the same shape: only values tell them apart."""
    n = draw(st.integers(2, 5))
    X = draw(arrays((draw(st.integers(1, 4)), n)))
    return X, draw(arrays((n, n))), draw(arrays((n,)))


def wrong_affine(name, X, W, b):
    """What the known mistakes of affine_rows and affine_cols give."""
    wrongs = [
        ("untransposed-weight", lambda: X @ W + b),
        ("missing-bias", lambda: X @ W.T),
        ("bias-broadcast-wrong", lambda: X @ W.T + b[:, None]),
        ("single-vector-shape", lambda: np.atleast_2d(X) @ W.T + b),
    ]
    if name == "affine_cols":
        wrongs.append(("cols-not-transposed-back", lambda: W @ X.T + b))
    return wrongs


def _check(student, name, problem):
    X, W, b = problem
    inputs = {"X": X, "W": W, "b": b}
    got = student.call(name, X, W, b, inputs=inputs)
    expect_close(
        got,
        ref.affine_rows(X, W, b),
        inputs=inputs,
        what=f"{name}(X, W, b)",
        wrong_answers=wrong_affine(name, X, W, b),
    )
    expect_unchanged_inputs(student, name, inputs)


def declare(name: str, form: str) -> None:
    """The same three properties for both forms: they must give the same result."""

    @suite.prop(
        f"{name}_values", f"{name}(X, W, b) equals {form} for a single vector (n_in,) or a batch (B, n_in)"
    )
    @given(problem=affine_problems())
    @example(problem=TALL)
    @example(problem=(TALL[0][0], TALL[1], TALL[2]))
    def matches_definition(student, problem):
        _check(student, name, problem)

    @suite.prop(f"{name}_values", f"{name} uses W.T with square W, where a missing transpose keeps the shape")
    @given(problem=square_problems())
    @example(problem=SQUARE)
    def square_weights(student, problem):
        _check(student, name, problem)

    @suite.prop(f"{name}_values", f"{name} is accurate for inputs and weights up to 1e6 in size")
    @given(problem=affine_problems(elements=HUGE))
    def huge_values(student, problem):
        _check(student, name, problem)


declare("affine_rows", "X @ W.T + b")
declare("affine_cols", "(W @ X.T).T + b")

"""Hidden properties of 05_linear_collapse: collapse_linear and collapse_affine.

Values are compared with nnla_ref within an absolute tolerance scaled to the product of the
matrices' absolute values, so that every association order (a loop, functools.reduce,
np.linalg.multi_dot, einsum) agrees with the reference however much the entries cancel.

Layers of different widths are where a product in the wrong order usually cannot even be
formed; square layers are where it can, with the right shape and wrong values. Both are
drawn. When the student's code raises for a chain that is valid but accepts the same chain
listed backwards with the right product, the failure is tagged reversed-product-order.

For one layer, returning the given matrix (or bias) itself is fine, as long as nothing is
changed in place; mutations are checked by the worker, which compares every array in the
argument lists (and the lists themselves) before and after the call. They are looked for on
one layer and on square layers, where even a product in the wrong order runs.

collapse_affine returns a tuple (W_eff, b_eff), as the notebook's visible test requires, and
raises ValueError for an empty list or weights that do not chain, as its docstring says. Its
W_eff and b_eff are separate properties, so a bias mistake does not cost the W_eff points
(unless the code raises).
"""

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

import nnla_ref as ref
from autograder.judge.misconceptions import matches
from autograder.judge.properties import (
    Failure,
    NotAttempted,
    Suite,
    add_wrong_answer_tags,
    expect_close,
    expect_raises,
    expect_unchanged_inputs,
)
from autograder.judge.strategies import arrays

from ..misconceptions import CATALOGUE
from ..strategies import layer_chains, square_chains

suite = Suite("05_linear_collapse", CATALOGUE)

# Drawing array entries is what costs time here (~50 us each): small layers, few examples;
# the cases that matter are explicit examples.
CHAINS = layer_chains(min_layers=1, max_layers=4, max_width=4)
# Mutations are looked for where even a product in the wrong order runs, so that a wrong
# order is not counted again as a failure to run.
ONE_LAYER = layer_chains(min_layers=1, max_layers=1, max_width=4)

# The notebook's worked example: R^2 -> R^3 -> R^2 -> R^1.
W1 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
W2 = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]])
W3 = np.array([[2.0, -1.0]])
B1, B2, B3 = np.array([1.0, 0.0, -1.0]), np.array([0.0, 2.0]), np.array([5.0])
# Square layers that do not commute: B @ A != A @ B.
A_SQ = np.array([[0.0, 1.0], [0.0, 0.0]])
B_SQ = np.array([[1.0, 0.0], [0.0, 2.0]])
C_SQ = np.array([[1.0, 2.0], [3.0, 4.0]])
# Widths 3 -> 2 -> 3: the reversed product W_1 @ W_2 exists, with shape (3, 3) instead of (2, 2).
U1 = np.array([[1.0, -1.0, 2.0], [0.5, 0.0, 1.0]])
U2 = np.array([[1.0, 2.0], [0.0, 1.0], [-1.0, 3.0]])


@st.composite
def broken_chains(draw):
    """Weights whose shapes do not chain: layer k expects m != n_{k-1} inputs."""
    weights, _ = draw(layer_chains(min_layers=2, max_layers=3, max_width=4))
    k = draw(st.integers(1, len(weights) - 1))
    n_prev = weights[k - 1].shape[0]
    m = draw(st.integers(1, 5).filter(lambda v: v != n_prev))
    weights = list(weights)
    weights[k] = draw(arrays((weights[k].shape[0], m)))
    return weights


def _abs_tolerance(weights, biases=None) -> float:
    """Rounding room for any association order: the collapse of the absolute values bounds
    every partial product and sum."""
    abs_w = [np.abs(W) for W in weights]
    if biases is None:
        scale = ref.collapse_linear(abs_w)
    else:
        scale = np.concatenate([np.ravel(v) for v in ref.collapse_affine(abs_w, [np.abs(b) for b in biases])])
    return 1e-10 * max(1.0, float(np.max(scale, initial=0.0)))


def _reversed_accepted(student, weights) -> bool:
    """Whether collapse_linear, given the same layers listed last-first, returns the product of
    the layers in the right order: a sign of a product taken W_1 @ ... @ W_L."""
    try:
        got = student.call("collapse_linear", weights[::-1])
    except Failure:
        return False
    return matches(ref.collapse_linear(weights), got)


# ---------------------------------------------------------------------------- collapse_linear


def wrong_products(weights):
    """What the known mistakes of collapse_linear (and collapse_affine's W_eff) give."""
    return [("reversed-product-order", lambda: _reversed_product(weights))]


def _reversed_product(weights):
    out = weights[0]
    for W in weights[1:]:
        out = out @ W
    return out


def _collapse_linear(student, weights):
    inputs = {"weights": weights}
    try:
        return student.call("collapse_linear", weights, inputs=inputs)
    except NotAttempted:
        raise
    except Failure as failure:
        if len(weights) > 1 and _reversed_accepted(student, weights):
            raise Failure(
                f"{failure.message}, for layers whose shapes do chain; given the same layers "
                "listed last-first it returned W_L @ ... @ W_1",
                inputs=inputs,
                tags=("reversed-product-order",),
                show_values=False,
            ) from None
        raise


def _check_linear(student, weights):
    got = _collapse_linear(student, weights)
    expect_close(
        got,
        ref.collapse_linear(weights),
        inputs={"weights": weights},
        what="collapse_linear(weights)",
        atol=_abs_tolerance(weights),
        wrong_answers=wrong_products(weights),
    )


@suite.prop(
    "collapse_linear_values",
    "collapse_linear(weights) equals W_L @ ... @ W_2 @ W_1, of shape (n_L, n_0), for layers of any widths",
    exercise="collapse_linear",
    max_examples=30,
)
@given(chain=CHAINS)
@example(chain=([W1, W2], None))
@example(chain=([W1, W2, W3], None))
@example(chain=([U1, U2], None))
@example(chain=([W2], None))
def linear_product(student, chain):
    _check_linear(student, chain[0])


@suite.prop(
    "collapse_linear_values",
    "collapse_linear multiplies in the order W_L @ ... @ W_1 also for square layers, where the "
    "reversed order gives a result of the same shape",
    exercise="collapse_linear",
    max_examples=20,
)
@given(chain=square_chains())
@example(chain=([A_SQ, B_SQ], None))
@example(chain=([B_SQ, C_SQ, A_SQ], None))
def linear_square_order(student, chain):
    _check_linear(student, chain[0])


@suite.prop(
    "collapse_linear_values",
    "collapse_linear raises ValueError for an empty list",
    exercise="collapse_linear",
)
def linear_empty(student):
    expect_raises(
        student, "ValueError", "collapse_linear", [], inputs={"weights": []}, tags=("no-shape-check",)
    )


@suite.prop(
    "collapse_linear_values",
    "collapse_linear raises ValueError when W_l.shape[1] != W_{l-1}.shape[0] somewhere in the chain",
    exercise="collapse_linear",
    max_examples=15,
)
@given(weights=broken_chains())
@example(weights=[W1, W1])
@example(weights=[W1, W2, W2])
@example(weights=[W2, W1, W3])
@example(weights=[np.array([[1.0], [2.0]]), np.array([[3.0]])])  # chains only last-first: W_1 @ W_2
def linear_mismatch(student, weights):
    try:
        expect_raises(
            student,
            "ValueError",
            "collapse_linear",
            weights,
            inputs={"weights": weights},
            tags=("no-shape-check",),
        )
    except Failure as failure:
        # Some chains that do not chain W_L @ ... @ W_1 do chain W_1 @ ... @ W_L.
        raise add_wrong_answer_tags(failure, failure.actual, wrong_products(weights)) from None


@suite.prop(
    "collapse_linear_values",
    "collapse_linear changes neither the list it is given nor the matrices in it",
    exercise="collapse_linear",
    max_examples=10,
)
@given(chain=st.one_of(ONE_LAYER, square_chains()))
@example(chain=([W2], None))
@example(chain=([B_SQ, C_SQ, A_SQ], None))
def linear_not_mutated(student, chain):
    weights = chain[0]
    student.call("collapse_linear", weights, inputs={"weights": weights})
    expect_unchanged_inputs(student, "collapse_linear", {"weights": weights})


# ---------------------------------------------------------------------------- collapse_affine


def _collapse_affine(student, weights, biases):
    inputs = {"weights": weights, "biases": biases}
    got = student.call("collapse_affine", weights, biases, inputs=inputs)
    if not (isinstance(got, tuple) and len(got) == 2):
        failure = Failure(
            "collapse_affine should return the pair (W_eff, b_eff) as a tuple",
            inputs=inputs,
            expected=ref.collapse_affine(weights, biases),
            actual=got,
        )
        raise add_wrong_answer_tags(failure, got, wrong_products(weights))
    return got


def wrong_biases(biases):
    """What the known mistakes of collapse_affine's b_eff give."""
    return [
        (
            "bias-not-propagated",
            lambda: sum(biases[1:], np.asarray(biases[0], float)) if _same_widths(biases) else None,
        ),
        ("last-bias-only", lambda: biases[-1]),
    ]


def _same_widths(biases):
    return len({np.shape(b) for b in biases}) == 1


def _check_affine_W(student, weights, biases):
    inputs = {"weights": weights, "biases": biases}
    W_eff, _ = _collapse_affine(student, weights, biases)
    expect_close(
        W_eff,
        ref.collapse_linear(weights),
        inputs=inputs,
        what="W_eff",
        atol=_abs_tolerance(weights, biases),
        wrong_answers=wrong_products(weights),
    )


def _check_affine_b(student, weights, biases):
    _, b_eff = _collapse_affine(student, weights, biases)
    expect_close(
        b_eff,
        ref.collapse_affine(weights, biases)[1],
        inputs={"weights": weights, "biases": biases},
        what="b_eff",
        atol=_abs_tolerance(weights, biases),
        wrong_answers=wrong_biases(biases),
    )


AFFINE_EXAMPLES = (
    ([W1, W2, W3], [B1, B2, B3]),
    ([W1], [B1]),
    ([np.ones((2, 3)), np.zeros((4, 2))], [np.ones(2), np.arange(4.0)]),
)


@suite.prop(
    "collapse_affine_values",
    "collapse_affine returns a pair (W_eff, b_eff) with W_eff = W_L @ ... @ W_1, of shape (n_L, n_0)",
    exercise="collapse_affine",
    max_examples=25,
)
@given(chain=CHAINS)
@example(chain=AFFINE_EXAMPLES[0])
@example(chain=AFFINE_EXAMPLES[1])
@example(chain=([U1, U2], [np.array([1.0, -2.0]), np.array([0.5, 1.0, 0.0])]))
def affine_weight(student, chain):
    _check_affine_W(student, *chain)


@suite.prop(
    "collapse_affine_values",
    "W_eff multiplies in the order W_L @ ... @ W_1 also for square layers, where the reversed "
    "order gives a result of the same shape",
    exercise="collapse_affine",
    max_examples=15,
)
@given(chain=square_chains())
@example(chain=([A_SQ, B_SQ], [np.array([1.0, 1.0]), np.array([0.0, 0.0])]))
def affine_weight_square(student, chain):
    _check_affine_W(student, *chain)


@suite.prop(
    "collapse_affine_values",
    "b_eff, of shape (n_L,), pushes every bias through the layers after it "
    "(b_eff = W_L(...(W_2 b_1 + b_2)...) + b_L), so W_eff @ x + b_eff equals the layers applied in turn",
    exercise="collapse_affine",
    max_examples=25,
)
@given(chain=CHAINS)
@example(chain=AFFINE_EXAMPLES[0])
@example(chain=AFFINE_EXAMPLES[1])
@example(chain=AFFINE_EXAMPLES[2])
def affine_bias(student, chain):
    _check_affine_b(student, *chain)


@suite.prop(
    "collapse_affine_values",
    "b_eff pushes every bias through the layers after it also for layers of equal widths, where "
    "adding the biases up or keeping only the last one gives a result of the same shape",
    exercise="collapse_affine",
    max_examples=20,
)
@given(chain=square_chains())
@example(chain=([C_SQ, B_SQ], [np.array([1.0, -1.0]), np.array([2.0, 0.5])]))
@example(chain=([C_SQ, A_SQ, B_SQ], [np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 1.0])]))
def affine_bias_square(student, chain):
    _check_affine_b(student, *chain)


@suite.prop(
    "collapse_affine_values",
    "collapse_affine raises ValueError for empty lists and for weights whose shapes do not chain",
    exercise="collapse_affine",
    max_examples=10,
)
@given(weights=st.one_of(st.just([]), broken_chains()))
@example(weights=[])
@example(weights=[W1, W1])
def affine_errors(student, weights):
    biases = [np.zeros(W.shape[0]) for W in weights]
    expect_raises(
        student,
        "ValueError",
        "collapse_affine",
        weights,
        biases,
        inputs={"weights": weights, "biases": biases},
        tags=("no-shape-check",),
    )


@suite.prop(
    "collapse_affine_values",
    "collapse_affine changes neither its lists nor the matrices and vectors in them",
    exercise="collapse_affine",
    max_examples=10,
)
@given(chain=st.one_of(ONE_LAYER, square_chains()))
@example(chain=AFFINE_EXAMPLES[1])
@example(chain=([C_SQ, B_SQ, A_SQ], [np.array([1.0, -1.0]), np.array([2.0, 0.5]), np.array([0.0, 3.0])]))
def affine_not_mutated(student, chain):
    weights, biases = chain
    student.call("collapse_affine", weights, biases, inputs={"weights": weights, "biases": biases})
    expect_unchanged_inputs(student, "collapse_affine", {"weights": weights, "biases": biases})

"""Hidden properties of 01_param_count: count_params."""

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

import nnla_ref as ref
from autograder.judge.properties import Failure, Suite, add_wrong_answer_tags, expect_raises

from ..misconceptions import CATALOGUE

suite = Suite("01_param_count", CATALOGUE)


def small_sizes():
    return st.lists(st.integers(1, 50), min_size=2, max_size=6)


def huge_sizes():
    return st.lists(st.integers(1, 10**6), min_size=2, max_size=5)


def wrong_counts(layer_sizes):
    """The counts the known mistakes give."""
    pairs = list(zip(layer_sizes, layer_sizes[1:]))
    return [
        ("weights-only", lambda: sum(a * b for a, b in pairs)),
        ("biases-per-input", lambda: sum(a * b + a for a, b in pairs)),
        ("skips-last-layer", lambda: sum(a * b + b for a, b in pairs[:-1])),
        ("counts-input-layer-bias", lambda: sum(a * b + b for a, b in pairs) + layer_sizes[0]),
        ("overflow", lambda: _int32_count(layer_sizes)),
    ]


def _int32_count(layer_sizes):
    s = np.asarray(layer_sizes, dtype=np.int32)
    with np.errstate(over="ignore"):
        return int(np.sum(s[:-1] * s[1:] + s[1:], dtype=np.int32))


def _expect_count(student, layer_sizes):
    inputs = {"layer_sizes": layer_sizes}
    got = student.call("count_params", layer_sizes, inputs=inputs)
    try:
        _expect_exact(got, inputs)
    except Failure as failure:
        raise add_wrong_answer_tags(failure, got, wrong_counts(layer_sizes)) from None


def _expect_exact(got, inputs):
    layer_sizes = inputs["layer_sizes"]
    expected = ref.count_params(layer_sizes)
    if isinstance(got, float) or (hasattr(got, "dtype") and got.dtype.kind != "i"):
        raise Failure(
            "count_params should return an exact integer, not a float",
            tags=("overflow",),
            inputs=inputs,
            expected=expected,
            actual=got,
        )
    if not isinstance(got, int) and not (hasattr(got, "dtype") and got.shape == ()):
        raise Failure("count_params should return one integer", inputs=inputs, expected=expected, actual=got)
    if int(got) != expected:
        raise Failure("count_params gives the wrong count", inputs=inputs, expected=expected, actual=got)


@suite.prop(
    "count_params_values",
    "count_params(layer_sizes) is the number of weights plus biases, sum of n_in*n_out + n_out",
)
@given(layer_sizes=small_sizes())
@example(layer_sizes=[784, 256, 128, 10])
@example(layer_sizes=[2, 3])
@example(layer_sizes=[4, 8, 4, 2])
def counts_weights_and_biases(student, layer_sizes):
    _expect_count(student, layer_sizes)


@suite.prop("count_params_values", "count_params is exact for layers of up to 10**6 units (no overflow)")
@given(layer_sizes=huge_sizes())
@example(layer_sizes=[10**6, 10**6, 10**6])
@example(layer_sizes=[50_000, 50_000])
def exact_for_huge_layers(student, layer_sizes):
    _expect_count(student, layer_sizes)


@suite.prop("count_params_errors", "count_params raises ValueError for fewer than two sizes")
@given(layer_sizes=st.lists(st.integers(1, 20), max_size=1))
def too_few_sizes(student, layer_sizes):
    _expect_refused(student, layer_sizes)


def _expect_refused(student, layer_sizes):
    inputs = {"layer_sizes": layer_sizes}
    expect_raises(
        student, "ValueError", "count_params", layer_sizes, inputs=inputs, tags=("accepts-invalid-sizes",)
    )


def invalid_size():
    return st.one_of(st.integers(-5, 0), st.sampled_from([2.5, 0.5, -1.5, True, False, "3", None]))


@suite.prop("count_params_errors", "count_params raises ValueError when a size is not a positive integer")
@given(
    prefix=st.lists(st.integers(1, 9), max_size=2),
    bad=invalid_size(),
    suffix=st.lists(st.integers(1, 9), min_size=1, max_size=2),
)
@example(prefix=[3], bad=0, suffix=[2])
@example(prefix=[3], bad=-2, suffix=[2])
@example(prefix=[3], bad=2.5, suffix=[2])
@example(prefix=[3], bad=True, suffix=[2])
def invalid_sizes(student, prefix, bad, suffix):
    _expect_refused(student, [*prefix, bad, *suffix])

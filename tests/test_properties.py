"""Helpers the hidden suites share, on tiny inputs."""

from types import SimpleNamespace

import numpy as np
import pytest

from autograder.judge.misconceptions import Misconception, diagnose
from autograder.judge.properties import Failure, add_wrong_answer_tags, expect_close, expect_unchanged_inputs


def after_call(*mutated: int):
    """A student's calls whose last one changed the positional arguments `mutated`."""
    return SimpleNamespace(last=SimpleNamespace(mutated=list(mutated)))


def test_a_call_that_changed_nothing_passes():
    expect_unchanged_inputs(after_call(), "f", {"X": 1})


@pytest.mark.parametrize(
    ("mutated", "args", "said"),
    [
        ((1,), None, "f changed its input (W)"),
        ((0, 2), None, "f changed its input (X, b)"),
        ((0,), ("x",), "f changed its input (x)"),
        ((5,), None, "f changed its input"),
    ],
)
def test_a_changed_input_is_named_and_tagged(mutated, args, said):
    with pytest.raises(Failure) as failure:
        expect_unchanged_inputs(after_call(*mutated), "f", {"X": 1, "W": 2, "b": 3}, args=args)
    assert failure.value.message == said and failure.value.tags == ("mutates-input",)


WRONG = [("missing-bias", lambda: np.array([1.0, 2.0])), ("doubled", lambda: np.array([2.0, 4.0]))]


def test_a_value_equal_to_a_known_wrong_answer_is_tagged_with_it():
    with pytest.raises(Failure) as failure:
        expect_close(np.array([1.0, 2.0]), np.array([1.5, 2.5]), inputs={}, wrong_answers=WRONG)
    assert failure.value.tags == ("missing-bias",)


def test_a_wrong_shape_equal_to_a_known_wrong_answer_is_tagged_too():
    with pytest.raises(Failure) as failure:
        row = [("row", lambda: [[1.0, 2.0]])]
        expect_close(np.array([[1.0, 2.0]]), np.zeros(2), inputs={}, wrong_answers=row)
    assert "shape" in failure.value.message and failure.value.tags == ("row",)


def test_a_wrong_answer_that_equals_the_right_one_or_cannot_be_computed_says_nothing():
    failure = Failure("wrong", expected=np.array([1.0, 2.0]), actual=np.array([1.0, 2.0]))
    add_wrong_answer_tags(
        failure, failure.actual, [("same", lambda: np.array([1.0, 2.0])), ("raises", lambda: 1 / 0)]
    )
    assert failure.tags == ()


def test_a_passing_value_is_not_tagged_and_tags_are_not_repeated():
    expect_close(np.array([1.5, 2.5]), np.array([1.5, 2.5]), inputs={}, wrong_answers=WRONG)
    failure = Failure("wrong", expected=np.zeros(2), actual=np.array([1.0, 2.0]), tags=("missing-bias",))
    assert add_wrong_answer_tags(failure, failure.actual, WRONG).tags == ("missing-bias",)


def test_diagnose_gives_the_hint_of_each_tag_the_catalogue_knows():
    catalogue = [Misconception("missing-bias", ("f",), "Add b.")]
    tags, hints = diagnose(catalogue, Failure("wrong", tags=("missing-bias", "unknown")))
    assert tags == ["missing-bias", "unknown"] and hints == [("missing-bias", "Add b.")]

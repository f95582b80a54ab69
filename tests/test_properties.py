"""Helpers the hidden suites share, on tiny inputs."""

from types import SimpleNamespace

import pytest

from autograder.judge.properties import Failure, expect_unchanged_inputs


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

"""Hidden properties of 02_norm."""

from hypothesis import example, given

from autograder.judge.properties import Suite, expect_close
from autograder.judge.strategies import arrays

from .. import reference
from ..misconceptions import CATALOGUE

suite = Suite("02_norm", CATALOGUE)


@suite.prop("norm_values", "norm(v) is the Euclidean length of v")
@given(v=arrays((3,)))
@example(v=reference.np.array([3.0, 4.0, 0.0]))
def length(student, v):
    inputs = {"v": v}
    expect_close(
        student.call("norm", v, inputs=inputs),
        reference.norm(v),
        inputs=inputs,
        wrong_answers=[("forgets-sqrt", lambda: reference.dot(v, v))],
    )

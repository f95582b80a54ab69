"""Hidden properties of 01_dot."""

from hypothesis import given
from hypothesis import strategies as st

from autograder.judge.properties import Suite, expect_close
from autograder.judge.strategies import arrays

from .. import reference
from ..misconceptions import CATALOGUE

suite = Suite("01_dot", CATALOGUE)


@suite.prop("dot_values", "dot(u, v) is the sum of the products of matching entries")
@given(pair=st.integers(1, 5).flatmap(lambda n: st.tuples(arrays((n,)), arrays((n,)))))
def sums_products(student, pair):
    u, v = pair
    inputs = {"u": u, "v": v}
    expect_close(student.call("dot", u, v, inputs=inputs), reference.dot(u, v), inputs=inputs)

"""Hypothesis strategies for the chapter's objects, composed from small named builders
(autograder.judge.strategies: arrays, shapes). Cached like those: a composite strategy calls
them on every draw, and a strategy made anew is validated anew."""

from functools import cache

from hypothesis import strategies as st

from autograder.judge.strategies import MODERATE, arrays


@cache
def widths(max_width: int = 6) -> st.SearchStrategy[int]:
    """A layer width: 1 to `max_width` units."""
    return st.integers(1, max_width)


@cache
def layer_sizes(min_layers: int = 1, max_layers: int = 4, max_width: int = 6):
    """``[n_0, ..., n_L]`` with L between `min_layers` and `max_layers`."""
    return st.lists(widths(max_width), min_size=min_layers + 1, max_size=max_layers + 1)


@st.composite
def layer_chains(
    draw,
    min_layers: int = 1,
    max_layers: int = 4,
    max_width: int = 6,
    elements: st.SearchStrategy[float] = MODERATE,
):
    """``(weights, biases)`` of a dense stack whose shapes chain: W_l is (n_l, n_{l-1})."""
    sizes = draw(layer_sizes(min_layers, max_layers, max_width))
    weights = [draw(arrays((n_out, n_in), elements)) for n_in, n_out in zip(sizes, sizes[1:])]
    biases = [draw(arrays((n_out,), elements)) for n_out in sizes[1:]]
    return weights, biases


@cache
@st.composite
def inputs_for(draw, n_in: int, elements: st.SearchStrategy[float] = MODERATE):
    """An input of width `n_in`: a single vector (n_in,) or a batch (B, n_in), B >= 1."""
    if draw(st.booleans()):
        return draw(arrays((n_in,), elements))
    return draw(arrays((draw(st.integers(1, 5)), n_in), elements))


@st.composite
def affine_problems(draw, elements: st.SearchStrategy[float] = MODERATE):
    """``(X, W, b)`` for one affine layer, X a single vector or a batch."""
    n_in, n_out = draw(widths()), draw(widths())
    W = draw(arrays((n_out, n_in), elements))
    b = draw(arrays((n_out,), elements))
    return draw(inputs_for(n_in, elements)), W, b


TWO_OR_THREE = st.integers(2, 3)


@st.composite
def square_chains(
    draw,
    sides: st.SearchStrategy[int] = TWO_OR_THREE,
    depths: st.SearchStrategy[int] = TWO_OR_THREE,
    elements: st.SearchStrategy[float] = MODERATE,
):
    """``(weights, biases)`` of n x n layers: any product order, and W for W.T, has the right
    shape, so only values tell a right answer from a wrong one."""
    n, depth = draw(sides), draw(depths)
    return [draw(arrays((n, n), elements)) for _ in range(depth)], [
        draw(arrays((n,), elements)) for _ in range(depth)
    ]

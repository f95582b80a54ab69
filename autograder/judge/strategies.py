"""Hypothesis strategies for numeric arrays, the builders assignments compose theirs from.

Values are finite float64 of moderate size unless a strategy says otherwise, so that every
correct formula agrees with a reference within float64 tolerances.

The builders are cached: composite strategies call them on every draw, and a strategy made
anew is validated anew, which cost the judge about a tenth of its time. Strategies are
immutable, so a cached one draws exactly what a fresh one would.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MODERATE = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False, width=64)


@cache
def arrays(shape, elements: st.SearchStrategy[float] = MODERATE) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of a given shape (or shape strategy), every entry drawn on its own.

    Hypothesis would otherwise draw a sparse set of (index, value) pairs and one fill value for
    the rest: about three choices per entry instead of one, which cost the judge 14-18% of its
    CPU time in the grading process.
    """
    return hnp.arrays(np.float64, shape, elements=elements, fill=st.nothing())


@cache
def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 5) -> st.SearchStrategy[tuple]:
    """Any array shape, 0-d and empty sides included."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=max_side)

"""Hidden properties of 06_halfspace_neurons: hidden_activations, active_region, plot_neuron_maps.

active_region is checked on two kinds of input. Small integers and halves (integer or float
dtype), where every sum is exact in float64, so points exactly on the line w . x + b = 0 are
exactly on it whatever order the student sums in; there the answer must match exactly.
Arbitrary floats, where a point within rounding of the line may fall on either side; there
only the points clearly away from the line are compared.

plot_neuron_maps: the worker sends a summary of the figure, per axes its title, whether its
axis is on and it is visible, its cell in the figure's top-level grid of subplots and its
contour sets (filled or not, zmin, zmax). Decisions about what counts as the contract's figure:

- The grid is ceil(n / n_cols) x n_cols, and every axes of the figure must be one cell of it
  (plt.subplots with or without squeeze, fig.add_subplot(n_rows, n_cols, i + 1) per panel, or
  a GridSpec of that shape all qualify, and any figsize or layout engine). A grid of another
  shape fails every property; a second axes in a cell (a colorbar) or an axes outside the grid
  fails the layout property only.
- Neuron i is drawn in cell i in reading order (whatever order the axes were created in; if a
  cell holds several axes, the first one counts), with the title "Hidden neuron {i+1}" and its
  axis on (layout property), and filled contours (contourf) whose zmin and zmax are the min and
  max of H[:, i] (contour property), so a panel showing another neuron's column is noticed
  whenever the columns' ranges differ.
- The cells left over after the last neuron must be turned off (ax.axis("off"), or hidden
  with ax.set_visible(False)) OR not exist at all (removed with fig.delaxes or ax.remove, or
  never created by add_subplot): the contract says "turned off", and removing them is a
  sensible reading that shows the same picture. A leftover cell present with its axis on fails.
"""

import math

import numpy as np
from hypothesis import example, given, seed
from hypothesis import strategies as st

import nnla_ref as ref
from autograder.judge.misconceptions import matches
from autograder.judge.properties import (
    Failure,
    NotAttempted,
    Suite,
    add_wrong_answer_tags,
    as_array,
    expect_close,
    expect_unchanged_inputs,
)
from autograder.judge.strategies import arrays

from ..misconceptions import CATALOGUE

suite = Suite("06_halfspace_neurons", CATALOGUE)


def _relu(z):
    return np.maximum(0, z)


# ---------------------------------------------------------------------------- hidden_activations

# The notebook's example: 4 points, 3 neurons of 2 inputs.
GRID = np.array([[0.0, 0.0], [1.0, 2.0], [-1.0, 1.0], [2.0, -1.0]])
W1_NB = np.array([[1.0, 0.0], [0.0, -1.0], [1.0, 1.0]])
B1_NB = np.array([0.5, 1.0, -1.0])


@st.composite
def layers_on_grids(draw, square: bool = False):
    """``(grid, W1, b1)``: N points of n_in features and n_hidden neurons (n_hidden = n_in if square)."""
    n_in = draw(st.integers(2, 3) if square else st.integers(1, 3))
    n_hidden = n_in if square else draw(st.integers(1, 6))
    N = draw(st.integers(1, 8))
    return draw(arrays((N, n_in))), draw(arrays((n_hidden, n_in))), draw(arrays((n_hidden,)))


def _check_hidden(student, grid, W1, b1):
    inputs = {"grid": grid, "W1": W1, "b1": b1}
    try:
        got = student.call("hidden_activations", grid, W1, b1, inputs=inputs)
    except NotAttempted:
        raise
    except Failure as failure:
        # grid @ W1 does not exist when n_hidden != n_in; if the student's code works on W1.T
        # instead and then gives the right answer, it multiplies by W1 untransposed.
        if W1.shape[0] != W1.shape[1]:
            try:
                probe = student.call("hidden_activations", grid, W1.T, b1)
            except Failure:
                probe = None
            if matches(ref.hidden_activations(grid, W1, b1), probe):
                failure.tags = (*failure.tags, "untransposed-weight")
        raise
    scale = np.abs(grid) @ np.abs(W1).T + np.abs(b1)
    expect_close(
        got,
        ref.hidden_activations(grid, W1, b1),
        inputs=inputs,
        what="hidden_activations(grid, W1, b1)",
        atol=1e-10 * max(1.0, float(np.max(scale, initial=0.0))),
        wrong_answers=[
            ("missing-relu", lambda: grid @ W1.T + b1),
            ("untransposed-weight", lambda: _relu(grid @ W1 + b1)),
            ("missing-bias", lambda: _relu(grid @ W1.T)),
        ],
    )


@suite.prop(
    "hidden_activations_values",
    "hidden_activations(grid, W1, b1) equals relu(grid @ W1.T + b1), of shape (N, n_hidden), "
    "for any number of input features",
    exercise="hidden_activations",
)
@given(layer=layers_on_grids())
@example(layer=(GRID, W1_NB, B1_NB))
@example(layer=(GRID, W1_NB, np.full(3, -100.0)))
@example(
    layer=(np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]]), np.array([[1.0, 1.0, -1.0]]), np.array([0.25]))
)
def hidden_values(student, layer):
    _check_hidden(student, *layer)


@suite.prop(
    "hidden_activations_values",
    "hidden_activations uses W1.T also when n_hidden == n_in, where grid @ W1 has the same shape",
    exercise="hidden_activations",
)
@given(layer=layers_on_grids(square=True))
@example(layer=(GRID, np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([0.5, 1.0])))
def hidden_square(student, layer):
    _check_hidden(student, *layer)


@suite.prop(
    "hidden_activations_values",
    "hidden_activations leaves grid, W1 and b1 unchanged",
    exercise="hidden_activations",
    max_examples=15,
)
@given(layer=layers_on_grids(square=True))
@example(layer=(GRID, np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([0.5, -1.0])))
def hidden_not_mutated(student, layer):
    grid, W1, b1 = layer
    inputs = {"grid": grid, "W1": W1, "b1": b1}
    student.call("hidden_activations", grid, W1, b1, inputs=inputs)
    expect_unchanged_inputs(student, "hidden_activations", inputs)


# ---------------------------------------------------------------------------- active_region

HALVES = st.integers(-8, 8).map(lambda k: k / 2)
AR_GRID = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 2.0], [0.0, -2.0]])
_xx7, _yy7 = np.meshgrid(np.linspace(-3, 3, 7), np.linspace(-3, 3, 7))
GRID7 = np.column_stack([_xx7.ravel(), _yy7.ravel()])


@st.composite
def exact_neurons(draw):
    """``(grid, w, b)`` of small integers and halves, with points exactly on the line.

    Integer dtype or float dtype; b a Python int or float or a numpy scalar. Every product and
    sum is exact in float64, so the side of the line does not depend on the summation order.
    """
    n_in = draw(st.integers(1, 3))
    N = draw(st.integers(1, 10))
    integral = draw(st.booleans())
    entries = st.integers(-4, 4) if integral else HALVES
    grid = np.array(draw(st.lists(st.lists(entries, min_size=n_in, max_size=n_in), min_size=N, max_size=N)))
    w = np.array(draw(st.lists(st.integers(-3, 3), min_size=n_in, max_size=n_in)))
    if not integral:
        grid, w = grid.astype(float), w.astype(float)
    # b puts one of the points on the line (or is drawn freely).
    if draw(st.booleans()):
        b = -(grid[draw(st.integers(0, N - 1))] @ w)
    else:
        b = draw(st.integers(-6, 6))
    b = draw(st.sampled_from([int, float, np.float64]))(b)
    return grid, w, b


@st.composite
def float_neurons(draw):
    """``(grid, w, b)`` of arbitrary moderate floats."""
    n_in = draw(st.integers(1, 4))
    N = draw(st.integers(1, 10))
    return draw(arrays((N, n_in))), draw(arrays((n_in,))), float(draw(arrays(())))


def _active(student, grid, w, b):
    inputs = {"grid": grid, "w": w, "b": b}
    return inputs, student.call("active_region", grid, w, b, inputs=inputs)


def _expect_mask(got, expected, inputs, compare=None):
    """got has shape (N,), holds only True/False (or 0/1), and equals expected where compared."""
    try:
        _check_mask(got, expected, inputs, compare)
    except Failure as failure:
        raise add_wrong_answer_tags(failure, got, wrong_masks(**inputs)) from None


def wrong_masks(grid, w, b):
    """What the known mistakes of active_region give."""
    return [("boundary-inclusive", lambda: grid @ w + b >= 0), ("missing-bias", lambda: grid @ w > 0)]


def _check_mask(got, expected, inputs, compare):
    what = "active_region(grid, w, b)"
    if not isinstance(got, np.ndarray):
        raise Failure(
            f"{what} should be a numpy array of True/False, got a {type(got).__name__}",
            inputs=inputs,
            expected=expected,
            actual=got,
        )
    arr = as_array(got, what, inputs, expected)
    if arr.shape != expected.shape:
        raise Failure(
            f"{what} has shape {arr.shape}, expected {expected.shape}",
            inputs=inputs,
            expected=expected,
            actual=got,
        )
    if arr.dtype != bool and not np.all((arr == 0) | (arr == 1)):
        raise Failure(
            f"{what} should hold True/False values, one per point",
            inputs=inputs,
            expected=expected,
            actual=got,
        )
    where = np.ones(expected.shape, bool) if compare is None else compare
    wrong = int(np.sum(arr.astype(bool)[where] != expected[where]))
    if wrong:
        raise Failure(
            f"{what} is wrong for {wrong} of {expected.size} points",
            inputs=inputs,
            expected=expected,
            actual=got,
        )


@suite.prop(
    "active_region_values",
    "active_region(grid, w, b) is True exactly where grid @ w + b > 0, strictly: points on the "
    "line w . x + b = 0 are not active",
    exercise="active_region",
)
@given(neuron=exact_neurons())
@example(neuron=(np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]), np.array([1.0, 0.0]), 0.0))
@example(neuron=(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]), np.array([1.0, -1.0]), -2.0))
@example(neuron=(GRID7, np.array([1.0, 0.0]), 0.0))
@example(neuron=(GRID7, np.array([2, 1]), -1))
@example(neuron=(AR_GRID, np.array([1.0, -1.0]), -1.0))
@example(neuron=(np.array([[1, 2], [2, 0], [0, 0], [3, -1]]), np.array([2, -1]), 0))
def active_exact(student, neuron):
    inputs, got = _active(student, *neuron)
    _expect_mask(got, ref.active_region(*neuron), inputs)


@suite.prop(
    "active_region_values",
    "active_region(grid, w, b) is True where grid @ w + b > 0 and False where it is < 0, for "
    "any number of input features",
    exercise="active_region",
)
@given(neuron=float_neurons())
@example(neuron=(np.array([[0.0, 0.1], [1.0, 0.5], [-2.0, 0.25]]), np.array([0.3, -1.7]), 0.25))
def active_floats(student, neuron):
    grid, w, b = neuron
    inputs, got = _active(student, grid, w, b)
    z = grid @ w + b
    clear = np.abs(z) > 1e-9 * (np.abs(grid) @ np.abs(w) + abs(b) + 1e-300)
    _expect_mask(got, z > 0, inputs, compare=clear)


@suite.prop(
    "active_region_values",
    "active_region returns a numpy array of dtype bool and shape (N,)",
    exercise="active_region",
    max_examples=15,
)
@given(neuron=exact_neurons())
@example(neuron=(AR_GRID, np.array([1.0, -1.0]), -1.0))
@example(neuron=(np.array([[0.5, 2.0]]), np.array([2.0, 1.0]), 0.0))
def active_dtype(student, neuron):
    inputs, got = _active(student, *neuron)
    expected = ref.active_region(*neuron)
    if not isinstance(got, np.ndarray) or got.dtype != bool or got.shape != expected.shape:
        kind = (
            f"an array of dtype {got.dtype} and shape {got.shape}"
            if isinstance(got, np.ndarray)
            else f"a {type(got).__name__}"
        )
        raise Failure(
            f"active_region should return a boolean numpy array of shape {expected.shape}, got {kind}",
            inputs=inputs,
            expected=expected,
            actual=got,
        )


@suite.prop(
    "active_region_values",
    "active_region leaves grid and w unchanged",
    exercise="active_region",
    max_examples=15,
)
@given(neuron=st.one_of(exact_neurons(), float_neurons()))
def active_not_mutated(student, neuron):
    inputs, _ = _active(student, *neuron)
    expect_unchanged_inputs(student, "active_region", inputs)


# ---------------------------------------------------------------------------- plot_neuron_maps

QUARTERS = st.integers(-8, 8).map(lambda k: k / 4)


def _maps_input(ny, nx, W, b):
    xx, yy = np.meshgrid(np.linspace(-3, 3, nx), np.linspace(-3, 3, ny))
    H = _relu(np.column_stack([xx.ravel(), yy.ravel()]) @ np.asarray(W, float).T + np.asarray(b, float))
    return xx, yy, H


@st.composite
def neuron_maps(draw, n_cols: bool = True):
    """``(xx, yy, H, n_cols)``: a small meshgrid and the ReLU activations of a few neurons on it."""
    ny, nx = draw(st.integers(2, 5)), draw(st.integers(2, 5))
    n = draw(st.integers(1, 7))
    W = draw(arrays((n, 2), QUARTERS))
    b = draw(arrays((n,), QUARTERS))
    return (*_maps_input(ny, nx, W, b), draw(st.integers(1, 4)) if n_cols else 3)


NB_W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 2.0], [0.5, -1.0]])
NB_B = np.array([0.0, 0.5, -1.0, 0.0, 1.0])
XX, YY, H5 = _maps_input(4, 5, NB_W, NB_B)  # xx.shape == (4, 5); the 5 columns have distinct maxima
H6_DEAD = np.column_stack([H5, np.zeros(len(H5))])
H7 = _maps_input(4, 5, np.vstack([NB_W, [[2.0, 0.0], [0.0, -2.0]]]), np.append(NB_B, [1.5, 0.25]))[2]


# A figure costs the worker about 50 ms of matplotlib, most of the judge's time for this
# notebook. The layout and contour properties look at the same figures: the same seed draws
# them the same inputs, and a shared call draws each figure once.
MAPS_SEED = 177


def _figure(student, xx, yy, H, n_cols):
    """The summary of the student's figure; n_cols=None calls without it (the default)."""
    inputs = {"xx": xx, "yy": yy, "H": H, "n_cols": 3 if n_cols is None else n_cols}
    kwargs = {} if n_cols is None else {"n_cols": n_cols}
    got = student.call("plot_neuron_maps", xx, yy, H, shared=True, inputs=inputs, **kwargs)
    if not (isinstance(got, dict) and "__figure__" in got):
        raise Failure(
            "plot_neuron_maps should return the matplotlib Figure it drew on",
            inputs=inputs,
            expected="a Figure",
            actual=got,
            tags=("figure-structure",),
        )
    return inputs, got["__figure__"].get("axes", [])


def _count(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


def _structure_failure(message, inputs):
    return Failure(message, inputs=inputs, tags=("figure-structure",), show_values=False)


def _cells(axes, n, n_cols, inputs):
    """The axes of each neuron, by its cell (0-based, reading order) of the ceil(n / n_cols) x
    n_cols grid: the first axes placed in that cell. Fails when an axes sits in a grid of
    another shape or spans cells, or a neuron's cell is empty."""
    n_rows = math.ceil(n / n_cols)
    cells = {}
    for ax in axes:
        if not ax.get("grid"):
            continue  # not a subplot (an inset or free axes): only the strict check looks at it
        rows, cols, first, last = ax["grid"]
        if (rows, cols) != (n_rows, n_cols) or first != last:
            raise _structure_failure(
                f"{_count(n, 'neuron')} with n_cols={n_cols} need a grid of ceil({n}/{n_cols}) = "
                f"{_count(n_rows, 'row')} and {_count(n_cols, 'column')}, but the figure has an axes in a "
                f"grid of {rows} x {cols}" + ("" if first == last else " spanning several cells"),
                inputs,
            )
        cells.setdefault(first, ax)
    for k in range(n):
        if k not in cells:
            raise _structure_failure(
                f"the figure has no axes for neuron {k + 1} (cell {k + 1} of the {n_rows} x {n_cols} grid, "
                "in reading order)",
                inputs,
            )
    return cells


def _shown(ax) -> bool:
    return bool(ax.get("on")) and bool(ax.get("visible", True))


def _check_layout(axes, n, n_cols, inputs):
    """Exactly the grid's axes: one per cell, the neurons' shown, the others off or absent."""
    n_rows = math.ceil(n / n_cols)
    cells = _cells(axes, n, n_cols, inputs)
    loose = [ax for ax in axes if not ax.get("grid")]
    if loose or len(axes) != len({tuple(ax["grid"]) for ax in axes if ax.get("grid")}):
        raise _structure_failure(
            f"the figure has {len(axes)} axes, more than one per cell of the {n_rows} x {n_cols} grid: "
            "add no colorbars or other axes",
            inputs,
        )
    off = [k + 1 for k in range(n) if not _shown(cells[k])]
    if off:
        raise _structure_failure(
            f"the axes of neuron {', '.join(map(str, off))} {'is' if len(off) == 1 else 'are'} turned off; "
            "only the axes left over after the last neuron should be",
            inputs,
        )
    shown = [k + 1 for k in sorted(cells) if k >= n and _shown(cells[k])]
    if shown:
        raise _structure_failure(
            f"{_count(n, 'neuron')} in a {n_rows} x {n_cols} grid leave {n_rows * n_cols - n} axes over, "
            "which must be turned off with ax.axis('off'); still on (in reading order): axes "
            f"{', '.join(map(str, shown))}",
            inputs,
        )
    return cells


def _check_titles(cells, n, inputs):
    expected = [f"Hidden neuron {k + 1}" for k in range(n)]
    got = [cells[k].get("title", "") for k in range(n)]
    if got != expected:
        raise Failure(
            "the neurons' axes, in reading order, should be titled 'Hidden neuron 1', 'Hidden neuron 2', ...",
            inputs=inputs,
            expected=expected,
            actual=got,
            tags=("figure-structure",),
        )


def _check_contours(cells, H, inputs):
    lo, hi = H.min(axis=0), H.max(axis=0)

    def same(a, b):
        return bool(np.isclose(a, b, rtol=1e-9, atol=1e-12))

    for k in range(H.shape[1]):
        filled = [c for c in cells[k].get("contours", []) if c.get("filled")]
        if not filled:
            raise _structure_failure(
                f"the axes of neuron {k + 1} has no filled contour plot: draw it with "
                f"ax.contourf(xx, yy, H[:, {k}].reshape(xx.shape))",
                inputs,
            )
        for c in filled:
            zmin, zmax = c.get("zmin"), c.get("zmax")
            if not (same(zmin, lo[k]) and same(zmax, hi[k])):
                others = [
                    j + 1 for j in range(H.shape[1]) if j != k and same(zmin, lo[j]) and same(zmax, hi[j])
                ]
                guess = f" (it looks like neuron {others[0]}'s)" if others else ""
                raise Failure(
                    f"the contourf of neuron {k + 1} shows data from {zmin:g} to {zmax:g}{guess}, but "
                    f"column {k} of H ranges from {lo[k]:g} to {hi[k]:g}: axes i shows H[:, i]",
                    inputs=inputs,
                    expected=(float(lo[k]), float(hi[k])),
                    actual=(zmin, zmax),
                    tags=("figure-structure",),
                )


@suite.prop(
    "plot_neuron_maps_structure",
    "plot_neuron_maps returns a Figure whose axes are a ceil(n / n_cols) x n_cols grid: one axes "
    "per neuron titled 'Hidden neuron {i+1}' in reading order, the axes left over turned off",
    exercise="plot_neuron_maps",
    max_examples=3,
)
@given(maps=neuron_maps())
@seed(MAPS_SEED)
@example(maps=(XX, YY, H5, 3))
@example(maps=(XX, YY, H5[:, :4], 2))
@example(maps=(XX, YY, H5[:, :1], 3))
@example(maps=(XX, YY, H6_DEAD, 4))
@example(maps=(XX, YY, H7, 3))
def maps_structure(student, maps):
    xx, yy, H, n_cols = maps
    inputs, axes = _figure(student, xx, yy, H, n_cols)
    cells = _check_layout(axes, H.shape[1], n_cols, inputs)
    _check_titles(cells, H.shape[1], inputs)


@suite.prop(
    "plot_neuron_maps_structure",
    "the axes of neuron i holds a contourf of H[:, i] reshaped to xx.shape (its range is that column's)",
    exercise="plot_neuron_maps",
    max_examples=3,
)
@given(maps=neuron_maps())
@seed(MAPS_SEED)
@example(maps=(XX, YY, H5, 3))
@example(maps=(XX, YY, H7, 3))
def maps_contours(student, maps):
    xx, yy, H, n_cols = maps
    inputs, axes = _figure(student, xx, yy, H, n_cols)
    _check_contours(_cells(axes, H.shape[1], n_cols, inputs), H, inputs)


@suite.prop(
    "plot_neuron_maps_structure",
    "without n_cols, plot_neuron_maps uses 3 columns; it leaves xx, yy and H unchanged",
    exercise="plot_neuron_maps",
    max_examples=1,
)
@given(maps=neuron_maps(n_cols=False))
@example(maps=(XX, YY, H5, 3))
@example(maps=(XX, YY, H7, 3))
def maps_default_columns(student, maps):
    xx, yy, H, _ = maps
    inputs, axes = _figure(student, xx, yy, H, None)
    expect_unchanged_inputs(student, "plot_neuron_maps", inputs, args=("xx", "yy", "H"))
    _cells(axes, H.shape[1], 3, inputs)

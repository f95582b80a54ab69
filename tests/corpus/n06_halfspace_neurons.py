"""06_halfspace_neurons: hidden_activations, active_region and plot_neuron_maps."""

from tests.corpus import Bug

# A correct figure, to build bugs that change one thing about it.
_MAPS = """
def plot_neuron_maps(xx, yy, H, n_cols=3):
    n = H.shape[1]
    n_rows = -(-n // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, squeeze=False)
    flat = axes.ravel()
    for i in range(n):
        cs = flat[i].contourf(xx, yy, H[:, i].reshape(xx.shape))
        flat[i].set_title(f"Hidden neuron {i + 1}")
    for ax in flat[n:]:
        ax.axis("off")
    return fig
"""


def _maps(old: str, new: str) -> dict[str, str]:
    assert old in _MAPS, old
    return {"plot_neuron_maps_solution": _MAPS.replace(old, new)}


CORRECT = {
    "einsum_and_add_subplot": {
        "hidden_activations_solution": """
def hidden_activations(grid, W1, b1):
    return np.maximum(np.einsum("ni,hi->nh", np.asarray(grid, dtype=float), W1) + b1, 0.0)
""",
        "active_region_solution": """
def active_region(grid, w, b):
    return np.einsum("ni,i->n", np.asarray(grid, dtype=float), np.asarray(w, dtype=float)) + b > 0
""",
        "plot_neuron_maps_solution": """
def plot_neuron_maps(xx, yy, H, n_cols=3):
    # One add_subplot per neuron: the cells left over are never created.
    n = np.shape(H)[1]
    n_rows = int(np.ceil(n / n_cols))
    fig = plt.figure(figsize=(3 * n_cols, 3 * n_rows))
    for i in range(n):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        ax.contourf(xx, yy, np.reshape(H[:, i], np.shape(xx)), levels=10, cmap="magma")
        ax.set_title("Hidden neuron %d" % (i + 1))
    return fig
""",
    },
    "column_loops_and_delaxes": {
        "hidden_activations_solution": """
def hidden_activations(grid, W1, b1):
    grid = np.asarray(grid, dtype=float)
    H = np.empty((grid.shape[0], len(W1)))
    for i, (w, b) in enumerate(zip(W1, b1)):      # one neuron per column
        z = grid @ np.asarray(w, dtype=float) + b
        H[:, i] = np.where(z > 0, z, 0.0)
    return H
""",
        "active_region_solution": """
def active_region(grid, w, b):
    return np.array([float(np.dot(p, w)) + b > 0 for p in np.asarray(grid)], dtype=bool)
""",
        "plot_neuron_maps_solution": """
def plot_neuron_maps(xx, yy, H, n_cols=3):
    import math

    n = H.shape[1]
    fig, axes = plt.subplots(math.ceil(n / n_cols), n_cols)   # squeeze: Axes, 1-D or 2-D
    axes = np.atleast_1d(axes).ravel()
    for i, ax in enumerate(axes):
        if i >= n:
            fig.delaxes(ax)
            continue
        ax.contourf(xx, yy, H[:, i].reshape(xx.shape))
        ax.set_title(f"Hidden neuron {i + 1}")
        ax.set_aspect("equal")
    return fig
""",
    },
    "figure_gridspec_reverse_order": {
        "hidden_activations_solution": """
def hidden_activations(grid, W1, b1):
    Z = (np.asarray(W1, dtype=float) @ np.asarray(grid, dtype=float).T).T + b1
    return Z * (Z > 0)
""",
        "active_region_solution": """
def active_region(grid, w, b):
    return np.sign(relu(np.asarray(grid) @ np.asarray(w) + b)) == 1
""",
        "plot_neuron_maps_solution": """
def plot_neuron_maps(xx, yy, H, n_cols=3):
    from matplotlib.figure import Figure

    n = H.shape[1]
    n_rows = (n + n_cols - 1) // n_cols
    fig = Figure(figsize=(4 * n_cols, 3 * n_rows))
    gs = fig.add_gridspec(n_rows, n_cols)
    for k in reversed(range(n_rows * n_cols)):        # created last-first
        ax = fig.add_subplot(gs[k // n_cols, k % n_cols])
        if k >= n:
            ax.set_visible(False)
            continue
        ax.contourf(xx, yy, H[:, k].reshape(xx.shape), cmap="viridis")
        ax.set_title(f"Hidden neuron {k + 1}")
    return fig
""",
    },
}

BUGGY = {
    "hidden_missing_relu": Bug(
        {
            "hidden_activations_solution": (
                "def hidden_activations(grid, W1, b1):\n    return grid @ W1.T + b1\n"
            )
        },
        "hidden_activations_values",
        "missing-relu",
    ),
    "hidden_untransposed": Bug(
        {
            "hidden_activations_solution": (
                "def hidden_activations(grid, W1, b1):\n    return np.maximum(0, grid @ W1 + b1)\n"
            )
        },
        "hidden_activations_values",
        "untransposed-weight",
    ),
    "hidden_missing_bias": Bug(
        {
            "hidden_activations_solution": (
                "def hidden_activations(grid, W1, b1):\n    return relu(grid @ W1.T)\n"
            )
        },
        "hidden_activations_values",
        "missing-bias",
    ),
    "region_boundary_inclusive": Bug(
        {"active_region_solution": "def active_region(grid, w, b):\n    return grid @ w + b >= 0\n"},
        "active_region_values",
        "boundary-inclusive",
    ),
    "region_missing_bias": Bug(
        {"active_region_solution": "def active_region(grid, w, b):\n    return grid @ w > 0\n"},
        "active_region_values",
        "missing-bias",
    ),
    "maps_with_colorbars": Bug(
        _maps(
            '        flat[i].set_title(f"Hidden neuron {i + 1}")\n',
            '        flat[i].set_title(f"Hidden neuron {i + 1}")\n        fig.colorbar(cs, ax=flat[i])\n',
        ),
        "plot_neuron_maps_structure",
        "figure-structure",
    ),
    "maps_leftovers_left_on": Bug(
        _maps('        ax.axis("off")\n', "        pass\n"), "plot_neuron_maps_structure", "figure-structure"
    ),
    "maps_titles_from_zero": Bug(
        _maps('f"Hidden neuron {i + 1}"', 'f"Hidden neuron {i}"'),
        "plot_neuron_maps_structure",
        "figure-structure",
    ),
    "maps_extra_row": Bug(
        _maps("n_rows = -(-n // n_cols)", "n_rows = n // n_cols + 1"),
        "plot_neuron_maps_structure",
        "figure-structure",
    ),
    "maps_line_contours": Bug(
        _maps("flat[i].contourf(", "flat[i].contour("), "plot_neuron_maps_structure", "figure-structure"
    ),
    "maps_imshow": Bug(
        _maps(
            "cs = flat[i].contourf(xx, yy, H[:, i].reshape(xx.shape))",
            'cs = flat[i].imshow(H[:, i].reshape(xx.shape), origin="lower")',
        ),
        "plot_neuron_maps_structure",
        "figure-structure",
    ),
    "maps_same_neuron_everywhere": Bug(
        _maps("H[:, i].reshape", "H[:, 0].reshape"), "plot_neuron_maps_structure", "figure-structure"
    ),
    "maps_returns_axes": Bug(
        _maps("    return fig\n", "    return axes\n"), "plot_neuron_maps_structure", "figure-structure"
    ),
}

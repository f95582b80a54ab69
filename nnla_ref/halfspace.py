"""Each ReLU neuron of a 2-D input layer is a half-space detector."""

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import NDArray

from nnla_ref.activations import relu


def hidden_activations(grid: NDArray, W1: NDArray, b1: NDArray) -> NDArray:
    """ReLU activations of every hidden neuron at every grid point.

    Parameters
    ----------
    grid : ndarray, shape (N, n_in)
    W1 : ndarray, shape (n_hidden, n_in)
    b1 : ndarray, shape (n_hidden,)

    Returns
    -------
    ndarray, shape (N, n_hidden)
    """
    return relu(grid @ W1.T + b1)


def active_region(grid: NDArray, w: NDArray, b: float) -> NDArray[np.bool_]:
    """Where one neuron ``relu(w . x + b)`` is active: ``grid @ w + b > 0`` (strictly).

    Parameters
    ----------
    grid : ndarray, shape (N, n_in)
    w : ndarray, shape (n_in,)
    b : float

    Returns
    -------
    ndarray of bool, shape (N,)
    """
    return grid @ w + b > 0


def plot_neuron_maps(xx: NDArray, yy: NDArray, H: NDArray, n_cols: int = 3) -> Figure:
    """One filled-contour map per hidden neuron, in a grid of ``n_cols`` columns.

    Parameters
    ----------
    xx, yy : ndarray, shape (ny, nx), from ``np.meshgrid``
    H : ndarray, shape (ny * nx, n_hidden), column ``i`` is neuron ``i`` over the grid
    n_cols : int

    Returns
    -------
    Figure with one axes per neuron titled ``Hidden neuron {i+1}``; axes left over are off.
    """
    n_hidden = H.shape[1]
    n_rows = math.ceil(n_hidden / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4 * n_cols, 3.5 * n_rows), squeeze=False)
    axes = axes.ravel()
    for i in range(n_hidden):
        axes[i].contourf(xx, yy, H[:, i].reshape(xx.shape), levels=20, cmap="viridis")
        axes[i].set_title(f"Hidden neuron {i + 1}")
    for ax in axes[n_hidden:]:
        ax.axis("off")
    return fig

"""Stacks of identical-activation layers and summaries of their outputs (ReLU vs tanh)."""

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from nnla_ref.activations import relu, tanh


def forward_stack(
    X: NDArray,
    weights: Sequence[NDArray],
    biases: Sequence[NDArray],
    activation: Callable[[NDArray], NDArray],
) -> NDArray:
    """Apply ``H = activation(H @ W.T + b)`` for every layer, the last one included.

    Parameters
    ----------
    X : ndarray, shape (B, n_0) or (n_0,)
    weights : sequence of ndarray, ``W_l`` of shape (n_l, n_{l-1})
    biases : sequence of ndarray, ``b_l`` of shape (n_l,)
    activation : callable, elementwise

    Returns
    -------
    ndarray, shape (B, n_L) or (n_L,)
    """
    H = X
    for W, b in zip(weights, biases):
        H = activation(H @ W.T + b)
    return H


def summarize(H: NDArray) -> dict[str, float]:
    """Mean, population standard deviation and fraction of strictly positive entries.

    Parameters
    ----------
    H : ndarray, any non-empty shape

    Returns
    -------
    dict with float values under ``'mean'``, ``'std'`` (ddof=0) and ``'frac_positive'``
    """
    H = np.asarray(H, dtype=float)
    return {
        "mean": float(H.mean()),
        "std": float(H.std()),
        "frac_positive": float((H > 0).mean()),
    }


def compare_relu_tanh(
    X: NDArray, weights: Sequence[NDArray], biases: Sequence[NDArray]
) -> dict[str, dict[str, float]]:
    """Summaries of the same stack run with ReLU and with tanh.

    Returns
    -------
    dict ``{'relu': summarize(...), 'tanh': summarize(...)}``
    """
    return {
        "relu": summarize(forward_stack(X, weights, biases, relu)),
        "tanh": summarize(forward_stack(X, weights, biases, tanh)),
    }

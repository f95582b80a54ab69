"""Stacked linear (and affine) layers collapse into one."""

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


def collapse_linear(weights: Sequence[NDArray]) -> NDArray:
    """The single matrix ``W_L @ ... @ W_1`` equal to applying the layers in turn.

    Parameters
    ----------
    weights : sequence of ndarray, ``W_l`` of shape (n_l, n_{l-1}), applied first to last

    Returns
    -------
    ndarray, shape (n_L, n_0)

    Raises
    ------
    ValueError
        Empty list, or consecutive shapes that do not chain.
    """
    if len(weights) == 0:
        raise ValueError("need at least one weight matrix")
    if any(np.ndim(W) != 2 for W in weights):
        raise ValueError("every weight matrix must be 2-D")
    W_eff = np.array(weights[0], dtype=float)
    for W in weights[1:]:
        if W.shape[1] != W_eff.shape[0]:
            raise ValueError(f"shapes do not chain: {W.shape} after {W_eff.shape}")
        W_eff = W @ W_eff
    return W_eff


def collapse_affine(weights: Sequence[NDArray], biases: Sequence[NDArray]) -> tuple[NDArray, NDArray]:
    """``(W_eff, b_eff)`` with ``W_eff @ x + b_eff`` equal to the affine layers applied in turn.

    Parameters
    ----------
    weights : sequence of ndarray, ``W_l`` of shape (n_l, n_{l-1})
    biases : sequence of ndarray, ``b_l`` of shape (n_l,)

    Returns
    -------
    W_eff : ndarray, shape (n_L, n_0)
    b_eff : ndarray, shape (n_L,)
    """
    if len(biases) != len(weights):
        raise ValueError(f"{len(weights)} weight matrices but {len(biases)} biases")
    W_eff = collapse_linear(weights)
    b_eff = np.asarray(biases[0], dtype=float)
    for W, b in zip(weights[1:], biases[1:]):
        b_eff = W @ b_eff + b
    return W_eff, b_eff

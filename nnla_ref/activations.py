"""Elementwise activations: ReLU, a stable sigmoid and a stable tanh."""

import numpy as np
from numpy.typing import ArrayLike, NDArray


def relu(z: ArrayLike) -> NDArray[np.float64]:
    """Rectified linear unit, ``max(0, z)`` elementwise.

    Parameters
    ----------
    z : array_like, any shape

    Returns
    -------
    ndarray, same shape as ``z``
    """
    return np.maximum(0, z)


def sigmoid(z: ArrayLike) -> NDArray[np.float64]:
    """Logistic sigmoid ``1 / (1 + exp(-z))``, computed without overflow.

    Only ``exp(-|z|)`` is ever evaluated, which lies in (0, 1], so no input
    overflows or warns.

    Parameters
    ----------
    z : array_like, any shape

    Returns
    -------
    ndarray of float, same shape as ``z``, values in [0, 1]
    """
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def tanh(z: ArrayLike) -> NDArray[np.float64]:
    """Hyperbolic tangent from exponentials, without ``np.tanh`` and without overflow.

    With ``v = expm1(-|z|)`` in (-1, 0], ``exp(-2|z|) = (1 + v)**2``, so
    ``tanh(z) = sign(z) * -v (2 + v) / (1 + (1 + v)**2)``: nothing overflows, and ``expm1``
    keeps full relative precision for tiny ``z`` where ``1 - exp(-2|z|)`` would cancel.

    Parameters
    ----------
    z : array_like, any shape (0-d and empty included)

    Returns
    -------
    ndarray of float, same shape as ``z``, values in [-1, 1]
    """
    z = np.asarray(z, dtype=float)
    v = np.expm1(-np.abs(z))
    return np.sign(z) * (-v * (2.0 + v)) / (1.0 + (1.0 + v) ** 2)

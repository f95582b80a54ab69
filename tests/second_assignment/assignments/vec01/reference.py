"""The reference of vec01."""

import numpy as np


def dot(u, v):
    """u . v, for vectors of shape (n,)."""
    return float(np.sum(np.asarray(u, dtype=float) * np.asarray(v, dtype=float)))


def norm(v):
    """The Euclidean length of v, shape (n,)."""
    return float(np.sqrt(dot(v, v)))

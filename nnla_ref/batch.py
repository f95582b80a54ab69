"""One affine layer in row form and in column form."""

import numpy as np
from numpy.typing import NDArray


def affine_rows(X: NDArray, W: NDArray, b: NDArray) -> NDArray[np.float64]:
    """Affine map with inputs as rows: ``X @ W.T + b``.

    Parameters
    ----------
    X : ndarray, shape (n_in,) or (B, n_in)
    W : ndarray, shape (n_out, n_in)
    b : ndarray, shape (n_out,)

    Returns
    -------
    ndarray, shape (n_out,) or (B, n_out)
    """
    return X @ W.T + b


def affine_cols(X: NDArray, W: NDArray, b: NDArray) -> NDArray[np.float64]:
    """The same affine map with inputs as columns: ``(W @ X.T).T + b``.

    Parameters
    ----------
    X : ndarray, shape (n_in,) or (B, n_in)
    W : ndarray, shape (n_out, n_in)
    b : ndarray, shape (n_out,)

    Returns
    -------
    ndarray, shape (n_out,) or (B, n_out)
    """
    return (W @ X.T).T + b

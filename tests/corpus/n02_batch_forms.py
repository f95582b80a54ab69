"""02_batch_forms: affine_rows and affine_cols."""

from tests.corpus import Bug

CORRECT = {
    "einsum": {
        "affine_rows_solution": """
def affine_rows(X, W, b):
    return np.einsum("...i,oi->...o", np.asarray(X, dtype=float), W) + b
""",
        "affine_cols_solution": """
def affine_cols(X, W, b):
    XT = np.asarray(X, dtype=float).T          # (n_in, B), or (n_in,) for one vector
    return np.einsum("oi,i...->...o", W, XT) + b
""",
    },
    "tensordot_and_transpose_calls": {
        "affine_rows_solution": """
def affine_rows(X, W, b):
    return np.tensordot(X, W, axes=([-1], [1])) + np.asarray(b)
""",
        "affine_cols_solution": """
def affine_cols(X, W, b):
    return np.transpose(np.dot(W, np.transpose(X))) + b
""",
    },
    "python_loops": {
        "affine_rows_solution": """
def affine_rows(X, W, b):
    X = np.asarray(X, dtype=float)
    single = X.ndim == 1
    rows = X.reshape(1, -1) if single else X
    n_out, n_in = np.shape(W)
    out = np.zeros((rows.shape[0], n_out))
    for i in range(rows.shape[0]):
        for o in range(n_out):
            total = b[o]
            for k in range(n_in):
                total = total + W[o][k] * rows[i][k]
            out[i, o] = total
    return out[0] if single else out
""",
        "affine_cols_solution": """
def affine_cols(X, W, b):
    X = np.asarray(X, dtype=float)
    cols = X.reshape(-1, 1) if X.ndim == 1 else X.T     # one input per column
    Z = np.empty((W.shape[0], cols.shape[1]))
    for j in range(cols.shape[1]):
        Z[:, j] = W @ cols[:, j]
    out = Z.T + b
    return out[0] if X.ndim == 1 else out
""",
    },
    "matvec_broadcast": {
        "affine_rows_solution": """
def affine_rows(X, W, b):
    X = np.asarray(X, dtype=float)
    return (W @ X[..., None])[..., 0] + b      # W @ x for every row x
""",
        "affine_cols_solution": """
def affine_cols(X, W, b):
    X = np.asarray(X, dtype=float)
    Z = (W @ np.atleast_2d(X).T).T + b
    return Z.reshape(X.shape[:-1] + (W.shape[0],))
""",
    },
}

BUGGY = {
    "rows_untransposed": Bug(
        {"affine_rows_solution": "def affine_rows(X, W, b):\n    return X @ W + b\n"},
        "affine_rows_values",
        "untransposed-weight",
    ),
    "rows_missing_bias": Bug(
        {"affine_rows_solution": "def affine_rows(X, W, b):\n    return X @ W.T\n"},
        "affine_rows_values",
        "missing-bias",
    ),
    "rows_bias_as_column": Bug(
        {"affine_rows_solution": "def affine_rows(X, W, b):\n    return X @ W.T + b.reshape(-1, 1)\n"},
        "affine_rows_values",
        "bias-broadcast-wrong",
    ),
    "rows_always_2d": Bug(
        {"affine_rows_solution": "def affine_rows(X, W, b):\n    return np.atleast_2d(X) @ W.T + b\n"},
        "affine_rows_values",
        "single-vector-shape",
    ),
    "rows_accumulates_into_b": Bug(
        {
            "affine_rows_solution": """
def affine_rows(X, W, b):
    if np.ndim(X) == 1:
        b += W @ X          # reuses b as the output buffer
        return b
    return X @ W.T + b
"""
        },
        "affine_rows_values",
        "mutates-input",
    ),
    "cols_not_transposed_back": Bug(
        {"affine_cols_solution": "def affine_cols(X, W, b):\n    return W @ X.T + b\n"},
        "affine_cols_values",
        "cols-not-transposed-back",
    ),
    "cols_bias_before_transpose": Bug(
        {"affine_cols_solution": "def affine_cols(X, W, b):\n    return (W @ X.T + b).T\n"},
        "affine_cols_values",
        "bias-broadcast-wrong",
    ),
    "cols_missing_bias": Bug(
        {"affine_cols_solution": "def affine_cols(X, W, b):\n    return (W @ X.T).T\n"},
        "affine_cols_values",
        "missing-bias",
    ),
    "cols_untransposed": Bug(
        {"affine_cols_solution": "def affine_cols(X, W, b):\n    return (W.T @ X.T).T + b\n"},
        "affine_cols_values",
        "untransposed-weight",
    ),
    "cols_always_2d": Bug(
        {"affine_cols_solution": "def affine_cols(X, W, b):\n    return (W @ np.atleast_2d(X).T).T + b\n"},
        "affine_cols_values",
        "single-vector-shape",
    ),
}

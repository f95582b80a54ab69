"""05_linear_collapse: collapse_linear and collapse_affine."""

from tests.corpus import Bug

# Shape checks shared by the self-contained bodies below.
_CHECKED = """
    mats = [np.asarray(W, dtype=float) for W in weights]
    if not mats:
        raise ValueError("no layers")
    for prev, W in zip(mats, mats[1:]):
        if W.shape[1] != prev.shape[0]:
            raise ValueError(f"{W.shape} does not follow {prev.shape}")
"""

# A correct collapse_affine that does not call collapse_linear: a bug in collapse_linear then
# costs points in collapse_linear's cell only.
_OWN_AFFINE = f"""
def collapse_affine(weights, biases):{_CHECKED}
    W_eff = mats[0].copy()
    b_eff = np.asarray(biases[0], dtype=float).copy()
    for W, b in zip(mats[1:], biases[1:]):
        W_eff = W @ W_eff
        b_eff = W @ b_eff + b
    return W_eff, b_eff
"""


def _linear(code: str) -> dict[str, str]:
    return {"collapse_linear_solution": code, "collapse_affine_solution": _OWN_AFFINE}


def _affine(body: str) -> dict[str, str]:
    return {"collapse_affine_solution": f"def collapse_affine(weights, biases):{_CHECKED}{body}"}


CORRECT = {
    "reduce_and_homogeneous": {
        "collapse_linear_solution": """
def collapse_linear(weights):
    from functools import reduce

    mats = [np.asarray(W, dtype=float) for W in weights]
    if len(mats) == 0:
        raise ValueError("empty list of weights")

    def then(acc, W):
        if W.shape[1] != acc.shape[0]:
            raise ValueError(f"cannot apply {W.shape} after a layer with {acc.shape[0]} outputs")
        return W @ acc

    return reduce(then, mats[1:], mats[0])
""",
        "collapse_affine_solution": """
def collapse_affine(weights, biases):
    # Homogeneous coordinates: [[W, b], [0, 1]] per layer, multiplied like linear layers.
    if len(weights) == 0:
        raise ValueError("empty list of weights")
    M = None
    for W, b in zip(weights, biases):
        W = np.asarray(W, dtype=float)
        A = np.zeros((W.shape[0] + 1, W.shape[1] + 1))
        A[:-1, :-1] = W
        A[:-1, -1] = b
        A[-1, -1] = 1.0
        if M is not None and A.shape[1] != M.shape[0]:
            raise ValueError("the shapes do not chain")
        M = A if M is None else A @ M
    return M[:-1, :-1], M[:-1, -1]
""",
    },
    "multi_dot_and_pushed_biases": {
        "collapse_linear_solution": """
def collapse_linear(weights):
    mats = [np.asarray(W, dtype=float) for W in weights]
    if not mats or any(m.ndim != 2 for m in mats):
        raise ValueError("need a non-empty list of matrices")
    if any(b.shape[1] != a.shape[0] for a, b in zip(mats, mats[1:])):
        raise ValueError("the shapes do not chain")
    if len(mats) == 1:
        return mats[0].copy()
    return np.linalg.multi_dot(mats[::-1])
""",
        "collapse_affine_solution": """
def collapse_affine(weights, biases):
    mats = [np.asarray(W, dtype=float) for W in weights]
    if not mats or any(b.shape[1] != a.shape[0] for a, b in zip(mats, mats[1:])):
        raise ValueError("empty, or the shapes do not chain")
    L = len(mats)
    # b_eff = sum over l of (W_L ... W_{l+1}) b_l, accumulating the products from the top.
    b_eff = np.zeros(mats[-1].shape[0])
    P = np.eye(mats[-1].shape[0])
    for l in range(L - 1, -1, -1):
        b_eff = b_eff + P @ np.asarray(biases[l], dtype=float)
        P = P @ mats[l]
    return P, b_eff
""",
    },
    "right_to_left_and_probing": {
        "collapse_linear_solution": """
def collapse_linear(weights):
    if len(weights) == 0:
        raise ValueError("empty list")
    for l in range(1, len(weights)):
        if np.shape(weights[l])[1] != np.shape(weights[l - 1])[0]:
            raise ValueError(f"W_{l + 1} does not chain with W_{l}")
    W_eff = np.array(weights[-1], dtype=float)
    for W in reversed(weights[:-1]):   # (W_L @ W_{L-1}) @ ..., associated from the left end
        W_eff = W_eff @ W
    return W_eff
""",
        "collapse_affine_solution": """
def collapse_affine(weights, biases):
    if len(weights) == 0:
        raise ValueError("empty list")
    for l in range(1, len(weights)):
        if np.shape(weights[l])[1] != np.shape(weights[l - 1])[0]:
            raise ValueError(f"W_{l + 1} does not chain with W_{l}")

    def apply(X):   # the layers in turn, on the columns of X
        for W, b in zip(weights, biases):
            X = W @ X + np.asarray(b, dtype=float)[:, None]
        return X

    n0 = np.shape(weights[0])[1]
    out = apply(np.hstack([np.zeros((n0, 1)), np.eye(n0)]))   # f(0), f(e_1), ..., f(e_n0)
    b_eff = out[:, 0]
    return out[:, 1:] - b_eff[:, None], b_eff
""",
    },
}

BUGGY = {
    "linear_reversed_order": Bug(
        _linear(
            """
def collapse_linear(weights):
    if len(weights) == 0:
        raise ValueError("empty list")
    W_eff = np.asarray(weights[0], dtype=float)
    for W in weights[1:]:
        W_eff = W_eff @ W          # W_1 @ W_2 @ ... : the first layer ends up on the left
    return W_eff
"""
        ),
        "collapse_linear_values",
        "reversed-product-order",
    ),
    "linear_reduce_without_empty_check": Bug(
        _linear(
            """
def collapse_linear(weights):
    from functools import reduce

    return reduce(lambda acc, W: W @ acc, weights)     # TypeError for []
"""
        ),
        "collapse_linear_values",
        "no-shape-check",
    ),
    "linear_returns_none_for_empty": Bug(
        _linear(
            """
def collapse_linear(weights):
    W_eff = None
    for W in weights:
        W_eff = np.asarray(W, dtype=float) if W_eff is None else W @ W_eff
    return W_eff
"""
        ),
        "collapse_linear_values",
        "no-shape-check",
    ),
    "linear_asserts_shapes": Bug(
        _linear(
            """
def collapse_linear(weights):
    assert len(weights) > 0, "no layers"
    W_eff = np.asarray(weights[0], dtype=float)
    for W in weights[1:]:
        assert W.shape[1] == W_eff.shape[0], "shapes do not chain"
        W_eff = W @ W_eff
    return W_eff
"""
        ),
        "collapse_linear_values",
        "no-shape-check",
    ),
    "linear_reverses_list_in_place": Bug(
        _linear(
            """
def collapse_linear(weights):
    if len(weights) == 0:
        raise ValueError("empty list")
    weights.reverse()                     # W_L first, so the product reads left to right
    W_eff = np.asarray(weights[0], dtype=float)
    for W in weights[1:]:
        if W_eff.shape[1] != W.shape[0]:
            raise ValueError("the shapes do not chain")
        W_eff = W_eff @ W
    return W_eff
"""
        ),
        "collapse_linear_values",
        "mutates-input",
    ),
    "affine_biases_summed": Bug(
        _affine(
            """
    W_eff = mats[0]
    for W in mats[1:]:
        W_eff = W @ W_eff
    return W_eff, np.sum([np.asarray(b, dtype=float) for b in biases], axis=0)
"""
        ),
        "collapse_affine_values",
        "bias-not-propagated",
    ),
    "affine_last_bias_only": Bug(
        _affine(
            """
    W_eff = mats[0]
    for W in mats[1:]:
        W_eff = W @ W_eff
    return W_eff, np.asarray(biases[-1], dtype=float)
"""
        ),
        "collapse_affine_values",
        "last-bias-only",
    ),
    "affine_reversed_order": Bug(
        _affine(
            """
    W_eff = mats[0]
    b_eff = np.asarray(biases[0], dtype=float)
    for W, b in zip(mats[1:], biases[1:]):
        W_eff = W_eff @ W if W_eff.shape[1] == W.shape[0] else W @ W_eff
        b_eff = W @ b_eff + b
    return W_eff, b_eff
"""
        ),
        "collapse_affine_values",
        "reversed-product-order",
    ),
    "affine_no_empty_check": Bug(
        {
            "collapse_affine_solution": """
def collapse_affine(weights, biases):
    W_eff, b_eff = None, None
    for W, b in zip(weights, biases):
        if W_eff is None:
            W_eff, b_eff = np.asarray(W, dtype=float), np.asarray(b, dtype=float)
        else:
            W_eff, b_eff = W @ W_eff, W @ b_eff + b
    return W_eff, b_eff
"""
        },
        "collapse_affine_values",
        "no-shape-check",
    ),
    "affine_accumulates_into_last_bias": Bug(
        _affine(
            """
    b_eff = biases[-1]                   # the accumulator is the caller's array
    P = mats[-1]
    for l in range(len(mats) - 2, -1, -1):
        b_eff += P @ biases[l]
        P = P @ mats[l]
    return P, b_eff
"""
        ),
        "collapse_affine_values",
        "mutates-input",
    ),
}

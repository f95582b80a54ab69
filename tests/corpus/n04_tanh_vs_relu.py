"""04_tanh_vs_relu: tanh, forward_stack, summarize and compare_relu_tanh."""

from tests.corpus import Bug

# A correct compare_relu_tanh that calls none of the other cells' functions: a bug in tanh,
# forward_stack or summarize then costs points in that function's cell only.
_OWN_COMPARE = """
def compare_relu_tanh(X, weights, biases):
    def _stable_tanh(z):
        a = np.minimum(np.abs(z), 20.0)
        e = np.exp(-2.0 * a)
        return np.sign(z) * (1.0 - e) / (1.0 + e)

    out = {}
    for name, act in (("relu", lambda z: np.maximum(0.0, z)), ("tanh", _stable_tanh)):
        H = np.asarray(X, dtype=float)
        for W, b in zip(weights, biases):
            H = act(H @ np.asarray(W).T + b)
        out[name] = {
            "mean": float(H.mean()),
            "std": float(H.std()),
            "frac_positive": float((H > 0).mean()),
        }
    return out
"""


def _alone(grade_id: str, code: str) -> dict[str, str]:
    return {grade_id: code, "compare_relu_tanh_solution": _OWN_COMPARE}


CORRECT = {
    "expm1_reduce_manual_stats": {
        "tanh_solution": """
def tanh(z):
    z = np.asarray(z, dtype=float)
    t = np.expm1(-2.0 * np.minimum(np.abs(z), 20.0))     # exp(-2|z|) - 1, in (-1, 0]
    return np.sign(z) * (-t) / (2.0 + t)
""",
        "forward_stack_solution": """
def forward_stack(X, weights, biases, activation):
    from functools import reduce

    return reduce(lambda H, Wb: activation(H @ Wb[0].T + Wb[1]), zip(weights, biases), np.asarray(X, float))
""",
        "summarize_solution": """
def summarize(H):
    H = np.asarray(H, dtype=float)
    n = H.size
    mean = H.sum() / n
    std = np.sqrt(((H - mean) ** 2).sum() / n)
    return {"mean": float(mean), "std": float(std), "frac_positive": np.count_nonzero(H > 0) / n}
""",
        "compare_relu_tanh_solution": """
def compare_relu_tanh(X, weights, biases):
    pairs = (("relu", relu), ("tanh", tanh))
    return {name: summarize(forward_stack(X, weights, biases, f)) for name, f in pairs}
""",
    },
    "sigmoid_identity_einsum_var": {
        "tanh_solution": """
def tanh(z):
    # tanh(z) = 2 * sigmoid(2z) - 1, with a stable sigmoid of 2z
    z = np.asarray(z, dtype=float)
    e = np.exp(-2.0 * np.minimum(np.abs(z), 20.0))
    s = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return 2.0 * s - 1.0
""",
        "forward_stack_solution": """
def forward_stack(X, weights, biases, activation):
    H = np.asarray(X, dtype=float)
    for W, b in zip(weights, biases):
        H = activation(np.einsum("...i,oi->...o", H, W) + b)
    return H
""",
        "summarize_solution": """
def summarize(H):
    H = np.asarray(H, dtype=float).ravel()
    return {
        "frac_positive": float(np.sum(H > 0) / H.size),
        "std": float(np.sqrt(np.var(H))),
        "mean": float(np.average(H)),
    }
""",
        "compare_relu_tanh_solution": """
def compare_relu_tanh(X, weights, biases):
    runs = [forward_stack(X, weights, biases, act) for act in (relu, tanh)]
    return dict(zip(("relu", "tanh"), map(summarize, runs)))
""",
    },
    "python_floats_and_columns": {
        "tanh_solution": """
def tanh(z):
    import math

    def one(v):
        if v == 0:
            return 0.0
        e = math.exp(-2.0 * min(abs(v), 20.0))
        return math.copysign((1.0 - e) / (1.0 + e), v)

    return np.vectorize(one, otypes=[float])(np.asarray(z, dtype=float))
""",
        "forward_stack_solution": """
def forward_stack(X, weights, biases, activation):
    X = np.asarray(X, dtype=float)
    Hc = X.T                                   # column form: one example per column
    for W, b in zip(weights, biases):
        Hc = activation((W @ Hc).T + b).T
    return Hc.T
""",
        "summarize_solution": """
def summarize(H):
    import statistics

    values = [float(v) for v in np.ravel(H)]
    return {
        "mean": statistics.fmean(values),
        "std": statistics.pstdev(values),
        "frac_positive": sum(v > 0 for v in values) / len(values),
    }
""",
        "compare_relu_tanh_solution": """
def compare_relu_tanh(X, weights, biases):
    result = {}
    result["tanh"] = summarize(forward_stack(X, weights, biases, tanh))
    result["relu"] = summarize(forward_stack(X, weights, biases, relu))
    return result
""",
    },
    "clipped_exp_ratio": {
        "tanh_solution": """
def tanh(z):
    e = np.exp(2.0 * np.clip(np.asarray(z, dtype=float), -20.0, 20.0))
    return (e - 1.0) / (e + 1.0)
""",
    },
}

BUGGY = {
    "tanh_naive_exp": Bug(
        _alone(
            "tanh_solution",
            "def tanh(z):\n    z = np.asarray(z, dtype=float)\n"
            "    return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))\n",
        ),
        "tanh_values",
        "exp-overflow",
    ),
    "tanh_exp_2z": Bug(
        _alone(
            "tanh_solution",
            "def tanh(z):\n"
            "    e = np.exp(2.0 * np.asarray(z, dtype=float))\n"
            "    return (e - 1.0) / (e + 1.0)\n",
        ),
        "tanh_values",
        "exp-overflow",
    ),
    "tanh_stable_but_unclipped": Bug(
        _alone(
            "tanh_solution",
            """
def tanh(z):
    z = np.asarray(z, dtype=float)
    t = np.exp(-2.0 * np.abs(z))          # 2|z| overflows near 1e308
    return np.sign(z) * (1.0 - t) / (1.0 + t)
""",
        ),
        "tanh_values",
        "exp-overflow",
    ),
    "tanh_where_guard": Bug(
        _alone(
            "tanh_solution",
            """
def tanh(z):
    z = np.asarray(z, dtype=float)
    e = np.exp(2.0 * z)                   # evaluated for every z, also where the guard says 1
    return np.where(np.abs(z) > 20.0, np.sign(z), (e - 1.0) / (e + 1.0))
""",
        ),
        "tanh_values",
        "exp-overflow",
    ),
    "tanh_calls_np_tanh": Bug(
        _alone("tanh_solution", "def tanh(z):\n    return np.tanh(np.asarray(z, dtype=float))\n"),
        "tanh_values",
        "banned-call",
    ),
    "tanh_vectorized_math_tanh": Bug(
        _alone(
            "tanh_solution",
            """
def tanh(z):
    import math

    return np.vectorize(math.tanh, otypes=[float])(np.asarray(z, dtype=float))
""",
        ),
        "tanh_values",
        "banned-call",
    ),
    "tanh_is_sigmoid": Bug(
        _alone(
            "tanh_solution",
            """
def tanh(z):
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
""",
        ),
        "tanh_values",
        "sigmoid-instead-of-tanh",
    ),
    "tanh_clips_in_place": Bug(
        _alone(
            "tanh_solution",
            """
def tanh(z):
    z = np.asarray(z)
    if z.dtype.kind == "f":
        np.clip(z, -20.0, 20.0, out=z)     # clips the caller's array
    t = np.exp(-2.0 * np.abs(z))
    return np.sign(z) * (1.0 - t) / (1.0 + t)
""",
        ),
        "tanh_values",
        "mutates-input",
    ),
    "stack_last_layer_linear": Bug(
        _alone(
            "forward_stack_solution",
            """
def forward_stack(X, weights, biases, activation):
    H = np.asarray(X, dtype=float)
    for i, (W, b) in enumerate(zip(weights, biases)):
        H = H @ W.T + b
        if i < len(weights) - 1:          # the output layer stays linear
            H = activation(H)
    return H
""",
        ),
        "forward_stack_values",
        "last-layer-not-activated",
    ),
    "stack_untransposed": Bug(
        _alone(
            "forward_stack_solution",
            """
def forward_stack(X, weights, biases, activation):
    H = np.asarray(X, dtype=float)
    for W, b in zip(weights, biases):
        H = activation(H @ W + b)
    return H
""",
        ),
        "forward_stack_values",
        "untransposed-weight",
    ),
    "summarize_sample_std": Bug(
        _alone(
            "summarize_solution",
            """
def summarize(H):
    H = np.asarray(H, dtype=float)
    return {"mean": float(H.mean()), "std": float(H.std(ddof=1)), "frac_positive": float((H > 0).mean())}
""",
        ),
        "summarize_values",
        "sample-std",
    ),
    "summarize_counts_zero_as_positive": Bug(
        _alone(
            "summarize_solution",
            """
def summarize(H):
    H = np.asarray(H, dtype=float)
    return {"mean": float(H.mean()), "std": float(H.std()), "frac_positive": float((H >= 0).mean())}
""",
        ),
        "summarize_values",
        "boundary-inclusive",
    ),
    "summarize_other_key_name": Bug(
        _alone(
            "summarize_solution",
            """
def summarize(H):
    H = np.asarray(H, dtype=float)
    return {"mean": float(H.mean()), "std": float(H.std()), "frac_pos": float((H > 0).mean())}
""",
        ),
        "summarize_values",
        "swapped-keys",
    ),
    "summarize_values_under_wrong_keys": Bug(
        _alone(
            "summarize_solution",
            """
def summarize(H):
    H = np.asarray(H, dtype=float)
    stats = (float(H.mean()), float(H.std()), float((H > 0).mean()))
    return dict(zip(("mean", "frac_positive", "std"), stats))
""",
        ),
        "summarize_values",
        "swapped-keys",
    ),
    "compare_runs_swapped": Bug(
        {
            "compare_relu_tanh_solution": """
def compare_relu_tanh(X, weights, biases):
    return {
        "relu": summarize(forward_stack(X, weights, biases, tanh)),
        "tanh": summarize(forward_stack(X, weights, biases, relu)),
    }
"""
        },
        "compare_relu_tanh_values",
        "swapped-keys",
    ),
    "compare_capitalised_keys": Bug(
        {
            "compare_relu_tanh_solution": """
def compare_relu_tanh(X, weights, biases):
    return {
        "ReLU": summarize(forward_stack(X, weights, biases, relu)),
        "tanh": summarize(forward_stack(X, weights, biases, tanh)),
    }
"""
        },
        "compare_relu_tanh_values",
        "swapped-keys",
    ),
}

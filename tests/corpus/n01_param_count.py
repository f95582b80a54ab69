"""01_param_count: count_params."""

from tests.corpus import Bug

# Validation shared by the bugs whose mistake is in the count: they reject what they must.
_CHECKS = """
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError("need at least two sizes")
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"bad size {n!r}")
"""

CORRECT = {
    "reduce": {
        "count_params_solution": """
def count_params(layer_sizes):
    from functools import reduce
    from numbers import Integral

    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError("a network needs an input size and at least one layer size")
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, Integral) or n <= 0:
            raise ValueError(f"layer sizes must be positive integers, not {n!r}")
    pairs = zip(sizes, sizes[1:])
    return reduce(lambda total, p: total + int(p[0]) * int(p[1]) + int(p[1]), pairs, 0)
"""
    },
    "operator_index_pairwise": {
        "count_params_solution": """
def count_params(layer_sizes):
    import operator
    from itertools import pairwise

    widths = []
    for n in layer_sizes:
        if isinstance(n, (bool, np.bool_)):
            raise ValueError("a bool is not a layer size")
        try:
            k = operator.index(n)
        except TypeError:
            raise ValueError(f"{n!r} is not an integer") from None
        if k < 1:
            raise ValueError(f"{k} is not a positive size")
        widths.append(k)
    if len(widths) < 2:
        raise ValueError("need at least two sizes")
    return sum((n_in + 1) * n_out for n_in, n_out in pairwise(widths))
"""
    },
    "object_array": {
        "count_params_solution": """
def count_params(layer_sizes):
    sizes = list(layer_sizes)
    ok = [type(n) is not bool and isinstance(n, (int, np.integer)) and not isinstance(n, np.bool_)
          for n in sizes]
    if len(sizes) < 2 or not all(ok) or min(sizes) <= 0:
        raise ValueError(f"invalid layer sizes {sizes!r}")
    a = np.array([int(n) for n in sizes], dtype=object)   # Python ints: exact
    return int((a[:-1] * a[1:] + a[1:]).sum())
"""
    },
    "recursive": {
        "count_params_solution": """
def count_params(layer_sizes):
    sizes = tuple(layer_sizes)
    if len(sizes) < 2:
        raise ValueError("fewer than two sizes")
    if any(isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) for n in sizes):
        raise ValueError("sizes must be integers")
    if any(n < 1 for n in sizes):
        raise ValueError("sizes must be positive")

    def rest(i):
        if i == len(sizes):
            return 0
        return int(sizes[i - 1]) * int(sizes[i]) + int(sizes[i]) + rest(i + 1)

    return rest(1)
"""
    },
}


def _counting(body: str) -> dict[str, str]:
    return {"count_params_solution": f"def count_params(layer_sizes):{_CHECKS}{body}"}


BUGGY = {
    "weights_only": Bug(
        _counting("    return sum(int(a) * int(b) for a, b in zip(sizes, sizes[1:]))\n"),
        "count_params_values",
        "weights-only",
    ),
    "biases_per_input": Bug(
        _counting("    return sum(int(a) * int(b) + int(a) for a, b in zip(sizes, sizes[1:]))\n"),
        "count_params_values",
        "biases-per-input",
    ),
    "skips_last_layer": Bug(
        _counting(
            "    total = 0\n"
            "    for i in range(len(sizes) - 2):\n"
            "        total += int(sizes[i]) * int(sizes[i + 1]) + int(sizes[i + 1])\n"
            "    return total\n"
        ),
        "count_params_values",
        "skips-last-layer",
    ),
    "counts_input_layer_bias": Bug(
        _counting(
            "    weights = sum(int(a) * int(b) for a, b in zip(sizes, sizes[1:]))\n"
            "    return weights + sum(int(n) for n in sizes)   # one bias per unit, input units too\n"
        ),
        "count_params_values",
        "counts-input-layer-bias",
    ),
    "int32_overflow": Bug(
        _counting(
            "    s = np.array(sizes, dtype=np.int32)\n"
            "    return int(np.sum(s[:-1] * s[1:] + s[1:], dtype=np.int32))\n"
        ),
        "count_params_values",
        "overflow",
    ),
    "float_arithmetic": Bug(
        _counting(
            "    s = np.asarray(sizes, dtype=float)\n"
            "    return s[:-1] @ s[1:] + s[1:].sum()      # a float64, not an exact int\n"
        ),
        "count_params_values",
        "overflow",
    ),
    "no_validation": Bug(
        {
            "count_params_solution": """
def count_params(layer_sizes):
    return sum(a * b + b for a, b in zip(layer_sizes, layer_sizes[1:]))
"""
        },
        "count_params_errors",
        "accepts-invalid-sizes",
    ),
    "accepts_bools": Bug(
        {
            "count_params_solution": """
def count_params(layer_sizes):
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError("need at least two sizes")
    for n in sizes:
        if not isinstance(n, (int, np.integer)) or n < 1:   # True is an int too
            raise ValueError(f"bad size {n!r}")
    return sum(int(a) * int(b) + int(b) for a, b in zip(sizes, sizes[1:]))
"""
        },
        "count_params_errors",
        "accepts-invalid-sizes",
    ),
    "int_conversion_truncates": Bug(
        {
            "count_params_solution": """
def count_params(layer_sizes):
    sizes = [int(n) for n in layer_sizes]   # 2.5 -> 2, "3" -> 3, True -> 1
    if len(sizes) < 2:
        raise ValueError("need at least two sizes")
    if min(sizes) < 1:
        raise ValueError("sizes must be positive")
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))
"""
        },
        "count_params_errors",
        "accepts-invalid-sizes",
    ),
    "single_size_allowed": Bug(
        {
            "count_params_solution": """
def count_params(layer_sizes):
    sizes = list(layer_sizes)
    if not sizes:
        raise ValueError("no sizes")
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"bad size {n!r}")
    return sum(int(a) * int(b) + int(b) for a, b in zip(sizes, sizes[1:]))
"""
        },
        "count_params_errors",
        "accepts-invalid-sizes",
    ),
}

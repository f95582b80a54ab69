"""Parameter counting for fully connected networks."""

from collections.abc import Sequence
from numbers import Integral


def count_params(layer_sizes: Sequence[int]) -> int:
    """Number of weights plus biases of a dense network.

    Parameters
    ----------
    layer_sizes : sequence of int, length L + 1
        ``[n_0, ..., n_L]``; layer ``l`` has a ``(n_l, n_{l-1})`` weight matrix and an
        ``(n_l,)`` bias.

    Returns
    -------
    int
        ``sum(n_in * n_out + n_out)`` over consecutive pairs, as an exact Python int.

    Raises
    ------
    ValueError
        Fewer than two sizes, or a size that is not a positive integer.
    """
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"need at least two layer sizes, got {len(sizes)}")
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
            raise ValueError(f"layer sizes must be positive integers, got {n!r}")
    sizes = [int(n) for n in sizes]
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes, sizes[1:]))

"""The forward stack the hidden suites and the misconceptions compare with, and its known wrong
versions, all computed by the reference's forward_stack."""

import numpy as np

import nnla_ref as ref


def stack(X, weights, biases, hidden, output="hidden", *, transpose=True, bias=True):
    """Layers ``H = act(H @ W.T + b)``: `hidden` for every layer but the last, `output` for the
    last ("hidden": the same; None: no activation). Wrong versions: `transpose=False` multiplies
    by W itself, `bias=False` leaves the biases out."""
    if not transpose:
        weights = [W.T for W in weights]
    if not bias:
        biases = [np.zeros_like(b) for b in biases]
    H = ref.forward_stack(X, weights[:-1], biases[:-1], hidden)
    Z = H @ weights[-1].T + biases[-1]
    last = hidden if output == "hidden" else output
    return Z if last is None else last(Z)

"""A dense layer that keeps its pre- and post-activations, and a network of them."""

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from nnla_ref.activations import relu, sigmoid

Activation = Callable[[NDArray], NDArray]


class DenseLayer:
    """``h = activation(x @ W.T + b)``, storing ``z`` and ``h`` of the latest call.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths.
    activation : callable, default relu
        Applied elementwise to the pre-activation.

    Attributes
    ----------
    W : ndarray, shape (n_out, n_in)
        He-initialised: ``randn * sqrt(2 / n_in)``.
    b : ndarray, shape (n_out,)
        Zeros.
    z, h : ndarray, shape (n_out,) or (B, n_out)
        Pre- and post-activation of the latest ``forward`` call.
    """

    def __init__(self, n_in: int, n_out: int, activation: Activation = relu) -> None:
        self.W = np.random.randn(n_out, n_in) * np.sqrt(2.0 / n_in)
        self.b = np.zeros(n_out)
        self.activation = activation

    def forward(self, x: NDArray) -> NDArray:
        """Apply the layer to ``x`` of shape (n_in,) or (B, n_in); returns ``h``."""
        self.z = x @ self.W.T + self.b
        self.h = self.activation(self.z)
        return self.h


class NeuralNetwork:
    """Dense layers chained: ReLU on hidden layers, ``output_activation`` on the last.

    Parameters
    ----------
    layer_sizes : sequence of int, ``[n_0, ..., n_L]`` with L >= 1
    output_activation : callable, default sigmoid
    """

    def __init__(self, layer_sizes: Sequence[int], output_activation: Activation = sigmoid):
        pairs = list(zip(layer_sizes[:-1], layer_sizes[1:]))
        self.layers = [DenseLayer(n_in, n_out, relu) for n_in, n_out in pairs[:-1]]
        self.layers.append(DenseLayer(*pairs[-1], output_activation))

    def forward(self, x: NDArray) -> NDArray:
        """Run ``x`` of shape (n_0,) or (B, n_0) through every layer; returns the last ``h``."""
        h = x
        for layer in self.layers:
            h = layer.forward(h)
        return h

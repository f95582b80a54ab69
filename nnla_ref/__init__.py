"""Reference implementation of the ch177 student contract: the oracle of every hidden test.

Small, readable NumPy. One module per notebook of the assignment.
"""

from nnla_ref.activations import relu, sigmoid, tanh
from nnla_ref.batch import affine_cols, affine_rows
from nnla_ref.collapse import collapse_affine, collapse_linear
from nnla_ref.halfspace import active_region, hidden_activations, plot_neuron_maps
from nnla_ref.layers import DenseLayer, NeuralNetwork
from nnla_ref.params import count_params
from nnla_ref.stacks import compare_relu_tanh, forward_stack, summarize

__all__ = [
    "DenseLayer",
    "NeuralNetwork",
    "active_region",
    "affine_cols",
    "affine_rows",
    "collapse_affine",
    "collapse_linear",
    "compare_relu_tanh",
    "count_params",
    "forward_stack",
    "hidden_activations",
    "plot_neuron_maps",
    "relu",
    "sigmoid",
    "summarize",
    "tanh",
]

"""The known mistakes of ch177, each with an id, the exercises it belongs to and a hint. The
wrong answer each one computes is declared by the suite that checks the exercise."""

from autograder.judge.misconceptions import Misconception

CATALOGUE: tuple[Misconception, ...] = (
    Misconception(
        "weights-only",
        ("count_params",),
        "Each layer has n_out biases as well as n_in * n_out weights: count both.",
    ),
    Misconception(
        "biases-per-input",
        ("count_params",),
        "A layer has one bias per output unit (n_out), not one per input (n_in).",
    ),
    Misconception(
        "skips-last-layer",
        ("count_params",),
        "There are len(layer_sizes) - 1 layers: the pair (n_{L-1}, n_L) counts too.",
    ),
    Misconception(
        "counts-input-layer-bias",
        ("count_params",),
        "The input layer has no weights or biases of its own: biases belong to layers 1..L.",
    ),
    Misconception(
        "overflow",
        ("count_params",),
        "Fixed-width integers (int32) or floats lose the exact count for wide layers: "
        "multiply Python ints (int(n)), which never overflow.",
    ),
    Misconception(
        "accepts-invalid-sizes",
        ("count_params",),
        "Check the sizes first: fewer than two sizes, zero, negative, fractional or "
        "boolean sizes must raise ValueError.",
    ),
    Misconception(
        "untransposed-weight",
        ("affine_rows", "affine_cols", "DenseLayer", "forward_stack", "hidden_activations"),
        "W has shape (n_out, n_in); with inputs as rows you need X @ W.T, not X @ W. "
        "Square matrices hide this mistake, so test with n_in != n_out.",
    ),
    Misconception(
        "missing-bias",
        ("affine_rows", "affine_cols", "DenseLayer", "hidden_activations"),
        "The affine map is W x + b: add the bias after the product.",
    ),
    Misconception(
        "bias-broadcast-wrong",
        ("affine_rows", "affine_cols"),
        "b has shape (n_out,) and must be added to every row of the (B, n_out) result; "
        "b[:, None] adds it down the columns instead.",
    ),
    Misconception(
        "single-vector-shape",
        ("affine_rows", "affine_cols", "DenseLayer"),
        "A single input of shape (n_in,) must give a result of shape (n_out,), not (1, n_out).",
    ),
    Misconception(
        "cols-not-transposed-back",
        ("affine_cols",),
        "W @ X.T has shape (n_out, B): transpose it back before adding b.",
    ),
    Misconception(
        "z-overwritten-by-activation",
        ("DenseLayer",),
        "Keep the pre-activation: self.z = x @ W.T + b, then self.h = activation(self.z). "
        "Backpropagation needs both.",
    ),
    Misconception(
        "stale-cache",
        ("DenseLayer",),
        "Store z and h on every call to forward; they must describe the latest input.",
    ),
    Misconception(
        "weight-shape", ("DenseLayer",), "W maps n_in inputs to n_out outputs, so its shape is (n_out, n_in)."
    ),
    Misconception("bias-init", ("DenseLayer",), "Biases start at zero: np.zeros(n_out)."),
    Misconception(
        "init-scale", ("DenseLayer",), "He initialisation scales standard normal weights by sqrt(2 / n_in)."
    ),
    Misconception(
        "wrong-output-activation",
        ("NeuralNetwork",),
        "Hidden layers use ReLU; only the last layer uses output_activation.",
    ),
    Misconception(
        "exp-overflow",
        ("tanh",),
        "exp(2z) overflows for z above about 355. Rewrite tanh with exp(-2|z|) (always <= 1) "
        "and the sign of z, and clip |z| first (e.g. at 20): near 1e308 even 2|z| overflows.",
    ),
    Misconception(
        "banned-call", ("tanh",), "Build tanh from np.exp (or np.expm1), not np.tanh or math.tanh."
    ),
    Misconception(
        "sigmoid-instead-of-tanh",
        ("tanh",),
        "That is the sigmoid 1 / (1 + exp(-z)), with range (0, 1). tanh(z) = (e^z - e^-z) / (e^z + e^-z) "
        "has range (-1, 1) and tanh(0) = 0.",
    ),
    Misconception(
        "last-layer-not-activated",
        ("forward_stack", "NeuralNetwork"),
        "Apply the activation after every layer, the last one included.",
    ),
    Misconception(
        "sample-std",
        ("summarize",),
        "Use the population standard deviation (np.std's default, ddof=0), not ddof=1.",
    ),
    Misconception(
        "boundary-inclusive",
        ("summarize", "active_region"),
        "'Positive' and 'active' mean strictly greater than 0: a value of exactly 0 does not count.",
    ),
    Misconception(
        "swapped-keys",
        ("summarize", "compare_relu_tanh"),
        "Check the dictionary's keys: exactly the names the docstring gives, each under its own value.",
    ),
    Misconception(
        "reversed-product-order",
        ("collapse_linear", "collapse_affine"),
        "The first layer acts first, so it stands rightmost: W_eff = W_L @ ... @ W_2 @ W_1.",
    ),
    Misconception(
        "bias-not-propagated",
        ("collapse_affine",),
        "Earlier biases pass through the later layers: b_eff <- W_l @ b_eff + b_l, not a plain sum.",
    ),
    Misconception(
        "last-bias-only",
        ("collapse_affine",),
        "b_eff collects every layer's bias, each pushed through the layers after it, not just b_L.",
    ),
    Misconception(
        "no-shape-check",
        ("collapse_linear",),
        "Check that the shapes chain (W_l.shape[1] == W_{l-1}.shape[0]) and that the list is "
        "not empty, and raise ValueError otherwise.",
    ),
    Misconception(
        "mutates-input",
        ("DenseLayer", "collapse_linear", "collapse_affine", "affine_rows", "affine_cols"),
        "Do not change the arrays you are given (no in-place +=, no sorting, no writes): "
        "compute into a new array.",
    ),
    Misconception(
        "missing-relu",
        ("hidden_activations", "NeuralNetwork"),
        "Hidden units apply ReLU: np.maximum(0, z).",
    ),
    Misconception(
        "figure-structure",
        ("plot_neuron_maps",),
        "One axes per neuron in a grid of n_cols columns, each a contourf of that neuron's column "
        "reshaped to xx.shape, titled 'Hidden neuron {i+1}'; turn the axes left over off.",
    ),
    Misconception(
        "uses-reference",
        tuple(),
        "The reference solution is not available to your notebook: write the code yourself.",
    ),
)

BY_ID = {m.id: m for m in CATALOGUE}

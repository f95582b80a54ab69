"""The public checks of the ch177 notebooks, run by selfcheck.py beside this file.

Properties any correct answer has (shape rules, identities such as "rows form equals columns
form", the chapter's example values), checked on examples and on inputs hypothesis draws. They
are not the hidden tests.
"""

import math

from selfcheck import (
    Fail,
    StudentError,
    Text,
    array,
    arrays,
    attr,
    call,
    check,
    copies,
    expect_close,
    expect_shape,
    expect_value_error,
    floats,
    get,
    unchanged,
    unit,
)

ASSIGNMENT = "ch177"

# The functions each notebook defines, in the order they are checked.
NOTEBOOKS: dict[str, tuple[str, ...]] = {
    "01_param_count": ("count_params",),
    "02_batch_forms": ("affine_rows", "affine_cols"),
    "03_stored_activations": ("DenseLayer", "NeuralNetwork"),
    "04_tanh_vs_relu": ("tanh", "forward_stack", "summarize", "compare_relu_tanh"),
    "05_linear_collapse": ("collapse_linear", "collapse_affine"),
    "06_halfspace_neurons": ("hidden_activations", "active_region", "plot_neuron_maps"),
}
# Which other student functions each one calls (by the notebooks' instructions).
USES: dict[str, tuple[str, ...]] = {
    "NeuralNetwork": ("DenseLayer",),
    "compare_relu_tanh": ("tanh", "forward_stack", "summarize"),
    "collapse_affine": ("collapse_linear",),
}

# numpy, hypothesis.strategies and hypothesis.extra.numpy: set by selfcheck.py in the check
# process only, so that the command itself starts fast.
np = st = hnp = None


# activations the checks pass as arguments (named, so a failing input shows which one)
def identity(z):
    return z


def rectifier(z):
    return np.where(np.asarray(z) > 0, z, 0.0)


def double(z):
    return 2.0 * np.asarray(z)


# ------------------------------------------------------------------------------ strategies


def affine_cases(batch=True):
    """X, W, b (without X when `batch` is False: a check that builds its own inputs)."""

    @st.composite
    def build(draw):
        rows, n_in, n_out = (draw(st.integers(1, 4)) for _ in range(3))
        case = {"X": draw(arrays((rows, n_in)))} if batch else {}
        return {**case, "W": draw(arrays((n_out, n_in))), "b": draw(arrays((n_out,)))}

    return build()


def sizes_cases(min_size=2, max_size=4, hi=4):
    return st.lists(st.integers(1, hi), min_size=min_size, max_size=max_size)


def stack_cases(max_layers=3):
    @st.composite
    def build(draw):
        sizes = draw(sizes_cases(2, max_layers + 1))
        batch = draw(st.integers(1, 3))
        weights = [draw(arrays((m, n))) for n, m in zip(sizes[:-1], sizes[1:])]
        biases = [draw(arrays((m,))) for m in sizes[1:]]
        return {"X": draw(arrays((batch, sizes[0]))), "weights": weights, "biases": biases}

    return build()


def with_activation(cases, choices):
    """The cases of `cases`, each with one more input: an activation drawn from `choices`."""
    return st.tuples(cases, st.sampled_from(choices)).map(lambda pair: {**pair[0], "activation": pair[1]})


def grid_cases():
    @st.composite
    def build(draw):
        n_points, n_in, n_hidden = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
        return {
            "grid": draw(arrays((n_points, n_in))),
            "W1": draw(arrays((n_hidden, n_in))),
            "b1": draw(arrays((n_hidden,))),
        }

    return build()


# ============================================================================ 01 count_params

HINT_COUNT = (
    "Each layer l has a weight matrix of shape (n_l, n_{l-1}) and a bias vector of shape (n_l,): "
    "count both, for every layer including the output layer, with Python ints."
)


# What the chapter's example gives with each known mistake.
KNOWN_WRONG_COUNTS = {
    234752: "234752 is the weights alone; each layer also has n_out biases",
    235920: "235920 counts one bias per input (n_in) instead of one per output unit (n_out)",
    200960: "200960 is the first layer only; every consecutive pair of sizes is a layer",
    233856: "233856 leaves out the last layer (128 -> 10)",
    235930: "235930 gives the input layer 784 biases of its own; it has none",
}


@check(
    "count_params",
    "count_params([784, 256, 128, 10]) is 235146, a Python int (the chapter's example)",
    hint=HINT_COUNT,
    examples=[{"layer_sizes": [784, 256, 128, 10]}],
)
def _(ns, layer_sizes):
    got = call("count_params", get(ns, "count_params"), list(layer_sizes))
    if got != 235146:
        mistake = KNOWN_WRONG_COUNTS.get(got if isinstance(got, int) else None)
        raise Fail(f"wrong number of parameters{': ' + mistake if mistake else ''}", expected=235146, got=got)
    if type(got) is not int:
        raise Fail(f"the result must be a Python int, not {type(got).__name__}", show_values=False)


@check(
    "count_params",
    "the count of a network is the sum of the counts of its layers [n_in, n_out]",
    hint="Go through consecutive pairs (n_in, n_out) of the sizes: one layer per pair, no more, no fewer; "
    "the input layer has no parameters of its own.",
    cases=lambda: st.fixed_dictionaries({"layer_sizes": sizes_cases(2, 5, 9)}),
)
def _(ns, layer_sizes):
    count = get(ns, "count_params")
    whole = call("count_params", count, list(layer_sizes))
    parts = [call("count_params", count, [a, b]) for a, b in zip(layer_sizes[:-1], layer_sizes[1:])]
    if not all(isinstance(p, int) and p > 0 for p in parts):
        raise Fail("a single layer must have a positive whole number of parameters", got=parts)
    if whole != sum(parts):
        raise Fail(
            f"the whole network's count differs from the sum of its layers' counts {parts}",
            expected=sum(parts),
            got=whole,
        )


@check(
    "count_params",
    "fewer than two sizes, or a size that is not a positive integer (0, -3, 2.5, True, '3', None), "
    "raise ValueError",
    hint="Check the sizes first: raise ValueError for fewer than two, and for any size that is "
    "zero, negative, a bool or not an integer (isinstance(n, (int, np.integer)) and not a bool).",
    examples=[
        {"layer_sizes": s}
        for s in ([], [784], [4, 0, 2], [4, -3, 2], [4, 2.5, 2], [4, True, 2], [4, "3", 2], [4, None, 2])
    ],
)
def _(ns, layer_sizes):
    expect_value_error(ns, "count_params", layer_sizes)


# ============================================================================ 02 batch forms

HINT_ROWS = "Row form: X @ W.T + b, where W has shape (n_out, n_in): multiply by the transpose of W."
HINT_COLS = "Column form: (W @ X.T).T + b: transpose back to (B, n_out) before adding b."


def _affine_properties(name: str, hint: str) -> None:
    @check(
        name,
        f"{name}: a batch X (B, n_in) gives shape (B, n_out), one input x (n_in,) gives (n_out,)",
        hint=hint,
        cases=affine_cases,
    )
    def _(ns, X, W, b):
        f = get(ns, name)
        expect_shape(call(name, f, X, W, b), (X.shape[0], W.shape[0]), f"{name}(X, W, b)")
        expect_shape(call(name, f, X[0], W, b), (W.shape[0],), f"{name}(X[0], W, b)")

    @check(
        name,
        f"{name}: x = e_j (1 in place j, 0 elsewhere) gives W[:, j] + b, the bias included",
        hint=hint + " Add the bias b to every sample.",
        cases=lambda: affine_cases(batch=False),
    )
    def _(ns, W, b):
        f = get(ns, name)
        for j in range(W.shape[1]):
            e = unit(W.shape[1], j)
            expect_close(call(name, f, e, W, b), W[:, j] + b, f"{name}(e_{j}, W, b)")

    @check(
        name,
        f"{name}: row i of the batch result equals the result for X[i] alone",
        hint=hint,
        cases=affine_cases,
    )
    def _(ns, X, W, b):
        f = get(ns, name)
        whole = expect_shape(call(name, f, X, W, b), (X.shape[0], W.shape[0]), f"{name}(X, W, b)")
        for i in range(X.shape[0]):
            expect_close(whole[i], call(name, f, X[i], W, b), f"row {i} of {name}(X, W, b)")

    @check(
        name,
        f"{name} does not change X, W or b",
        hint="Build new arrays; never modify the arguments.",
        cases=affine_cases,
    )
    def _(ns, X, W, b):
        before = copies(X, W, b)
        call(name, get(ns, name), X, W, b)
        unchanged(before, (X, W, b), ("X", "W", "b"), name)


_affine_properties("affine_rows", HINT_ROWS)
_affine_properties("affine_cols", HINT_COLS)


@check(
    "affine_cols",
    "rows form equals columns form: affine_cols(X, W, b) equals your affine_rows(X, W, b)",
    hint="(W @ X.T).T is X @ W.T, because (AB).T = B.T @ A.T; add b after transposing back.",
    cases=affine_cases,
    needs=("affine_rows",),
)
def _(ns, X, W, b):
    rows = call("affine_rows", get(ns, "affine_rows"), X, W, b)
    expect_close(call("affine_cols", get(ns, "affine_cols"), X, W, b), rows, "affine_cols(X, W, b)")


# ======================================================================= 03 stored activations


def layer_cases(batch=True):
    """n_in, n_out, W, b and a batch X (no X when `batch` is False)."""

    @st.composite
    def build(draw):
        n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        case = {"n_in": n_in, "n_out": n_out, "W": draw(arrays((n_out, n_in))), "b": draw(arrays((n_out,)))}
        if batch:
            case["X"] = draw(arrays((draw(st.integers(1, 3)), n_in)))
        return case

    return build()


def make_layer(ns, n_in, n_out, W=None, b=None, **kwargs):
    np.random.seed(0)
    layer = call("DenseLayer", get(ns, "DenseLayer"), n_in, n_out, **kwargs)
    if W is not None:
        layer.W, layer.b = W.copy(), b.copy()
    return layer


def forward(layer, x, owner="DenseLayer"):
    return call(owner, attr(layer, "forward", owner), x)


@check(
    "DenseLayer",
    "DenseLayer(n_in, n_out) has W of shape (n_out, n_in), b = zeros(n_out), activation relu by "
    "default and the activation it is given otherwise",
    hint="W has one row per output unit: np.random.randn(n_out, n_in) * np.sqrt(2.0 / n_in); "
    "b = np.zeros(n_out); store the activation argument as self.activation.",
    cases=lambda: st.fixed_dictionaries({"n_in": st.integers(1, 5), "n_out": st.integers(1, 5)}),
)
def _(ns, n_in, n_out):
    layer = make_layer(ns, n_in, n_out)
    expect_shape(attr(layer, "W", "DenseLayer"), (n_out, n_in), "layer.W")
    bias = expect_shape(attr(layer, "b", "DenseLayer"), (n_out,), "layer.b")
    if np.any(bias != 0):
        raise Fail("layer.b must start at zero", expected=np.zeros(n_out), got=bias)
    dtype = np.asarray(attr(layer, "b", "DenseLayer")).dtype
    if dtype.kind != "f":
        raise Fail(f"layer.b must hold floats, np.zeros(n_out), not dtype {dtype}", show_values=False)
    if attr(layer, "activation", "DenseLayer") is not get(ns, "relu"):
        raise Fail("the default activation must be the given relu", show_values=False)
    other = make_layer(ns, n_in, n_out, activation=get(ns, "sigmoid"))
    if attr(other, "activation", "DenseLayer") is not get(ns, "sigmoid"):
        raise Fail(
            "DenseLayer(n_in, n_out, activation=sigmoid).activation must be sigmoid", show_values=False
        )


@check(
    "DenseLayer",
    "forward on a batch (B, n_in) gives h, z of shape (B, n_out); on one input (n_in,) shape (n_out,)",
    hint="z = x @ self.W.T + self.b works for one input and for a batch; store it as self.z, "
    "and h = self.activation(z) as self.h.",
    cases=layer_cases,
)
def _(ns, n_in, n_out, W, b, X):
    layer = make_layer(ns, n_in, n_out, W, b)
    for x, shape, label in ((X, (X.shape[0], n_out), "X"), (X[0], (n_out,), "X[0]")):
        expect_shape(forward(layer, x), shape, f"layer.forward({label})")
        expect_shape(attr(layer, "z", "DenseLayer"), shape, f"layer.z after forward({label})")
        expect_shape(attr(layer, "h", "DenseLayer"), shape, f"layer.h after forward({label})")


@check(
    "DenseLayer",
    "W is He-initialised: for DenseLayer(400, 300) its entries have mean about 0 and standard "
    "deviation sqrt(2 / n_in) = 0.0707 (within 5%)",
    hint="np.random.randn(n_out, n_in) * np.sqrt(2.0 / n_in): standard normal entries scaled by "
    "sqrt(2 / n_in), n_in being the number of inputs.",
    examples=[{"n_in": 400, "n_out": 300}],
)
def _(ns, n_in, n_out):
    W = expect_shape(attr(make_layer(ns, n_in, n_out), "W", "DenseLayer"), (n_out, n_in), "layer.W")
    scale, std, mean = np.sqrt(2.0 / n_in), float(np.std(W)), float(np.mean(W))
    he_scaled = abs(std / scale - 1.0) <= 0.05 and abs(mean / scale) <= 0.05
    if not he_scaled:
        raise Fail(
            "the weights do not have He scaling",
            expected=Text(f"mean about 0, std {scale:.4f}"),
            got=Text(f"mean {mean:.4f}, std {std:.4f}"),
        )


@check(
    "DenseLayer",
    "z is affine in x: a zero input gives z = b, and x = e_j gives z = W[:, j] + b",
    hint="Store z before the activation: self.z is the pre-activation x @ W.T + b (self.z = h would "
    "lose it); multiply by the transpose of W, and add the bias.",
    cases=lambda: layer_cases(batch=False),
)
def _(ns, n_in, n_out, W, b):
    layer = make_layer(ns, n_in, n_out, W, b)
    forward(layer, np.zeros(n_in))
    expect_close(attr(layer, "z", "DenseLayer"), b, "layer.z for a zero input")
    for j in range(n_in):
        forward(layer, unit(n_in, j))
        expect_close(attr(layer, "z", "DenseLayer"), W[:, j] + b, f"layer.z for x = e_{j}")


@check(
    "DenseLayer",
    "h equals activation(z): after forward, layer.h == layer.activation(layer.z), and forward returns h",
    hint="Keep the pre-activation: z = x @ W.T + b; h = activation(z); store both (z before the "
    "activation), then return h.",
    cases=lambda: with_activation(layer_cases(), ["relu", "sigmoid", "double", "identity"]),
)
def _(ns, n_in, n_out, W, b, X, activation):
    act = {"double": double, "identity": identity}.get(activation) or get(ns, activation)
    layer = make_layer(ns, n_in, n_out, W, b, activation=act)
    h = forward(layer, X)
    z = array(attr(layer, "z", "DenseLayer"), "layer.z")
    expect_close(attr(layer, "h", "DenseLayer"), act(z), f"layer.h (activation {activation})")
    expect_close(h, attr(layer, "h", "DenseLayer"), "the value forward returns")


@check(
    "DenseLayer",
    "z and h come from the latest call of forward, and forward does not change its input",
    hint="Assign self.z and self.h on every call of forward (not only the first), and do not "
    "modify x in place.",
    cases=layer_cases,
)
def _(ns, n_in, n_out, W, b, X):
    fresh = make_layer(ns, n_in, n_out, W, b)
    forward(fresh, X[:1])
    z_last, h_last = (array(attr(fresh, n, "DenseLayer"), f"layer.{n}").copy() for n in ("z", "h"))
    layer = make_layer(ns, n_in, n_out, W, b)
    before = copies(X)
    forward(layer, X)
    forward(layer, X[:1])
    unchanged(before, (X,), ("x",), "forward")
    expect_close(attr(layer, "z", "DenseLayer"), z_last, "layer.z after forward(X), then forward(X[:1])")
    expect_close(attr(layer, "h", "DenseLayer"), h_last, "layer.h after forward(X), then forward(X[:1])")


def network_cases():
    @st.composite
    def build(draw):
        sizes = draw(sizes_cases(2, 4))
        return {
            "layer_sizes": sizes,
            "X": draw(arrays((draw(st.integers(1, 3)), sizes[0]))),
            "biases": [draw(arrays((m,))) for m in sizes[1:]],
        }

    return build()


def make_network(ns, layer_sizes, **kwargs):
    np.random.seed(0)
    net = call("NeuralNetwork", get(ns, "NeuralNetwork"), list(layer_sizes), **kwargs)
    layers = attr(net, "layers", "NeuralNetwork")
    if not isinstance(layers, list | tuple):
        raise Fail(f"net.layers must be a list of DenseLayer, got {type(layers).__name__}", show_values=False)
    return net, list(layers)


@check(
    "NeuralNetwork",
    "NeuralNetwork(sizes) has len(sizes) - 1 layers, layers[i].W of shape (sizes[i+1], sizes[i])",
    hint="One DenseLayer per consecutive pair (n_in, n_out) of the sizes.",
    cases=lambda: st.fixed_dictionaries({"layer_sizes": sizes_cases(2, 5)}),
)
def _(ns, layer_sizes):
    net, layers = make_network(ns, layer_sizes)
    if len(layers) != len(layer_sizes) - 1:
        raise Fail("wrong number of layers", expected=len(layer_sizes) - 1, got=len(layers))
    shapes = [np.shape(attr(layer, "W", "DenseLayer")) for layer in layers]
    expected = [(m, n) for n, m in zip(layer_sizes[:-1], layer_sizes[1:])]
    if shapes != expected:
        raise Fail("the weight shapes do not chain", expected=expected, got=shapes)


@check(
    "NeuralNetwork",
    "hidden layers use relu and the last layer output_activation (sigmoid by default)",
    hint="Build the hidden layers with activation=relu and only the last one with output_activation.",
    cases=lambda: st.fixed_dictionaries({"layer_sizes": sizes_cases(2, 5)}),
)
def _(ns, layer_sizes):
    relu, sigmoid = get(ns, "relu"), get(ns, "sigmoid")
    for output, label in ((None, "sigmoid (the default)"), (identity, "identity")):
        kwargs = {} if output is None else {"output_activation": output}
        net, layers = make_network(ns, layer_sizes, **kwargs)
        acts = [attr(layer, "activation", "DenseLayer") for layer in layers]
        if not layers:
            raise Fail("the network has no layers", show_values=False)
        if any(a is not relu for a in acts[:-1]):
            raise Fail("a hidden layer does not use relu", show_values=False)
        if acts[-1] is not (sigmoid if output is None else output):
            raise Fail(f"the last layer must use the output activation, here {label}", show_values=False)


@check(
    "NeuralNetwork",
    "forward equals applying its layers in turn (layers[i].h is the input of layers[i+1]) and "
    "returns the last h, of shape (B, n_L) for a batch and (n_L,) for one input",
    hint="h = x; for each layer: h = layer.forward(h); return h.",
    cases=network_cases,
)
def _(ns, layer_sizes, X, biases):
    net, layers = make_network(ns, layer_sizes)
    for layer, bias in zip(layers, biases):
        layer.b = bias.copy()
    for x, shape, label in ((X, (X.shape[0], layer_sizes[-1]), "X"), (X[0], (layer_sizes[-1],), "X[0]")):
        h = x
        for layer in layers:
            h = array(forward(layer, h), "layer.forward")
        out = call("NeuralNetwork", attr(net, "forward", "NeuralNetwork"), x)
        expect_shape(out, shape, f"net.forward({label})")
        expect_close(out, h, f"net.forward({label}) compared with the layers applied one by one")
        expect_close(
            out, attr(layers[-1], "h", "DenseLayer"), "net.forward's result compared with layers[-1].h"
        )


# ========================================================================== 04 tanh vs relu


@check(
    "tanh",
    "tanh(0) is 0",
    hint="tanh(0) = 0; a result of 0.5 is the sigmoid, not tanh.",
    examples=lambda: [{"z": 0.0}, {"z": np.zeros(3)}],
)
def _(ns, z):
    expect_close(call("tanh", get(ns, "tanh"), z), np.zeros(np.shape(z)), "tanh(0)")


def _float_arrays(lo, hi):
    return hnp.arrays(
        np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=4), elements=st.floats(lo, hi)
    )


@check(
    "tanh",
    "tanh is odd: tanh(-z) = -tanh(z)",
    hint="Use the sign: tanh(z) = sign(z) * (1 - t) / (1 + t) with t = exp(-2|z|).",
    cases=lambda: st.fixed_dictionaries({"z": _float_arrays(-40, 40)}),
)
def _(ns, z):
    f = get(ns, "tanh")
    expect_close(
        call("tanh", f, -z), -array(call("tanh", f, z), "tanh(z)"), "tanh(-z)", rtol=1e-9, atol=1e-12
    )


@check(
    "tanh",
    "tanh is bounded: every value is finite and in [-1, 1], without floating-point warnings, "
    "even for huge |z|",
    hint="Only take exp of numbers <= 0 (t = exp(-2|z|)), and clip |z| (at 20, say) so 2|z| cannot overflow.",
    examples=lambda: [{"z": np.array(v)} for v in ([1000.0, -1000.0], [710.0, -710.0], [1e308, -1e308])],
    cases=lambda: st.fixed_dictionaries(
        {
            "z": hnp.arrays(
                np.float64, st.integers(1, 4), elements=st.floats(allow_nan=False, allow_infinity=False)
            )
        }
    ),
)
def _(ns, z):
    import warnings

    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn", under="ignore"):
        warnings.simplefilter("always")
        got = array(call("tanh", get(ns, "tanh"), z), "tanh(z)")
    if caught:
        raise Fail(
            f"floating-point warning: {caught[0].category.__name__}: {caught[0].message}", show_values=False
        )
    if got.shape != z.shape or not np.all(np.isfinite(got)) or np.any(np.abs(got) > 1):
        raise Fail("values must be finite and in [-1, 1], same shape as z", got=got)


@check(
    "tanh",
    "tanh increases, and satisfies tanh(2z) = 2 tanh(z) / (1 + tanh(z)**2)",
    hint="tanh(z) = (e^z - e^-z) / (e^z + e^-z) = sign(z) * (1 - t) / (1 + t) with t = exp(-2|z|).",
    cases=lambda: st.fixed_dictionaries({"z": _float_arrays(-6, 6)}),
)
def _(ns, z):
    f = get(ns, "tanh")
    ordered = np.sort(z.ravel())
    values = array(call("tanh", f, ordered), "tanh(sorted z)")
    if values.shape == ordered.shape and np.any(np.diff(values) < -1e-12):
        raise Fail("tanh(z) must not decrease when z increases", got=values)
    t = array(call("tanh", f, z), "tanh(z)")
    expect_close(call("tanh", f, 2 * z), 2 * t / (1 + t**2), "tanh(2z)", rtol=1e-7, atol=1e-9)


@check(
    "tanh",
    "tanh keeps the shape, a 0-d value and an empty array included, and returns floats",
    hint="Start with z = np.asarray(z, dtype=float) and use elementwise NumPy operations.",
    examples=lambda: [{"z": 0.5}, {"z": np.zeros((0, 3))}, {"z": np.array([[1, 2], [-3, 0]])}],
)
def _(ns, z):
    got = call("tanh", get(ns, "tanh"), z)
    if np.shape(got) != np.shape(z):
        raise Fail("wrong shape", expected=Text(f"shape {np.shape(z)}"), got=Text(f"shape {np.shape(got)}"))
    if np.asarray(got).dtype.kind != "f":
        raise Fail(f"the result must be floats, got dtype {np.asarray(got).dtype}", show_values=False)


@check(
    "tanh",
    "tanh does not change its argument",
    hint="np.asarray(z, dtype=float) returns the caller's own array when it already holds floats: "
    "compute new arrays (np.minimum(np.abs(z), 20.0)) instead of changing z in place.",
    examples=lambda: [{"z": np.array([-30.0, -1.0, 0.0, 2.0, 800.0])}],
    cases=lambda: st.fixed_dictionaries({"z": _float_arrays(-40, 40)}),
)
def _(ns, z):
    before = copies(z)
    call("tanh", get(ns, "tanh"), z)
    unchanged(before, (z,), ("z",), "tanh")


def library_tanh_uses(source: str) -> list[str]:
    """The ways the cell's code reaches a library tanh: inside functions, classes and lambdas
    every mention counts; at the top level aliases and imports do, checks and prints do not."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for top in tree.body:
        if isinstance(top, ast.Assert | ast.Expr):
            continue
        nested = isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        lambdas = {id(n) for lam in ast.walk(top) if isinstance(lam, ast.Lambda) for n in ast.walk(lam)}
        called = {id(n.func) for n in ast.walk(top) if isinstance(n, ast.Call)}
        for node in ast.walk(top):
            counts = nested or id(node) in lambdas or id(node) not in called
            if isinstance(node, ast.Attribute) and node.attr == "tanh" and counts:
                found.append(ast.unparse(node))
            elif isinstance(node, ast.Call) and any(
                isinstance(a, ast.Constant) and a.value == "tanh" for a in node.args
            ):
                found.append(ast.unparse(node))
            elif isinstance(node, ast.ImportFrom) and any(a.name == "tanh" for a in node.names):
                found.append(f"from {node.module} import tanh")
    return list(dict.fromkeys(found))


@check(
    "tanh",
    "the cell that defines tanh does not use np.tanh or math.tanh in any function (a helper "
    "included), nor as an alias or an import",
    hint="Build tanh from np.exp (or np.expm1); a top-level check such as "
    "assert np.allclose(tanh(z), np.tanh(z)) in the cell is fine.",
    examples=[{}],
)
def _(ns):
    import linecache

    code = getattr(get(ns, "tanh"), "__code__", None)
    found = library_tanh_uses("".join(linecache.getlines(code.co_filename)) if code else "")
    if found:
        raise Fail(f"the cell uses {', '.join(found[:3])}", show_values=False)


@check(
    "tanh",
    "tanh does not call np.tanh or math.tanh",
    hint="Write tanh with np.exp (see the formula above the exercise).",
    examples=lambda: [{"z": np.array([0.25, -3.0])}],
)
def _(ns, z):
    used = []

    def banned(label):
        def tripwire(*args, **kwargs):
            used.append(label)
            raise RuntimeError(f"{label} is not allowed here")

        return tripwire

    saved = np.tanh, math.tanh
    np.tanh, math.tanh = banned("np.tanh"), banned("math.tanh")
    try:
        call("tanh", get(ns, "tanh"), z)
    except StudentError:
        if not used:
            raise
    finally:
        np.tanh, math.tanh = saved
    if used:
        raise Fail(f"tanh calls {used[0]}", show_values=False)


@check(
    "forward_stack",
    "shape rule: X (B, n_0) gives (B, n_L), one input x (n_0,) gives (n_L,)",
    hint="H = X, then H = activation(H @ W.T + b) for each (W, b); return H.",
    cases=stack_cases,
)
def _(ns, X, weights, biases):
    f = get(ns, "forward_stack")
    n_last = weights[-1].shape[0]
    expect_shape(
        call("forward_stack", f, X, weights, biases, rectifier), (X.shape[0], n_last), "forward_stack(X, ...)"
    )
    expect_shape(
        call("forward_stack", f, X[0], weights, biases, rectifier), (n_last,), "forward_stack(X[0], ...)"
    )


@check(
    "forward_stack",
    "forward_stack does not change X, the list of weights, the list of biases or the arrays in them",
    hint="Read the arguments, never write to them: no in-place operations on X, W or b, and no "
    "pop/append/reverse on the lists (iterate with zip(weights, biases)).",
    cases=stack_cases,
)
def _(ns, X, weights, biases):
    before_X, before_W, before_b = copies(X, weights, biases)
    call("forward_stack", get(ns, "forward_stack"), X, weights, biases, get(ns, "relu"))
    for name, was, now in (("weights", before_W, weights), ("biases", before_b, biases)):
        if len(now) != len(was):
            raise Fail(f"forward_stack changed the length of {name}", expected=len(was), got=len(now))
    unchanged([before_X], [X], ["X"], "forward_stack")
    names = [f"W_{i + 1}" for i in range(len(weights))] + [f"b_{i + 1}" for i in range(len(biases))]
    unchanged(before_W + before_b, weights + biases, names, "forward_stack")


@check(
    "forward_stack",
    "applying the layers in turn: the stack equals the first layer followed by the remaining layers",
    hint="Loop over zip(weights, biases) and feed each layer's output into the next.",
    cases=lambda: with_activation(stack_cases(), [rectifier, identity, double]),
)
def _(ns, X, weights, biases, activation):
    f = get(ns, "forward_stack")
    Ws, bs = weights, biases
    first = array(
        call("forward_stack", f, X, Ws[:1], bs[:1], activation), "forward_stack(X, [W_1], [b_1], ...)"
    )
    rest = call("forward_stack", f, first, Ws[1:], bs[1:], activation) if len(Ws) > 1 else first
    whole = call("forward_stack", f, X, Ws, bs, activation)
    expect_close(whole, rest, "forward_stack(X, weights, biases, ...) compared with layer 1, then the rest")


@check(
    "forward_stack",
    "the activation is applied after every layer, the last one included, on (B, n_l) arrays; "
    "one identity layer maps e_j to W[:, j] + b",
    hint="Apply the activation inside the loop, to every layer's pre-activation H @ W.T + b.",
    cases=stack_cases,
)
def _(ns, X, weights, biases):
    f = get(ns, "forward_stack")
    calls = []

    def spy(z):
        calls.append(np.shape(z))
        return z

    call("forward_stack", f, X, weights, biases, spy)
    expected = [(X.shape[0], W.shape[0]) for W in weights]
    if calls != expected:
        raise Fail("the activation was called on other shapes", expected=expected, got=calls)
    W, b = weights[0], biases[0]
    for j in range(W.shape[1]):
        got = call("forward_stack", f, unit(W.shape[1], j)[None, :], [W], [b], identity)
        expect_close(got, (W[:, j] + b)[None, :], f"forward_stack(e_{j}, [W], [b], identity)")


def _summary(value, what):
    if not isinstance(value, dict):
        raise Fail(f"{what} must return a dict, got {type(value).__name__}", show_values=False)
    if set(value) != {"mean", "std", "frac_positive"}:
        raise Fail(
            f"{what}: the keys must be exactly 'mean', 'std', 'frac_positive'",
            expected=["frac_positive", "mean", "std"],
            got=sorted(map(str, value)),
        )
    if not all(isinstance(v, float) for v in value.values()):
        raise Fail(f"{what}: every value must be a Python float (use float(...))", got=value)
    return value


@check(
    "summarize",
    "summarize returns a dict with exactly the keys 'mean', 'std', 'frac_positive', each a Python float",
    hint="Return {'mean': float(...), 'std': float(...), 'frac_positive': float(...)}.",
    examples=lambda: [{"H": np.array([[1.0, -1.0], [3.0, 0.0]])}],
)
def _(ns, H):
    _summary(call("summarize", get(ns, "summarize"), H), "summarize(H)")


@check(
    "summarize",
    "a constant array c gives mean c and std 0",
    hint="The population std (np.std(H), ddof=0) of equal values is 0, also for a single value; the "
    "sample std (ddof=1) of a single value is nan.",
    cases=lambda: st.fixed_dictionaries({"c": floats(), "shape": hnp.array_shapes(max_dims=2, max_side=3)}),
)
def _(ns, c, shape):
    H = np.full(shape, c)
    s = _summary(call("summarize", get(ns, "summarize"), H), "summarize(H)")
    expect_close(s["mean"], c, "summarize(H)['mean']")
    expect_close(s["std"], 0.0, "summarize(H)['std']")


@check(
    "summarize",
    "a constant array c gives frac_positive 1 if c > 0, else 0",
    hint="frac_positive is np.mean(H > 0): entries strictly greater than 0; an entry equal to 0 is "
    "not positive.",
    cases=lambda: st.fixed_dictionaries(
        {"c": st.sampled_from([0.0, 1.0, -1.0, 0.5]), "shape": hnp.array_shapes(max_dims=2, max_side=3)}
    ),
)
def _(ns, c, shape):
    s = _summary(call("summarize", get(ns, "summarize"), np.full(shape, c)), "summarize(H)")
    expect_close(s["frac_positive"], float(c > 0), "summarize(H)['frac_positive']")


@check(
    "summarize",
    "std is the population std (ddof=0): two values a, b give std |a - b| / 2; shifting H by c "
    "shifts the mean by c and keeps the std",
    hint="Use np.std(H) (ddof=0, divide by N), not the sample std (ddof=1, divide by N - 1).",
    cases=lambda: st.fixed_dictionaries(
        {"H": arrays(st.tuples(st.integers(1, 3), st.integers(2, 3))), "c": floats()}
    ),
)
def _(ns, H, c):
    f = get(ns, "summarize")
    a, b = H.ravel()[:2]
    pair = _summary(call("summarize", f, np.array([a, b])), "summarize([a, b])")
    expect_close(pair["std"], abs(a - b) / 2, "summarize([a, b])['std']")
    s = _summary(call("summarize", f, H), "summarize(H)")
    shifted = _summary(call("summarize", f, H + c), "summarize(H + c)")
    expect_close([shifted["mean"], shifted["std"]], [s["mean"] + c, s["std"]], "[mean, std] of H + c")


@check(
    "summarize",
    "frac_positive counts entries strictly greater than 0: for H and -H the two fractions and the "
    "fraction of zeros add up to 1",
    hint="frac_positive is np.mean(H > 0): an entry equal to 0 is not positive.",
    cases=lambda: st.fixed_dictionaries(
        {"H": arrays(st.tuples(st.integers(1, 3), st.integers(1, 4)), -1, 1)}
    ),
)
def _(ns, H):
    f = get(ns, "summarize")
    pos = _summary(call("summarize", f, H), "summarize(H)")["frac_positive"]
    neg = _summary(call("summarize", f, -H), "summarize(-H)")["frac_positive"]
    zeros = float(np.mean(H == 0))
    expect_close(pos + neg + zeros, 1.0, "frac_positive(H) + frac_positive(-H) + fraction of zeros")


def _by_activation(value):
    if not (isinstance(value, dict) and sorted(map(str, value)) == ["relu", "tanh"]):
        raise Fail("expected a dict with the keys 'relu' and 'tanh'", got=value)


@check(
    "compare_relu_tanh",
    "compare_relu_tanh returns {'relu': ..., 'tanh': ...}, each a summary dict; the relu mean is "
    ">= 0 and the tanh values lie in [-1, 1]",
    hint="Return {'relu': summarize(forward_stack(X, weights, biases, relu)), 'tanh': ... with tanh}.",
    cases=stack_cases,
)
def _(ns, X, weights, biases):
    got = call("compare_relu_tanh", get(ns, "compare_relu_tanh"), X, weights, biases)
    _by_activation(got)
    relu_s, tanh_s = _summary(got["relu"], "the 'relu' entry"), _summary(got["tanh"], "the 'tanh' entry")
    if relu_s["mean"] < 0:
        raise Fail(
            "ReLU outputs are never negative, so their mean is >= 0 (are 'relu' and 'tanh' swapped?)",
            got=relu_s,
        )
    if abs(tanh_s["mean"]) > 1 or tanh_s["std"] > 1:
        raise Fail("tanh outputs lie in [-1, 1], so their mean and std do too", got=tanh_s)


@check(
    "compare_relu_tanh",
    "compare_relu_tanh equals your summarize(forward_stack(...)) with relu and with your tanh",
    hint="Run forward_stack twice on the same X, weights and biases, once with relu and once with tanh.",
    cases=stack_cases,
    needs=("tanh", "forward_stack", "summarize"),
)
def _(ns, X, weights, biases):
    got = call("compare_relu_tanh", get(ns, "compare_relu_tanh"), X, weights, biases)
    _by_activation(got)
    for key in ("relu", "tanh"):
        H = call("forward_stack", get(ns, "forward_stack"), X, weights, biases, get(ns, key))
        want = _summary(call("summarize", get(ns, "summarize"), H), "summarize")
        have = _summary(got[key], f"the {key!r} entry")
        expect_close(
            [have[k] for k in sorted(have)],
            [want[k] for k in sorted(want)],
            f"[frac_positive, mean, std] of the {key!r} entry",
        )


# ========================================================================= 05 linear collapse


def chain_cases(max_layers=4, with_biases=True):
    @st.composite
    def build(draw):
        sizes = draw(sizes_cases(2, max_layers + 1))
        case = {"weights": [draw(arrays((m, n))) for n, m in zip(sizes[:-1], sizes[1:])]}
        if with_biases:
            case["biases"] = [draw(arrays((m,))) for m in sizes[1:]]
        return {**case, "x": draw(arrays((sizes[0],)))}

    return build()


def layer_by_layer(weights, biases, x):
    h = x
    for W, b in zip(weights, biases):
        h = W @ h + b
    return h


@check(
    "collapse_linear",
    "collapse equals applying the layers in turn: collapse_linear(weights) @ x = W_L @ (... (W_1 @ x)), "
    "of shape (n_L, n_0)",
    hint="The first layer's matrix stands on the right: W_eff = W_L @ ... @ W_2 @ W_1.",
    cases=lambda: chain_cases(with_biases=False),
)
def _(ns, weights, x):
    before = copies(weights)
    W_eff = call("collapse_linear", get(ns, "collapse_linear"), weights)
    unchanged(before[0], weights, [f"W_{i + 1}" for i in range(len(weights))], "collapse_linear")
    W_eff = expect_shape(W_eff, (weights[-1].shape[0], weights[0].shape[1]), "collapse_linear(weights)")
    zero = [np.zeros(W.shape[0]) for W in weights]
    expect_close(W_eff @ x, layer_by_layer(weights, zero, x), "collapse_linear(weights) @ x")


@check(
    "collapse_linear",
    "an empty list, or shapes that do not chain, raise ValueError",
    hint="Raise ValueError when weights is empty, or when W_l.shape[1] differs from W_{l-1}.shape[0].",
    examples=lambda: [
        {"weights": []},
        {"weights": [np.ones((3, 2)), np.ones((3, 2))]},
    ],
)
def _(ns, weights):
    expect_value_error(ns, "collapse_linear", weights)


@check(
    "collapse_affine",
    "collapse equals applying the layers in turn: W_eff @ x + b_eff = W_L @ (... (W_1 @ x + b_1)) + b_L, "
    "with W_eff of shape (n_L, n_0) and b_eff of shape (n_L,)",
    hint="Push every bias through the later layers: start with b = 0, then b = W_l @ b + b_l for each layer.",
    cases=chain_cases,
)
def _(ns, weights, biases, x):
    before = copies(weights, biases)
    out = call("collapse_affine", get(ns, "collapse_affine"), weights, biases)
    unchanged(
        before[0] + before[1],
        weights + biases,
        [f"W_{i + 1}" for i in range(len(weights))] + [f"b_{i + 1}" for i in range(len(biases))],
        "collapse_affine",
    )
    if not isinstance(out, tuple | list) or len(out) != 2:
        raise Fail("collapse_affine must return the pair (W_eff, b_eff)", got=out)
    W_eff = expect_shape(out[0], (weights[-1].shape[0], weights[0].shape[1]), "W_eff")
    b_eff = expect_shape(out[1], (weights[-1].shape[0],), "b_eff")
    expect_close(W_eff @ x + b_eff, layer_by_layer(weights, biases, x), "W_eff @ x + b_eff")


@check(
    "collapse_affine",
    "an empty list, or weights whose shapes do not chain, raise ValueError",
    hint="Check as collapse_linear does (or let it check): raise ValueError when weights is empty or "
    "W_l.shape[1] differs from W_{l-1}.shape[0].",
    examples=lambda: [
        {"weights": [], "biases": []},
        {"weights": [np.ones((3, 2)), np.ones((3, 2))], "biases": [np.ones(3), np.ones(3)]},
    ],
)
def _(ns, weights, biases):
    expect_value_error(ns, "collapse_affine", weights, biases)


# ======================================================================= 06 half-space neurons


@check(
    "hidden_activations",
    "shape rule: grid (N, n_in) and W1 (n_hidden, n_in) give (N, n_hidden), with no negative value",
    hint="relu(grid @ W1.T + b1): one row per grid point, one column per neuron.",
    cases=grid_cases,
)
def _(ns, grid, W1, b1):
    H = expect_shape(
        call("hidden_activations", get(ns, "hidden_activations"), grid, W1, b1),
        (grid.shape[0], W1.shape[0]),
        "hidden_activations(grid, W1, b1)",
    )
    if np.any(H < 0):
        raise Fail("ReLU outputs are never negative (is relu applied?)", got=H)


@check(
    "hidden_activations",
    "h equals relu of z: the point e_j gives max(0, W1[:, j] + b1); zero weights give max(0, b1) everywhere",
    hint="Apply relu to the whole pre-activation grid @ W1.T + b1, the bias included.",
    cases=grid_cases,
)
def _(ns, grid, W1, b1):
    f = get(ns, "hidden_activations")
    n_in = W1.shape[1]
    for j in range(n_in):
        got = call("hidden_activations", f, unit(n_in, j)[None, :], W1, b1)
        expect_close(got, np.maximum(0, W1[:, j] + b1)[None, :], f"hidden_activations(e_{j}, W1, b1)")
    got = call("hidden_activations", f, grid, np.zeros_like(W1), b1)
    expect_close(got, np.tile(np.maximum(0, b1), (grid.shape[0], 1)), "hidden_activations(grid, 0 * W1, b1)")


@check(
    "hidden_activations",
    "each neuron is independent: column i equals the result for neuron i alone (W1[i:i+1], b1[i:i+1])",
    hint="Column i of the result is neuron i (row i of W1) at every grid point.",
    cases=grid_cases,
)
def _(ns, grid, W1, b1):
    f = get(ns, "hidden_activations")
    whole = expect_shape(
        call("hidden_activations", f, grid, W1, b1),
        (grid.shape[0], W1.shape[0]),
        "hidden_activations(grid, W1, b1)",
    )
    for i in range(W1.shape[0]):
        alone = call("hidden_activations", f, grid, W1[i : i + 1], b1[i : i + 1])
        expect_close(whole[:, i : i + 1], alone, f"column {i} compared with neuron {i} alone")


@check(
    "active_region",
    "active_region returns a boolean array of shape (N,); points on the line w.x + b = 0 are not "
    "active, and (w, b) and (-w, -b) are never both active",
    hint="Compare grid @ w + b with 0 strictly (> 0, not >= 0), and return the boolean array itself.",
    cases=lambda: st.fixed_dictionaries(
        {"grid": arrays(st.tuples(st.integers(1, 5), st.just(2))), "w": arrays((2,)), "b": floats()}
    ),
)
def _(ns, grid, w, b):
    f = get(ns, "active_region")
    got = call("active_region", f, grid, w, b)
    if np.shape(got) != (grid.shape[0],) or np.asarray(got).dtype != bool:
        raise Fail(
            "expected a boolean array of shape (N,)",
            expected=Text(f"bool, shape ({grid.shape[0]},)"),
            got=Text(f"{np.asarray(got).dtype}, shape {np.shape(got)}"),
        )
    flipped = np.asarray(call("active_region", f, grid, -w, -b), dtype=bool)
    both = np.asarray(got) & flipped
    if np.any(both):
        raise Fail(
            "points active for (w, b) and for (-w, -b) alike: points on the line must not be active",
            got=Text(f"both active at the points {grid[both].tolist()}"),
        )
    on_line = np.array([[-b, 0.0], [-b, 2.0], [-b, -1.5]])  # x_1 + b = 0 for w = (1, 0)
    got = np.asarray(call("active_region", f, on_line, np.array([1.0, 0.0]), b), dtype=bool)
    if np.any(got):
        raise Fail(
            "points with w.x + b == 0 are on the boundary and are not active",
            expected=np.zeros(3, dtype=bool),
            got=got,
        )


@check(
    "active_region",
    "active_region equals hidden_activations > 0 for the neuron (w, b)",
    hint="A neuron is active exactly where its ReLU output is positive, i.e. where w.x + b > 0.",
    cases=grid_cases,
    needs=("hidden_activations",),
)
def _(ns, grid, W1, b1):
    H = array(call("hidden_activations", get(ns, "hidden_activations"), grid, W1, b1), "hidden_activations")
    for i in range(W1.shape[0]):
        got = call("active_region", get(ns, "active_region"), grid, W1[i], b1[i])
        expect_close(
            np.asarray(got, dtype=float),
            (H[:, i] > 0).astype(float),
            f"active_region(grid, W1[{i}], b1[{i}]) (1 = True)",
        )


def _maps_input(n):
    xx, yy = np.meshgrid(np.linspace(-2, 2, 4), np.linspace(-1, 1, 3))
    points = np.column_stack([xx.ravel(), yy.ravel()])
    W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 2.0], [0.5, -1.0]])[:n]
    return xx, yy, np.maximum(0, points @ W.T + 0.5)


@check(
    "plot_neuron_maps",
    "figure structure: a Figure with ceil(n / n_cols) rows of n_cols axes; axes i titled "
    "'Hidden neuron {i+1}' with a contourf; the leftover axes turned off; H unchanged",
    hint="fig, axes = plt.subplots(n_rows, n_cols, squeeze=False); for neuron i use axes.ravel()[i] "
    "(contourf, set_title); call ax.axis('off') on the axes left over; return fig.",
    examples=[{"n_neurons": n, "n_cols": c} for n, c in ((1, 3), (4, 2))],
)
def _(ns, n_neurons, n_cols):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    xx, yy, H = _maps_input(n_neurons)
    before = H.copy()
    fig = call("plot_neuron_maps", get(ns, "plot_neuron_maps"), xx, yy, H, n_cols=n_cols)
    try:
        if not isinstance(fig, Figure):
            raise Fail(
                f"plot_neuron_maps must return a matplotlib Figure, got {type(fig).__name__}",
                show_values=False,
            )
        unchanged([before], [H], ["H"], "plot_neuron_maps")
        n_axes = -(-n_neurons // n_cols) * n_cols
        if len(fig.axes) != n_axes:
            raise Fail(
                "wrong number of axes (no colorbars, one grid of n_rows x n_cols)",
                expected=n_axes,
                got=len(fig.axes),
            )
        titles = [ax.get_title() for ax in fig.axes[:n_neurons]]
        expected = [f"Hidden neuron {i + 1}" for i in range(n_neurons)]
        if titles != expected:
            raise Fail("wrong titles", expected=expected, got=titles)
        if not all(ax.axison and len(ax.collections) > 0 for ax in fig.axes[:n_neurons]):
            raise Fail("every neuron's axes needs a contourf plot (and must stay on)", show_values=False)
        left_on = [i for i, ax in enumerate(fig.axes[n_neurons:], start=n_neurons) if ax.axison]
        if left_on:
            raise Fail(
                f"the leftover axes {left_on} must be turned off with ax.axis('off')", show_values=False
            )
    finally:
        plt.close("all")


@check(
    "plot_neuron_maps",
    "a dead neuron (a column of zeros) gets its map too, and each map spans its own column's range, "
    "from the column's minimum to its maximum",
    hint="Draw contourf(xx, yy, H[:, i].reshape(xx.shape)) for neuron i and let contourf choose the "
    "levels (levels=20, or none): np.linspace(col.min(), col.max(), k) gives equal levels for a "
    "constant column, which contourf rejects.",
    examples=[{"n_neurons": 3, "dead": 1}, {"n_neurons": 4, "dead": 3}],
)
def _(ns, n_neurons, dead):
    import matplotlib.pyplot as plt
    from matplotlib.contour import ContourSet

    xx, yy, H = _maps_input(n_neurons)
    H[:, dead] = 0.0
    fig = call("plot_neuron_maps", get(ns, "plot_neuron_maps"), xx, yy, H, n_cols=3)
    try:
        for i, ax in enumerate(getattr(fig, "axes", [])[:n_neurons]):
            maps = [c for c in ax.collections if isinstance(c, ContourSet)]
            if not maps:
                raise Fail(f"the axes of neuron {i + 1} has no contourf", show_values=False)
            span, column = (maps[0].zmin, maps[0].zmax), (H[:, i].min(), H[:, i].max())
            if not np.allclose(span, column):
                raise Fail(
                    f"the map of neuron {i + 1} spans another range than column {i} of H",
                    expected=Text(f"[{column[0]:.3g}, {column[1]:.3g}]"),
                    got=Text(f"[{span[0]:.3g}, {span[1]:.3g}]"),
                )
    finally:
        plt.close("all")

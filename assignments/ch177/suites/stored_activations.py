"""Hidden properties of 03_stored_activations: DenseLayer and NeuralNetwork.

Layers are built in the student's worker (seeded) and come back as handles; the judge then sets
W and b, calls forward, reads z and h back, and probes each layer's activation by calling it.
Activations handed to the student's constructors are the worker's trusted ones ({"__fn__": name}).
"""

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

import nnla_ref as ref
from autograder.judge.properties import (
    Failure,
    Suite,
    as_array,
    expect_close,
    expect_unchanged_inputs,
    handle_id,
)
from autograder.judge.strategies import arrays

from ..misconceptions import CATALOGUE
from ..stacks import stack
from ..strategies import inputs_for, layer_sizes, widths

suite = Suite("03_stored_activations", CATALOGUE)

ACTS = {"relu": ref.relu, "sigmoid": ref.sigmoid, "tanh": ref.tanh, "identity": lambda z: z}
# A probe for an activation: negative, zero and positive entries tell relu, sigmoid, tanh apart.
PROBE = np.array([-3.0, -0.5, 0.0, 0.25, 2.0])
# The visible test's layer: W (3, 2), b, and a batch of four inputs.
W32 = np.array([[1.0, 2.0], [0.0, 1.0], [-1.0, 0.0]])
B3 = np.array([1.0, 0.0, -1.0])
X42 = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 3.0], [1.0, -1.0]])


# ---------------------------------------------------------------------- helpers


def numeric(value, what: str, inputs: dict) -> np.ndarray:
    """The student's value as a float array, or a Failure saying what it was instead."""
    return as_array(value, what, inputs, None).astype(float)


def shape_of(value) -> tuple | None:
    """np.shape of a student's value, None where it has none (e.g. a ragged list)."""
    try:
        return tuple(np.shape(value))
    except Exception:  # noqa: BLE001 - any value a student's object may hold
        return None


def new_layer(student, n_in, n_out, activation=None, seed=0, inputs=None) -> int:
    """A DenseLayer built in the worker; `activation` None keeps the student's default."""
    args = (n_in, n_out) if activation is None else (n_in, n_out, {"__fn__": activation})
    what = f"DenseLayer({n_in}, {n_out}{'' if activation is None else ', ' + activation})"
    return handle_id(student.call("DenseLayer", *args, seed=seed, inputs=inputs), what)


def layer_with(student, W, b, activation, inputs) -> int:
    """A DenseLayer whose W and b the judge has set (as the visible tests do)."""
    layer = new_layer(student, W.shape[1], W.shape[0], activation, inputs=inputs)
    student.set(layer, ("W",), W)
    student.set(layer, ("b",), b)
    return layer


def dense_wrongs(x, W, b, act):
    """Known wrong answers of one dense layer, for tagging."""
    x = np.asarray(x, dtype=float)
    return [
        ("missing-bias", lambda: act(x @ W.T)),
        ("untransposed-weight", lambda: act(x @ W + b)),
        ("single-vector-shape", lambda: act(np.atleast_2d(x) @ W.T + b) if x.ndim == 1 else None),
    ]


@st.composite
def dense_problems(draw, batch=True, square=False, activations=tuple(ACTS)):
    """(x, W, b, activation name): x a batch (B, n_in) or a single vector (n_in,)."""
    n_in = draw(widths())
    n_out = n_in if square else draw(widths())
    W = draw(arrays((n_out, n_in)))
    b = draw(arrays((n_out,)))
    x = draw(arrays((draw(st.integers(1, 5)), n_in))) if batch else draw(arrays((n_in,)))
    return x, W, b, draw(st.sampled_from(activations))


# ---------------------------------------------------------------------- DenseLayer_init


@suite.prop(
    "DenseLayer_init",
    "DenseLayer(n_in, n_out) has W of shape (n_out, n_in) and b of shape (n_out,)",
    exercise="DenseLayer",
    max_examples=10,
)
@given(n_in=widths(8), n_out=widths(8))
@example(n_in=3, n_out=5)
@example(n_in=1, n_out=2)
def init_shapes(student, n_in, n_out):
    inputs = {"n_in": n_in, "n_out": n_out}
    layer = new_layer(student, n_in, n_out, inputs=inputs)
    for name, want, tag in (("W", (n_out, n_in), "weight-shape"), ("b", (n_out,), "bias-init")):
        got = shape_of(student.get(layer, name, inputs=inputs))
        if got != want:
            raise Failure(
                f"{name} has shape {got}, expected {want}" if got is not None else f"{name} is not an array",
                inputs=inputs,
                expected=want,
                actual=got,
                tags=(tag,) if got is not None else (),
            )


@suite.prop(
    "DenseLayer_init",
    "DenseLayer starts with b = zeros(n_out), as floats",
    exercise="DenseLayer",
    max_examples=8,
)
@given(n_in=widths(8), n_out=widths(8), seed=st.integers(0, 2**32 - 1))
@example(n_in=3, n_out=5, seed=0)
def init_zero_bias(student, n_in, n_out, seed):
    inputs = {"n_in": n_in, "n_out": n_out}
    b = student.get(new_layer(student, n_in, n_out, seed=seed, inputs=inputs), "b", inputs=inputs)
    arr = as_array(b, "b", inputs, np.zeros(n_out))
    if arr.shape != (n_out,) or np.any(arr != 0):
        raise Failure(
            "b should start at zero, np.zeros(n_out)",
            inputs=inputs,
            expected=np.zeros(n_out),
            actual=arr,
            tags=("bias-init",),
        )
    if arr.dtype.kind != "f":
        raise Failure(
            f"b should hold floats (np.zeros(n_out)), got dtype {arr.dtype}",
            inputs=inputs,
            expected=np.zeros(n_out),
            actual=arr,
            tags=("bias-init",),
        )


@suite.prop(
    "DenseLayer_init",
    "DenseLayer stores its activation (relu by default, else the one given) in .activation",
    exercise="DenseLayer",
    max_examples=5,
)
@given(activation=st.sampled_from([None, "sigmoid", "tanh", "identity", "relu"]))
@example(activation=None)
@example(activation="sigmoid")
def init_activation(student, activation):
    inputs = {"n_in": 3, "n_out": 5, "activation": activation or "default (relu)"}
    layer = new_layer(student, 3, 5, activation, inputs=inputs)
    got = student.call(layer, PROBE, path=("activation",), inputs=inputs)
    expected = ACTS[activation or "relu"](PROBE)
    expect_close(
        got,
        expected,
        inputs={**inputs, "z": PROBE},
        what=f"layer.activation(z) for activation {inputs['activation']}",
    )


@suite.prop(
    "DenseLayer_init",
    "DenseLayer's W is He-initialised: mean about 0 and standard deviation sqrt(2 / n_in) (within 5%)",
    exercise="DenseLayer",
    max_examples=2,
)
@given(
    sizes=st.sampled_from([(400, 300), (300, 400), (1, 20000), (50, 1000), (1000, 50)]),
    seed=st.integers(0, 2**32 - 1),
)
@example(sizes=(400, 300), seed=1)
@example(sizes=(1, 20000), seed=2)
@example(sizes=(1000, 50), seed=3)
def init_he_scale(student, sizes, seed):
    n_in, n_out = sizes
    inputs = {"n_in": n_in, "n_out": n_out}
    W = numeric(
        student.get(new_layer(student, n_in, n_out, seed=seed, inputs=inputs), "W", inputs=inputs),
        "W",
        inputs,
    )
    if W.size != n_in * n_out:
        raise Failure(
            f"W should have n_out * n_in = {n_in * n_out} entries, it has shape {W.shape}",
            inputs=inputs,
            tags=("weight-shape",),
            show_values=False,
        )
    scale = np.sqrt(2.0 / n_in)
    std, mean = float(np.std(W)), float(np.mean(W))
    if abs(std - scale) > 0.05 * scale or abs(mean) > 0.05 * scale:
        raise Failure(
            f"W's entries should have mean about 0 and std sqrt(2 / n_in) = {scale:.4g}; "
            f"they have mean {mean:.4g} and std {std:.4g}",
            inputs=inputs,
            expected={"mean": 0.0, "std": float(scale)},
            actual={"mean": mean, "std": std},
            tags=("init-scale",),
        )


# ---------------------------------------------------------------------- DenseLayer_forward


def _forward(student, problem):
    x, W, b, activation = problem
    inputs = {"x": x, "W": W, "b": b, "activation": activation}
    layer = layer_with(student, W, b, activation, inputs)
    try:
        got = student.call(layer, x, path=("forward",), inputs=inputs)
    except Failure as failure:
        # x @ W (no transpose) cannot work with W of shape (n_out, n_in) when n_in != n_out
        if "matmul" in failure.message and np.shape(x)[-1] != W.shape[0]:
            failure.tags = (*failure.tags, "untransposed-weight")
        raise
    return layer, got, inputs


def _expect_forward(student, problem) -> None:
    """layer.forward(x) must equal activation(x @ W.T + b), tagged with the known wrong answers."""
    x, W, b, activation = problem
    _, got, inputs = _forward(student, problem)
    act = ACTS[activation]
    expect_close(
        got,
        act(x @ W.T + b),
        inputs=inputs,
        what="layer.forward(x)",
        wrong_answers=dense_wrongs(x, W, b, act),
    )


@suite.prop(
    "DenseLayer_forward",
    "layer.forward(x) returns activation(x @ W.T + b) for a batch x of shape (B, n_in)",
    exercise="DenseLayer",
    max_examples=10,
)
@given(problem=dense_problems())
@example(problem=(X42, W32, B3, "relu"))
@example(problem=(np.array([[1, 2], [3, 4]]), W32, B3, "relu"))
@example(
    problem=(np.array([[1.0, -2.0, 0.5]]), np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]]), B3[:2], "tanh")
)
def forward_batch(student, problem):
    _expect_forward(student, problem)


@suite.prop(
    "DenseLayer_forward",
    "layer.forward(x) of a single vector x (n_in,) returns activation(x @ W.T + b) of shape (n_out,)",
    exercise="DenseLayer",
    max_examples=8,
)
@given(problem=dense_problems(batch=False))
@example(problem=(np.array([2.0, 3.0]), W32, B3, "relu"))
def forward_single(student, problem):
    _expect_forward(student, problem)


@suite.prop(
    "DenseLayer_forward",
    "layer.forward uses W.T also when W is square (n_in == n_out), where a missing transpose keeps the shape",
    exercise="DenseLayer",
    max_examples=8,
)
@given(problem=dense_problems(square=True, activations=("identity", "tanh")))
@example(
    problem=(np.array([[1.0, 2.0]]), np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, -1.0]), "identity")
)
def forward_square(student, problem):
    _expect_forward(student, problem)


@suite.prop("DenseLayer_forward", "layer.forward(x) does not change x", exercise="DenseLayer", max_examples=5)
@given(problem=st.one_of(dense_problems(), dense_problems(batch=False)))
@example(problem=(X42, W32, B3, "relu"))
@example(problem=(np.array([[-1.0, -2.0]]), W32, B3, "identity"))
def forward_keeps_input(student, problem):
    _, _, inputs = _forward(student, problem)
    expect_unchanged_inputs(student, "layer.forward(x)", inputs, args=("x",))


# ---------------------------------------------------------------------- DenseLayer_stores_z_h

Z_ACTS = ("relu", "sigmoid", "tanh")  # not the identity: z and h must differ


@suite.prop(
    "DenseLayer_stores_z_h",
    "after layer.forward(x), layer.z is the pre-activation x @ W.T + b (before the activation)",
    exercise="DenseLayer",
    max_examples=10,
)
@given(problem=st.one_of(dense_problems(activations=Z_ACTS), dense_problems(batch=False, activations=Z_ACTS)))
@example(problem=(X42, W32, B3, "relu"))
@example(problem=(X42, W32, B3, "sigmoid"))
@example(problem=(np.array([1.0, -1.0]), W32, B3, "relu"))
def stores_z(student, problem):
    x, W, b, activation = problem
    layer, _, inputs = _forward(student, problem)
    z = student.get(layer, "z", inputs=inputs)
    z_overwritten = ("z-overwritten-by-activation", lambda: ACTS[activation](x @ W.T + b))
    expect_close(
        z,
        x @ W.T + b,
        inputs=inputs,
        what="layer.z",
        wrong_answers=[*dense_wrongs(x, W, b, lambda v: v), z_overwritten],
    )


@suite.prop(
    "DenseLayer_stores_z_h",
    "after layer.forward(x), layer.h is activation(z) and is the value forward returned",
    exercise="DenseLayer",
    max_examples=8,
)
@given(problem=st.one_of(dense_problems(), dense_problems(batch=False)))
@example(problem=(X42, W32, B3, "relu"))
@example(problem=(X42, W32, B3, "sigmoid"))
def stores_h(student, problem):
    x, W, b, activation = problem
    layer, returned, inputs = _forward(student, problem)
    h = student.get(layer, "h", inputs=inputs)
    act = ACTS[activation]
    expect_close(h, act(x @ W.T + b), inputs=inputs, what="layer.h", wrong_answers=dense_wrongs(x, W, b, act))
    expect_close(returned, h, inputs=inputs, what="the value forward returned (it should be layer.h)")


@st.composite
def two_calls(draw):
    n_in, n_out = draw(widths()), draw(widths())
    W, b = draw(arrays((n_out, n_in))), draw(arrays((n_out,)))
    x1, x2 = draw(inputs_for(n_in)), draw(inputs_for(n_in))
    return x1, x2, W, b, draw(st.sampled_from(Z_ACTS))


@suite.prop(
    "DenseLayer_stores_z_h",
    "z and h describe the latest call: after forward(x1) then forward(x2) they are those of x2",
    exercise="DenseLayer",
    max_examples=10,
)
@given(calls=two_calls())
@example(calls=(X42, np.array([1.0, -1.0]), W32, B3, "relu"))
@example(calls=(np.zeros((5, 2)), np.ones((2, 2)), W32, B3, "sigmoid"))
def stores_latest(student, calls):
    x1, x2, W, b, activation = calls
    act = ACTS[activation]
    inputs = {"x1": x1, "x2": x2, "W": W, "b": b, "activation": activation}
    layer = layer_with(student, W, b, activation, inputs)
    student.call(layer, x1, path=("forward",), inputs=inputs)
    student.call(layer, x2, path=("forward",), inputs=inputs)
    z1, z2 = x1 @ W.T + b, x2 @ W.T + b
    for name, first, latest in (("z", z1, z2), ("h", act(z1), act(z2))):
        got = student.get(layer, name, inputs=inputs)
        wrongs = [("stale-cache", lambda first=first: first)]
        wrongs += dense_wrongs(x2, W, b, act if name == "h" else lambda v: v)
        if name == "z":
            wrongs.append(("z-overwritten-by-activation", lambda: act(z2)))
        expect_close(
            got,
            latest,
            inputs=inputs,
            what=f"layer.{name} after forward(x1), forward(x2)",
            wrong_answers=wrongs,
        )


# ---------------------------------------------------------------------- NeuralNetwork_forward

OUTPUTS = (None, "sigmoid", "identity", "tanh", "relu")  # None: the default, sigmoid


def new_network(student, sizes, output, seed=0, inputs=None) -> int:
    args = (list(sizes),) if output is None else (list(sizes), {"__fn__": output})
    return handle_id(student.call("NeuralNetwork", *args, seed=seed, inputs=inputs), "NeuralNetwork(...)")


@st.composite
def network_problems(draw, max_layers=3):
    sizes = draw(layer_sizes(1, max_layers, 5))
    weights = [draw(arrays((n_out, n_in))) for n_in, n_out in zip(sizes, sizes[1:])]
    biases = [draw(arrays((n_out,))) for n_out in sizes[1:]]
    return draw(inputs_for(sizes[0])), sizes, weights, biases, draw(st.sampled_from(OUTPUTS))


def _output_name(output):
    return output or "default (sigmoid)"


@suite.prop(
    "NeuralNetwork_forward",
    "NeuralNetwork(layer_sizes) has len(layer_sizes) - 1 layers, layer l with W of shape (n_l, n_{l-1})",
    exercise="NeuralNetwork",
    max_examples=8,
)
@given(sizes=layer_sizes(1, 4, 6))
@example(sizes=[4, 8, 4, 1])
@example(sizes=[2, 1])
@example(sizes=[3, 5, 4, 6, 2])
def network_structure(student, sizes):
    inputs = {"layer_sizes": sizes}
    net = new_network(student, sizes, None, inputs=inputs)
    count = student.length(net, "layers", inputs=inputs)
    if count != len(sizes) - 1:
        raise Failure(
            f"a network of widths {sizes} has {len(sizes) - 1} layers, got {count}",
            inputs=inputs,
            expected=len(sizes) - 1,
            actual=count,
        )
    expected = [(n_out, n_in) for n_in, n_out in zip(sizes, sizes[1:])]
    got = [shape_of(student.get(net, "layers", i, "W", inputs=inputs)) for i in range(count)]
    if got != expected:
        raise Failure(
            "the layers' weight shapes should be (n_l, n_{l-1}) for consecutive widths",
            inputs=inputs,
            expected=expected,
            actual=got,
            tags=("weight-shape",) if got == [s[::-1] for s in expected] else (),
        )


@suite.prop(
    "NeuralNetwork_forward",
    "hidden layers use relu and the last layer uses output_activation (sigmoid by default)",
    exercise="NeuralNetwork",
    max_examples=8,
)
@given(sizes=layer_sizes(1, 4, 4), output=st.sampled_from(OUTPUTS))
@example(sizes=[4, 8, 4, 1], output=None)
@example(sizes=[2, 1], output=None)
@example(sizes=[2, 3, 2], output="identity")
def network_activations(student, sizes, output):
    inputs = {"layer_sizes": sizes, "output_activation": _output_name(output)}
    net = new_network(student, sizes, output, inputs=inputs)
    count = len(sizes) - 1
    for i in range(count):
        last = i == count - 1
        name = (output or "sigmoid") if last else "relu"
        probe_inputs = {**inputs, "z": PROBE}
        got = student.call(net, PROBE, path=("layers", i, "activation"), inputs=probe_inputs)
        if last:  # relu like the hidden layers, or another activation than the one asked for
            wrongs = [("wrong-output-activation", lambda f=f: f(PROBE)) for f in ACTS.values()]
        else:
            wrongs = [("missing-relu", lambda: PROBE)]
            if output not in ("identity", "relu"):  # the output activation used on a hidden layer
                wrongs.append(("wrong-output-activation", lambda: ACTS[output or "sigmoid"](PROBE)))
        expect_close(
            got,
            ACTS[name](PROBE),
            inputs=probe_inputs,
            what=f"layers[{i}].activation(z) ({'output' if last else 'hidden'} layer, should be {name})",
            wrong_answers=wrongs,
        )


@suite.prop(
    "NeuralNetwork_forward",
    "net.forward(x) runs x through every layer: relu on hidden layers, output_activation on the last",
    exercise="NeuralNetwork",
    max_examples=10,
)
@given(problem=network_problems())
@example(
    problem=(
        X42,
        [2, 3, 1],
        [W32, np.array([[1.0, -1.0, 2.0]])],
        [B3, np.array([-4.0])],
        None,
    )
)
@example(problem=(np.array([0.0, 0.0]), [2, 1], [np.array([[1.0, -1.0]])], [np.array([-3.0])], None))
def network_forward(student, problem):
    x, sizes, weights, biases, output = problem
    inputs = {"x": x, "layer_sizes": sizes, "weights": weights, "biases": biases}
    inputs["output_activation"] = _output_name(output)
    net = new_network(student, sizes, output, inputs=inputs)
    for i, (W, b) in enumerate(zip(weights, biases)):
        student.set(net, ("layers", i, "W"), W)
        student.set(net, ("layers", i, "b"), b)
    got = student.call(net, x, path=("forward",), inputs=inputs)
    out = ACTS[output or "sigmoid"]
    expect_close(
        got,
        stack(x, weights, biases, ref.relu, out),
        inputs=inputs,
        what="net.forward(x)",
        wrong_answers=[
            *(
                ("wrong-output-activation", lambda f=f: stack(x, weights, biases, ref.relu, f))
                for name, f in ACTS.items()
                if name not in ("identity", output or "sigmoid")
            ),
            ("missing-relu", lambda: stack(x, weights, biases, lambda z: z, out)),
            ("last-layer-not-activated", lambda: stack(x, weights, biases, ref.relu, lambda z: z)),
            ("single-vector-shape", lambda: stack(np.atleast_2d(x), weights, biases, ref.relu, out)),
        ],
    )


@suite.prop(
    "NeuralNetwork_forward",
    "after net.forward(x), layers[0].z = x @ W.T + b, each layers[i].h is the input of layers[i + 1], "
    "and the last h is returned",
    exercise="NeuralNetwork",
    max_examples=6,
)
@given(problem=network_problems())
@example(problem=(np.ones((16, 4)), [4, 8, 4, 1], None, None, None))
def network_chains_layers(student, problem):
    x, sizes, _, biases, output = problem
    inputs = {"x": x, "layer_sizes": sizes, "output_activation": _output_name(output)}
    net = new_network(student, sizes, output, seed=177, inputs=inputs)
    if biases is not None:  # nonzero biases, so that a bias that is not added shows
        for i, b in enumerate(biases):
            student.set(net, ("layers", i, "b"), b)
    returned = student.call(net, x, path=("forward",), inputs=inputs)
    h_prev = np.asarray(x, dtype=float)
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        W = numeric(student.get(net, "layers", i, "W", inputs=inputs), f"layers[{i}].W", inputs)
        b = numeric(student.get(net, "layers", i, "b", inputs=inputs), f"layers[{i}].b", inputs)
        if W.shape != (n_out, n_in) or b.shape != (n_out,):
            raise Failure(
                f"layers[{i}] should have W of shape {(n_out, n_in)} and b of shape {(n_out,)}, "
                f"got {W.shape} and {b.shape}",
                inputs=inputs,
                tags=("weight-shape",) if W.shape == (n_in, n_out) else (),
                show_values=False,
            )
        z = student.get(net, "layers", i, "z", inputs=inputs)
        source = "x" if i == 0 else f"layers[{i - 1}].h"
        expected = h_prev @ W.T + b
        act = ACTS[(output or "sigmoid") if i == len(sizes) - 2 else "relu"]
        expect_close(
            z,
            expected,
            inputs=inputs,
            what=f"layers[{i}].z (it should be {source} @ layers[{i}].W.T + layers[{i}].b)",
            wrong_answers=[("z-overwritten-by-activation", lambda act=act, expected=expected: act(expected))],
        )
        h_prev = numeric(student.get(net, "layers", i, "h", inputs=inputs), f"layers[{i}].h", inputs)
        if h_prev.shape != expected.shape:
            raise Failure(
                f"layers[{i}].h has shape {h_prev.shape}, expected {expected.shape} (the shape of its z)",
                inputs=inputs,
                show_values=False,
            )
    expect_close(returned, h_prev, inputs=inputs, what="net.forward(x) (it should return the last layer's h)")


@suite.prop(
    "NeuralNetwork_forward", "net.forward(x) does not change x", exercise="NeuralNetwork", max_examples=4
)
@given(problem=network_problems(max_layers=2))
def network_keeps_input(student, problem):
    x, sizes, _, _, output = problem
    inputs = {"x": x, "layer_sizes": sizes}
    net = new_network(student, sizes, output, inputs=inputs)
    student.call(net, x, path=("forward",), inputs=inputs)
    expect_unchanged_inputs(student, "net.forward(x)", inputs, args=("x",))

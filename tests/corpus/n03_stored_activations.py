"""03_stored_activations: DenseLayer and NeuralNetwork."""

from tests.corpus import Bug

# A correct DenseLayer, to build bugs in one method only.
_INIT = """
    def __init__(self, n_in, n_out, activation=relu):
        self.W = np.random.randn(n_out, n_in) * np.sqrt(2.0 / n_in)
        self.b = np.zeros(n_out)
        self.activation = activation
        self.z = None
        self.h = None
"""
_FORWARD = """
    def forward(self, x):
        self.z = np.asarray(x) @ self.W.T + self.b
        self.h = self.activation(self.z)
        return self.h
"""

# A correct NeuralNetwork that does not use the cell's DenseLayer: a bug in DenseLayer then
# costs points in the DenseLayer cells only.
_OWN_NETWORK = """
class NeuralNetwork:
    class _Layer:
        def __init__(self, n_in, n_out, activation):
            self.W = np.random.randn(n_out, n_in) * np.sqrt(2.0 / n_in)
            self.b = np.zeros(n_out)
            self.activation = activation

        def forward(self, x):
            self.z = x @ self.W.T + self.b
            self.h = self.activation(self.z)
            return self.h

    def __init__(self, layer_sizes, output_activation=sigmoid):
        sizes = list(layer_sizes)
        L = len(sizes) - 1
        self.layers = [
            self._Layer(sizes[i], sizes[i + 1], relu if i < L - 1 else output_activation) for i in range(L)
        ]

    def forward(self, x):
        h = np.asarray(x, dtype=float)
        for layer in self.layers:
            h = layer.forward(h)
        return h
"""


def _dense(init: str = _INIT, forward: str = _FORWARD) -> dict[str, str]:
    return {
        "DenseLayer_solution": f"class DenseLayer:{init}{forward}",
        "NeuralNetwork_solution": _OWN_NETWORK,
    }


def _network(init: str, forward: str = "") -> dict[str, str]:
    forward = (
        forward
        or """
    def forward(self, x):
        h = x
        for layer in self.layers:
            h = layer.forward(h)
        return h
"""
    )
    return {"NeuralNetwork_solution": f"class NeuralNetwork:{init}{forward}"}


CORRECT = {
    "einsum_normal_reduce": {
        "DenseLayer_solution": """
class DenseLayer:
    def __init__(self, n_in, n_out, activation=relu):
        self.W = np.random.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))
        self.b = np.zeros((n_out,))
        self.activation = activation

    def forward(self, x):
        z = np.einsum("...i,oi->...o", np.asarray(x, dtype=float), self.W) + self.b
        self.z, self.h = z, self.activation(z)
        return self.h
""",
        "NeuralNetwork_solution": """
class NeuralNetwork:
    def __init__(self, layer_sizes, output_activation=sigmoid):
        sizes = list(layer_sizes)
        acts = [relu] * (len(sizes) - 2) + [output_activation]
        self.layers = [DenseLayer(a, b, f) for a, b, f in zip(sizes, sizes[1:], acts)]

    def forward(self, x):
        from functools import reduce

        return reduce(lambda h, layer: layer.forward(h), self.layers, x)
""",
    },
    "column_form_and_properties": {
        "DenseLayer_solution": """
class DenseLayer:
    def __init__(self, n_in, n_out, activation=relu):
        self.W = np.random.randn(n_in, n_out).T / np.sqrt(n_in / 2.0)   # transposed draw
        self.b = np.zeros(n_out, dtype=np.float64)
        self.activation = activation
        self._cache = {}

    @property
    def z(self):
        return self._cache.get("z")

    @property
    def h(self):
        return self._cache.get("h")

    def forward(self, x):
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            z = self.W @ x + self.b
        else:
            z = (self.W @ x.T).T + self.b
        self._cache = {"z": z, "h": self.activation(z)}
        return self._cache["h"]
""",
        "NeuralNetwork_solution": """
class NeuralNetwork:
    def __init__(self, layer_sizes, output_activation=sigmoid):
        self.layers = []
        n = len(layer_sizes) - 1
        for i in range(n):
            act = output_activation if i == n - 1 else relu
            self.layers.append(DenseLayer(layer_sizes[i], layer_sizes[i + 1], activation=act))

    def forward(self, x):
        return self._through(x, 0)

    def _through(self, h, i):
        if i == len(self.layers):
            return h
        return self._through(self.layers[i].forward(h), i + 1)
""",
    },
    "loops_and_copies": {
        "DenseLayer_solution": """
class DenseLayer:
    def __init__(self, n_in, n_out, activation=relu):
        self.W = np.random.standard_normal((n_out, n_in)) * (2.0 / n_in) ** 0.5
        self.b = np.zeros(n_out)
        self.activation = activation
        self.z = self.h = None

    def forward(self, x):
        x = np.array(x, dtype=float)            # a copy: x is never touched
        rows = np.atleast_2d(x)
        z = np.empty((rows.shape[0], self.W.shape[0]))
        for i, row in enumerate(rows):
            z[i] = np.dot(self.W, row) + self.b
        if x.ndim == 1:
            z = z[0]
        self.z = z.copy()
        self.h = np.asarray(self.activation(z))
        return self.h
""",
        "NeuralNetwork_solution": """
class NeuralNetwork:
    def __init__(self, layer_sizes, output_activation=sigmoid):
        sizes = [int(n) for n in layer_sizes]
        self.layers = [DenseLayer(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.layers[-1].activation = output_activation

    def forward(self, x):
        out = x
        for i in range(len(self.layers)):
            out = self.layers[i].forward(out)
        return self.layers[-1].h
""",
    },
}

BUGGY = {
    "weights_transposed_shape": Bug(
        _dense(
            init=_INIT.replace("np.random.randn(n_out, n_in)", "np.random.randn(n_in, n_out)"),
            forward=_FORWARD.replace("self.W.T", "self.W"),
        ),
        "DenseLayer_init",
        "weight-shape",
    ),
    "bias_ones": Bug(
        _dense(init=_INIT.replace("np.zeros(n_out)", "np.ones(n_out)")), "DenseLayer_init", "bias-init"
    ),
    "bias_integer_zeros": Bug(
        _dense(init=_INIT.replace("np.zeros(n_out)", "np.zeros(n_out, dtype=int)")),
        "DenseLayer_init",
        "bias-init",
    ),
    "lecun_scale": Bug(
        _dense(init=_INIT.replace("np.sqrt(2.0 / n_in)", "np.sqrt(1.0 / n_in)")),
        "DenseLayer_init",
        "init-scale",
    ),
    "small_constant_scale": Bug(
        _dense(init=_INIT.replace("np.sqrt(2.0 / n_in)", "0.01")), "DenseLayer_init", "init-scale"
    ),
    "forward_untransposed": Bug(
        _dense(forward=_FORWARD.replace("self.W.T", "self.W")), "DenseLayer_forward", "untransposed-weight"
    ),
    "forward_missing_bias": Bug(
        _dense(forward=_FORWARD.replace(" + self.b", "")), "DenseLayer_forward", "missing-bias"
    ),
    "forward_always_2d": Bug(
        _dense(forward=_FORWARD.replace("np.asarray(x)", "np.atleast_2d(x)")),
        "DenseLayer_forward",
        "single-vector-shape",
    ),
    "z_overwritten_by_activation": Bug(
        _dense(
            forward="""
    def forward(self, x):
        self.z = np.asarray(x) @ self.W.T + self.b
        self.z = self.activation(self.z)     # z overwritten
        self.h = self.z
        return self.h
"""
        ),
        "DenseLayer_stores_z_h",
        "z-overwritten-by-activation",
    ),
    "cache_filled_once": Bug(
        _dense(
            forward="""
    def forward(self, x):
        z = np.asarray(x) @ self.W.T + self.b
        h = self.activation(z)
        if self.z is None:                   # only the first call is remembered
            self.z, self.h = z, h
        return h
"""
        ),
        "DenseLayer_stores_z_h",
        "stale-cache",
    ),
    "output_activation_ignored": Bug(
        _network(
            """
    def __init__(self, layer_sizes, output_activation=sigmoid):
        self.layers = [DenseLayer(a, b) for a, b in zip(layer_sizes, layer_sizes[1:])]   # all relu
"""
        ),
        "NeuralNetwork_forward",
        "wrong-output-activation",
    ),
    "output_activation_everywhere": Bug(
        _network(
            """
    def __init__(self, layer_sizes, output_activation=sigmoid):
        self.layers = [
            DenseLayer(a, b, activation=output_activation) for a, b in zip(layer_sizes, layer_sizes[1:])
        ]
"""
        ),
        "NeuralNetwork_forward",
        "wrong-output-activation",
    ),
    "sigmoid_hardcoded_on_output": Bug(
        _network(
            """
    def __init__(self, layer_sizes, output_activation=sigmoid):
        pairs = list(zip(layer_sizes, layer_sizes[1:]))
        self.layers = [DenseLayer(a, b) for a, b in pairs[:-1]]
        self.layers.append(DenseLayer(*pairs[-1], activation=sigmoid))   # the argument is ignored
"""
        ),
        "NeuralNetwork_forward",
        "wrong-output-activation",
    ),
    "hidden_layers_linear": Bug(
        _network(
            """
    def __init__(self, layer_sizes, output_activation=sigmoid):
        pairs = list(zip(layer_sizes, layer_sizes[1:]))
        self.layers = [DenseLayer(a, b, activation=lambda z: z) for a, b in pairs[:-1]]
        self.layers.append(DenseLayer(*pairs[-1], activation=output_activation))
"""
        ),
        "NeuralNetwork_forward",
        "missing-relu",
    ),
    "layer_sizes_swapped": Bug(
        _network(
            """
    def __init__(self, layer_sizes, output_activation=sigmoid):
        pairs = list(zip(layer_sizes, layer_sizes[1:]))
        self.layers = [DenseLayer(n_out, n_in) for n_in, n_out in pairs[:-1]]
        self.layers.append(DenseLayer(pairs[-1][1], pairs[-1][0], activation=output_activation))
""",
            """
    def forward(self, x):
        h = x
        for layer in self.layers:
            h = layer.activation(h @ layer.W + layer.b)
            layer.z, layer.h = h, h
        return h
""",
        ),
        "NeuralNetwork_forward",
        "weight-shape",
    ),
    "returns_logits": Bug(
        _network(
            """
    def __init__(self, layer_sizes, output_activation=sigmoid):
        pairs = list(zip(layer_sizes, layer_sizes[1:]))
        self.layers = [DenseLayer(a, b) for a, b in pairs[:-1]]
        self.layers.append(DenseLayer(*pairs[-1], activation=output_activation))
""",
            """
    def forward(self, x):
        h = x
        for layer in self.layers:
            h = layer.forward(h)
        return self.layers[-1].z          # the pre-activation of the output layer
""",
        ),
        "NeuralNetwork_forward",
        "last-layer-not-activated",
    ),
}

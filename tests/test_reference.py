"""nnla_ref is right: each function checked against an independent identity."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import nnla_ref as ref
from autograder.judge.strategies import arrays, shapes
from tests.conftest import plugin_module

affine_problems, layer_chains, layer_sizes = (
    getattr(plugin_module("strategies"), name) for name in ("affine_problems", "layer_chains", "layer_sizes")
)

settings.register_profile("nnla-ref", derandomize=True, database=None, deadline=None, max_examples=60)
settings.load_profile("nnla-ref")


@given(layer_sizes(max_width=50))
def test_count_params_equals_the_sizes_of_a_built_networks_arrays(sizes):
    np.random.seed(0)
    net = ref.NeuralNetwork(sizes)
    assert ref.count_params(sizes) == sum(layer.W.size + layer.b.size for layer in net.layers)


def test_count_params_is_exact_for_huge_layers():
    n = 10**6
    assert ref.count_params([n, n, n]) == 2 * (n * n + n)
    assert ref.count_params(np.array([n, n], dtype=np.int64)) == n * n + n
    assert ref.count_params([784, 256, 128, 10]) == 235146


@pytest.mark.parametrize("sizes", [[], [5], [3, 0], [3, -2], [3, 2.5], [True, 3], ["4", 2]])
def test_count_params_rejects_invalid_sizes(sizes):
    with pytest.raises(ValueError):
        ref.count_params(sizes)


@given(affine_problems())
def test_batch_rows_equal_per_vector_results(problem):
    X, W, b = problem
    batch = np.atleast_2d(X)
    out = ref.affine_rows(batch, W, b)
    assert out.shape == (batch.shape[0], W.shape[0])
    for row, x in zip(out, batch):
        assert np.allclose(row, W @ x + b)


@given(affine_problems())
def test_rows_and_columns_forms_agree(problem):
    X, W, b = problem
    rows, cols = ref.affine_rows(X, W, b), ref.affine_cols(X, W, b)
    assert rows.shape == cols.shape == X.shape[:-1] + (W.shape[0],)
    assert np.allclose(rows, cols)


@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4))
def test_dense_layer_stores_z_and_h_of_the_latest_call(n_in, n_out, batch):
    np.random.seed(1)
    layer = ref.DenseLayer(n_in, n_out)
    x1, x2 = np.random.randn(n_in), np.random.randn(batch, n_in)
    layer.forward(x1)
    x2_copy = x2.copy()
    h = layer.forward(x2)
    assert np.array_equal(x2, x2_copy)
    assert layer.z.shape == layer.h.shape == (batch, n_out)
    assert np.allclose(layer.z, np.array([layer.W @ x + layer.b for x in x2]))
    assert np.array_equal(h, layer.h) and np.array_equal(layer.h, ref.relu(layer.z))


def test_dense_layer_uses_he_initialisation():
    np.random.seed(2)
    layer = ref.DenseLayer(400, 300)
    assert layer.W.shape == (300, 400) and np.array_equal(layer.b, np.zeros(300))
    assert abs(layer.W.std() / math.sqrt(2 / 400) - 1) < 0.02
    assert abs(layer.W.mean()) < 0.01 * math.sqrt(2 / 400) * 10


@given(layer_sizes(min_layers=1, max_layers=4))
def test_network_chains_layers_with_relu_hidden_and_sigmoid_output(sizes):
    np.random.seed(3)
    net = ref.NeuralNetwork(sizes)
    x = np.random.randn(3, sizes[0])
    out = net.forward(x)
    assert [layer.activation for layer in net.layers] == [ref.relu] * (len(sizes) - 2) + [ref.sigmoid]
    for before, after in zip(net.layers, net.layers[1:]):
        assert np.allclose(after.z, before.h @ after.W.T + after.b)
    assert np.array_equal(out, net.layers[-1].h) and out.shape == (3, sizes[-1])


@given(arrays(shapes(), st.floats(-1e300, 1e300)))
@example(np.array(0.0))
@example(np.zeros((0, 3)))
@example(np.array([-1e308, -710.0, -20.0, 20.0, 710.0, 1e308]))
def test_tanh_is_odd_bounded_warning_free_and_equals_numpy(z):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            t, t_neg = ref.tanh(z), ref.tanh(-z)
    assert t.shape == np.shape(z) and t.dtype == np.float64
    assert np.all(np.abs(t) <= 1.0)
    assert np.array_equal(t_neg, -t)
    assert np.allclose(t, np.tanh(z), rtol=1e-12, atol=1e-15)


@given(arrays(shapes(min_dims=1), st.floats(-1e300, 1e300)))
def test_sigmoid_is_stable_and_symmetric(z):
    with np.errstate(all="raise", under="ignore"):
        s = ref.sigmoid(z)
    assert np.all((s >= 0) & (s <= 1))
    assert np.allclose(s + ref.sigmoid(-z), 1.0)


@given(layer_chains(), st.integers(1, 4), st.data())
def test_forward_stack_activates_every_layer_including_the_last(chain, batch, data):
    weights, biases = chain
    X = data.draw(arrays((batch, weights[0].shape[1])))
    H = ref.forward_stack(X, weights, biases, ref.tanh)
    expected = X
    for W, b in zip(weights, biases):
        expected = np.tanh(expected @ W.T + b)
    assert np.allclose(H, expected)


@given(arrays(shapes(min_dims=1).filter(lambda s: math.prod(s) > 0)))
def test_summarize_matches_population_statistics(H):
    s = ref.summarize(H)
    assert set(s) == {"mean", "std", "frac_positive"}
    assert all(type(v) is float for v in s.values())
    flat = H.ravel().tolist()
    mean = sum(flat) / len(flat)
    assert math.isclose(s["mean"], mean, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(
        s["std"], math.sqrt(sum((v - mean) ** 2 for v in flat) / len(flat)), rel_tol=1e-9, abs_tol=1e-9
    )
    assert s["frac_positive"] == sum(v > 0 for v in flat) / len(flat)


def test_compare_relu_tanh_runs_both_activations_on_the_same_weights():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4))
    weights = [rng.standard_normal((8, 4)), rng.standard_normal((8, 8)), rng.standard_normal((3, 8))]
    biases = [np.zeros(8), np.zeros(8), np.zeros(3)]
    out = ref.compare_relu_tanh(X, weights, biases)
    assert out["relu"] == ref.summarize(ref.forward_stack(X, weights, biases, ref.relu))
    assert out["relu"]["frac_positive"] <= 1.0 and out["relu"]["mean"] >= 0
    assert abs(out["tanh"]["mean"]) < out["relu"]["mean"]


@given(layer_chains(max_layers=5), st.data())
def test_collapse_equals_applying_the_layers_in_turn(chain, data):
    weights, biases = chain
    x = data.draw(arrays((weights[0].shape[1],)))
    copies = [W.copy() for W in weights]
    W_eff = ref.collapse_linear(weights)
    h = x
    for W in weights:
        h = W @ h
    assert W_eff.shape == (weights[-1].shape[0], weights[0].shape[1])
    assert np.allclose(W_eff @ x, h, rtol=1e-9, atol=1e-6)
    assert all(np.array_equal(W, c) for W, c in zip(weights, copies))

    W_aff, b_aff = ref.collapse_affine(weights, biases)
    h = x
    for W, b in zip(weights, biases):
        h = W @ h + b
    assert np.allclose(W_aff @ x + b_aff, h, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("weights", [[], [np.ones((2, 3)), np.ones((2, 3))], [np.ones(3)]])
def test_collapse_rejects_empty_or_unchained(weights):
    with pytest.raises(ValueError):
        ref.collapse_linear(weights)


@given(st.integers(1, 30), st.integers(1, 5), st.data())
def test_halfspace_mask_equals_activation_positive(n, n_hidden, data):
    grid = data.draw(arrays((n, 2)))
    W1 = data.draw(arrays((n_hidden, 2)))
    b1 = data.draw(arrays((n_hidden,)))
    H = ref.hidden_activations(grid, W1, b1)
    assert H.shape == (n, n_hidden)
    for i in range(n_hidden):
        assert np.array_equal(ref.active_region(grid, W1[i], b1[i]), H[:, i] > 0)


def test_active_region_excludes_the_boundary():
    grid = np.array([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
    assert ref.active_region(grid, np.array([1.0, 0.0]), 0.0).tolist() == [False, True, False]


@pytest.mark.parametrize(("n_hidden", "n_cols", "n_axes"), [(6, 3, 6), (4, 3, 6), (1, 3, 3), (5, 2, 6)])
def test_plot_neuron_maps_has_one_titled_map_per_neuron(n_hidden, n_cols, n_axes):
    import matplotlib.pyplot as plt

    xx, yy = np.meshgrid(np.linspace(-1, 1, 7), np.linspace(-1, 1, 5))
    H = np.random.default_rng(0).random((xx.size, n_hidden))
    fig = ref.plot_neuron_maps(xx, yy, H, n_cols=n_cols)
    try:
        assert len(fig.axes) == n_axes
        shown = [ax for ax in fig.axes if ax.axison]
        assert [ax.get_title() for ax in shown] == [f"Hidden neuron {i + 1}" for i in range(n_hidden)]
        assert all(ax.collections for ax in shown)
    finally:
        plt.close(fig)

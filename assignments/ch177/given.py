"""Objects the judge passes to student code by name, plain numpy and independent of the
student's: the chapter's activations, and the functions compare_relu_tanh builds on, put in
place of the student's while compare_relu_tanh is judged (so that a mistake in tanh, forward_stack
or summarize costs points only where that function is tested). Run in the student's worker
before any student code, and before the banned-call tripwires, so `tanh` here is numpy's own."""

import numpy as np


def relu(z):
    return np.maximum(0, z)


def identity(z):
    return z


def sigmoid(z):
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


tanh = np.tanh


def forward_stack(X, weights, biases, activation):
    H = np.asarray(X, dtype=float)
    for W, b in zip(weights, biases):
        H = activation(H @ np.asarray(W, dtype=float).T + np.asarray(b, dtype=float))
    return H


def summarize(H):
    H = np.asarray(H, dtype=float)
    return {"mean": float(np.mean(H)), "std": float(np.std(H)), "frac_positive": float(np.mean(H > 0))}

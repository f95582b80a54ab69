"""Objects the judge passes to student code by name: the chapter's activations, plain numpy and
independent of the student's. Run in the student's worker before any student code, and before
the banned-call tripwires, so `tanh` here is numpy's own."""

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

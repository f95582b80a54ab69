"""Hidden property suites, one module per notebook. Never released to students."""

from __future__ import annotations

import importlib

from autograder.judge.properties import Suite

MODULES = {
    "01_param_count": "param_count",
    "02_batch_forms": "batch_forms",
    "03_stored_activations": "stored_activations",
    "04_tanh_vs_relu": "tanh_vs_relu",
    "05_linear_collapse": "linear_collapse",
    "06_halfspace_neurons": "halfspace_neurons",
}


def suite_for(notebook: str) -> Suite | None:
    """The suite of a notebook, or None for a notebook the judge does not know."""
    module = MODULES.get(notebook)
    if module is None:
        return None
    return importlib.import_module(f"autograder.judge.suites.{module}").suite

"""The student contract of assignment ch177: which notebook defines which names."""

CONTRACT: dict[str, tuple[str, ...]] = {
    "01_param_count": ("count_params",),
    "02_batch_forms": ("affine_rows", "affine_cols"),
    "03_stored_activations": ("DenseLayer", "NeuralNetwork"),
    "04_tanh_vs_relu": ("tanh", "forward_stack", "summarize", "compare_relu_tanh"),
    "05_linear_collapse": ("collapse_linear", "collapse_affine"),
    "06_halfspace_neurons": ("hidden_activations", "active_region", "plot_neuron_maps"),
}


def name_tested_by(grade_id: str, notebook: str) -> str | None:
    """The contract name an autograded grade_id tests (the longest name it starts with)."""
    names = [n for n in CONTRACT.get(notebook, ()) if grade_id.startswith(n + "_")]
    return max(names, key=len) if names else None

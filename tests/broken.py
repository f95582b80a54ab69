"""Broken submissions: what students really hand in, each made from a full, correct submission.

Each case breaks the submission in one way and says which notebooks must then score 0 (every
other notebook keeps full marks) and a phrase the student's message must contain.
"""

from __future__ import annotations

import codecs
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat


@dataclass(frozen=True)
class BrokenCase:
    student: str
    breaks: Callable[[Path], None]
    zero: frozenset[str]  # notebooks that lose their points
    message: str  # a phrase of the student's message ("" when the submission is fine as it is)


def _edit(folder: Path, notebook: str, change: Callable[[dict], None]) -> None:
    path = folder / f"{notebook}.ipynb"
    nb = json.loads(path.read_text())
    change(nb)
    path.write_text(json.dumps(nb, indent=1))


def _cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def _insert_code(folder: Path, notebook: str, code: str) -> None:
    """A cell of the student's own, right after the title: the kernel runs it before the rest."""
    _edit(folder, notebook, lambda nb: nb["cells"].insert(1, nbformat.v4.new_code_cell(code)))


def kernel_exit(folder: Path) -> None:
    _insert_code(folder, "01_param_count", "import os\nos._exit(0)")


def exit_builtin(folder: Path) -> None:
    """`exit()` in a notebook asks Jupyter to close it; the kernel goes on, and so does grading."""
    _insert_code(folder, "02_batch_forms", "exit()")


def kernel_segfault(folder: Path) -> None:
    _insert_code(folder, "03_stored_activations", "import ctypes\nctypes.string_at(0)")


def kernel_abort(folder: Path) -> None:
    _insert_code(folder, "06_halfspace_neurons", "import os\nos.abort()")


def kernel_cpu_limit(folder: Path) -> None:
    """The kernel is killed at its CPU-time limit (set low here, to keep the test short)."""
    code = "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (1, 1))\nwhile True:\n    pass"
    _insert_code(folder, "04_tanh_vs_relu", code)


def kernel_ignores_interrupt(folder: Path) -> None:
    """A kernel that answers neither the cell nor the interrupt at the cell's time limit."""
    code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    _insert_code(folder, "02_batch_forms", code)


def kernel_exit_in_solution(folder: Path) -> None:
    """The same code in a solution cell ends the judge's run of it too: that exercise scores 0."""

    def leave(nb: dict) -> None:
        cell = _cell(nb, "count_params_solution")
        cell["source"] = "".join(cell["source"]) + "\nimport os\nos._exit(0)\n"

    _edit(folder, "01_param_count", leave)


def deep_nesting(folder: Path) -> None:
    """Metadata nested 10,000 levels deep: more than any JSON reader's recursion allows."""
    path = folder / "02_batch_forms.ipynb"
    nb = json.loads(path.read_text())
    nb["metadata"]["deep"] = "DEEP"
    path.write_text(json.dumps(nb).replace('"DEEP"', '{"a": ' * 10_000 + "1" + "}" * 10_000))


def timestamp_from_notepad(folder: Path) -> None:
    """An on-time date as Windows Notepad saves it: a byte-order mark and CRLF."""
    (folder / "timestamp.txt").write_bytes(codecs.BOM_UTF8 + b"2026-12-10 14:00:00\r\n")


def timestamp_in_words(folder: Path) -> None:
    (folder / "timestamp.txt").write_text("handed in on Tuesday\n")


def timestamp_in_another_format(folder: Path) -> None:
    (folder / "timestamp.txt").write_text("Dec 10, 2026 2:00 PM +0100\n")


def missing_notebook(folder: Path) -> None:
    (folder / "03_stored_activations.ipynb").unlink()


def extra_files(folder: Path) -> None:
    (folder / "notes.txt").write_text("my notes\n")
    (folder / "data").mkdir()
    (folder / "data" / "points.csv").write_text("x,y\n1,2\n")
    shutil.copy(folder / "02_batch_forms.ipynb", folder / "scratch.ipynb")
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "01_param_count-checkpoint.ipynb").write_text("{}")


def renamed_notebook(folder: Path) -> None:
    (folder / "01_param_count.ipynb").rename(folder / "01_param_count (1).ipynb")


def inside_a_folder(folder: Path) -> None:
    """The whole assignment folder uploaded (a Gradescope upload, an unzipped archive)."""
    inner = folder / "ch177 (submitted)" / "work"
    inner.mkdir(parents=True)
    for path in folder.glob("*.ipynb"):
        path.rename(inner / path.name)
    (inner / "02_batch_forms.ipynb").rename(inner / "02_batch_forms-Copy1.ipynb")
    shutil.copy(inner / "04_tanh_vs_relu.ipynb", folder / "ch177 (submitted)" / "04_tanh_vs_relu.ipynb")


def invalid_json(folder: Path) -> None:
    path = folder / "02_batch_forms.ipynb"
    path.write_text(path.read_text().replace('"cells": [', '"cells": [ oops', 1))


def truncated(folder: Path) -> None:
    path = folder / "04_tanh_vs_relu.ipynb"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def empty_file(folder: Path) -> None:
    (folder / "05_linear_collapse.ipynb").write_bytes(b"")


def binary_junk(folder: Path) -> None:
    (folder / "06_halfspace_neurons.ipynb").write_bytes(random.Random(6).randbytes(50_000))


def nbformat_v3(folder: Path) -> None:
    path = folder / "01_param_count.ipynb"
    nb = nbformat.read(path, as_version=4)
    path.write_text(nbformat.writes(nbformat.convert(nb, 3), version=3))


def deleted_cells(folder: Path) -> None:
    def delete(nb: dict) -> None:
        nb["cells"].remove(_cell(nb, "count_params_values"))
        del nb["cells"][0]  # the title

    _edit(folder, "01_param_count", delete)


def duplicated_cells(folder: Path) -> None:
    def duplicate(nb: dict) -> None:
        solution = _cell(nb, "count_params_solution")
        early = json.loads(json.dumps(solution))
        early["source"] = "def count_params(layer_sizes):\n    return 0\n"
        nb["cells"].insert(nb["cells"].index(solution), early)
        test = _cell(nb, "count_params_errors")
        nb["cells"].append(json.loads(json.dumps(test)))

    _edit(folder, "01_param_count", duplicate)


def edited_test_cell(folder: Path) -> None:
    def forge(nb: dict) -> None:
        test = _cell(nb, "count_params_values")
        test["source"] = "print('all good')"
        test["metadata"]["nbgrader"]["points"] = 100
        _cell(nb, "count_params_errors")["metadata"]["nbgrader"]["grade_id"] = "my_own_test"

    _edit(folder, "01_param_count", forge)


def deleted_grade_metadata(folder: Path) -> None:
    def strip(nb: dict) -> None:
        del _cell(nb, "collapse_linear_solution")["metadata"]["nbgrader"]
        del _cell(nb, "collapse_affine_values")["metadata"]["nbgrader"]

    _edit(folder, "05_linear_collapse", strip)


def wrong_kernelspec(folder: Path) -> None:
    def julia(nb: dict) -> None:
        nb["metadata"]["kernelspec"] = {"name": "julia-1.9", "display_name": "Julia 1.9", "language": "julia"}

    _edit(folder, "02_batch_forms", julia)


def huge_outputs(folder: Path) -> None:
    def flood(nb: dict) -> None:
        code = next(c for c in nb["cells"] if c["cell_type"] == "code")
        code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * 100_000_000}]

    _edit(folder, "04_tanh_vs_relu", flood)


def hangs_at_import(folder: Path) -> None:
    def hang(nb: dict) -> None:
        cell = _cell(nb, "collapse_linear_solution")
        cell["source"] = "import time\nwhile True:\n    time.sleep(1)\n" + "".join(cell["source"])

    _edit(folder, "05_linear_collapse", hang)


def symbolic_links(folder: Path) -> None:
    """Links to files the student may not read: the grader must not copy what they point at."""
    (folder / "01_param_count.ipynb").unlink()
    (folder / "01_param_count.ipynb").symlink_to("/etc/passwd")
    (folder / "secrets.txt").symlink_to("/etc/shadow")
    (folder / "zeros.csv").symlink_to("/dev/zero")


def empty_folder(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()


def unchanged(folder: Path) -> None:
    pass


ALL_NOTEBOOKS = frozenset(
    [
        "01_param_count",
        "02_batch_forms",
        "03_stored_activations",
        "04_tanh_vs_relu",
        "05_linear_collapse",
        "06_halfspace_neurons",
    ]
)

CASES = [
    BrokenCase(
        "missing-notebook", missing_notebook, frozenset(["03_stored_activations"]), "was not submitted"
    ),
    BrokenCase("extra-files", extra_files, frozenset(), "scratch.ipynb: not part of the assignment"),
    BrokenCase("renamed-notebook", renamed_notebook, frozenset(), "graded 01_param_count (1).ipynb"),
    BrokenCase(
        "inside-a-folder", inside_a_folder, frozenset(), "found in ch177 (submitted)/work/ and graded"
    ),
    BrokenCase("invalid-json", invalid_json, frozenset(["02_batch_forms"]), "is not valid JSON"),
    BrokenCase("truncated", truncated, frozenset(["04_tanh_vs_relu"]), "is cut off"),
    BrokenCase("empty-file", empty_file, frozenset(["05_linear_collapse"]), "is empty"),
    BrokenCase("binary-junk", binary_junk, frozenset(["06_halfspace_neurons"]), "binary data"),
    BrokenCase("nbformat-v3", nbformat_v3, frozenset(), "nbformat 3"),
    BrokenCase("deleted-cells", deleted_cells, frozenset(), "'count_params_values' had been deleted"),
    BrokenCase("duplicated-cells", duplicated_cells, frozenset(), "appears 2 times"),
    BrokenCase("edited-test-cell", edited_test_cell, frozenset(), "the original was restored"),
    BrokenCase("deleted-grade-metadata", deleted_grade_metadata, frozenset(), "lost its grading metadata"),
    BrokenCase("wrong-kernelspec", wrong_kernelspec, frozenset(), "asked for kernel 'julia-1.9'"),
    BrokenCase("huge-outputs", huge_outputs, frozenset(), "saved outputs (100.0 MB) were dropped"),
    BrokenCase("hangs-at-import", hangs_at_import, frozenset(["05_linear_collapse"]), ""),
    BrokenCase("Ana María López", unchanged, frozenset(), ""),
    BrokenCase("李 雷", unchanged, frozenset(), ""),
    BrokenCase("symbolic-links", symbolic_links, frozenset(["01_param_count"]), "symbolic link"),
    BrokenCase("empty-folder", empty_folder, ALL_NOTEBOOKS, "submission folder is empty"),
    BrokenCase(
        "kernel-exit",
        kernel_exit,
        frozenset(),
        "01_param_count.ipynb: the kernel stopped while running cell 2",
    ),
    BrokenCase("exit-builtin", exit_builtin, frozenset(), ""),
    BrokenCase(
        "kernel-segfault", kernel_segfault, frozenset(), "03_stored_activations.ipynb: the kernel stopped"
    ),
    BrokenCase("kernel-abort", kernel_abort, frozenset(), "06_halfspace_neurons.ipynb: the kernel stopped"),
    BrokenCase(
        "kernel-cpu-limit", kernel_cpu_limit, frozenset(), "04_tanh_vs_relu.ipynb: the kernel stopped"
    ),
    BrokenCase(
        "kernel-ignores-interrupt",
        kernel_ignores_interrupt,
        frozenset(),
        "02_batch_forms.ipynb: the kernel stopped",
    ),
    BrokenCase(
        "kernel-exit-in-solution",
        kernel_exit_in_solution,
        frozenset(["01_param_count"]),
        "the kernel stopped",
    ),
    BrokenCase("deep-nesting", deep_nesting, frozenset(["02_batch_forms"]), "levels deep"),
    BrokenCase("timestamp-from-notepad", timestamp_from_notepad, frozenset(), ""),
    BrokenCase("timestamp-in-words", timestamp_in_words, frozenset(), "which is not a date"),
    BrokenCase("timestamp-in-another-format", timestamp_in_another_format, frozenset(), ""),
    BrokenCase("kim[2]", unchanged, frozenset(), ""),
    BrokenCase("a*b?", unchanged, frozenset(), ""),
    BrokenCase("[ab]c", unchanged, frozenset(), ""),
]

# Student ids a page would read as markup: refused at intake, never graded.
REFUSED_IDS = ["<img src=x onerror=alert(1)>", "Tom & Jerry"]

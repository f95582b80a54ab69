"""The student self-check: `python selfcheck.py` in the assignment folder, and `nnla check`.

Student folders are built as a student would have them: the release notebooks, filled with the
source's solutions or with a mistake, next to the released selfcheck.py.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.notebooks import graded_items, nbgrader_meta, read
from autograder.submissions import full_solution, strip_solution_markers, write_submission
from tests.conftest import ASSIGNMENT, MANIFEST, REPO

pytestmark = pytest.mark.e2e  # runs the real tools; `-m 'not e2e'` leaves it out

RELEASE = REPO / "release" / ASSIGNMENT
SOURCE = REPO / "source" / ASSIGNMENT
SCRIPT = RELEASE / "selfcheck.py"  # the engine, the same for every assignment
CHECKS = RELEASE / "public_checks.py"  # this assignment's public checks
ENGINE = REPO / "autograder" / "check" / "selfcheck.py"  # the canonical engine
NOTEBOOKS = sorted(MANIFEST.contract)
ROW = re.compile(r"^(\d\d_\w+)\s+(\w+)\s+(pass|fail|not attempted|error|timed out)\s+([\d.]+)\s*$", re.M)
ALLOWED_PACKAGES = {"numpy", "matplotlib", "hypothesis", "pytest", "nbformat", "nbclient", "ipykernel"}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def statuses(self) -> dict[tuple[str, str], str]:
        return {(nb, fn): status for nb, fn, status, _ in ROW.findall(self.stdout)}

    @property
    def points(self) -> dict[tuple[str, str], float]:
        return {(nb, fn): float(points) for nb, fn, _, points in ROW.findall(self.stdout)}

    def section(self, notebook: str, function: str) -> str:
        """The details printed under the table for one function."""
        head = f"\n{notebook} / {function}: "
        assert head in self.stdout, self.stdout
        return self.stdout.split(head, 1)[1].split("\n\n", 1)[0]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NNLA_AUTOGRADE"}
    return {**env, **extra}


def selfcheck(folder: Path, *args: str, env: dict | None = None) -> Run:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "selfcheck.py", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        env=env or environment(),
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def student_folder(dest: Path, changes: dict[str, dict[str, str]] | None = None, solved: bool = True) -> Path:
    """Release notebooks filled with the full solution (or left as stubs), with `changes`
    (notebook -> grade_id -> cell source) on top, and the released selfcheck.py."""
    answers = full_solution(SOURCE) if solved else {}
    for notebook, cells in (changes or {}).items():
        answers.setdefault(notebook, {}).update(cells)
    write_submission(dest, RELEASE, SOURCE, answers)
    shutil.copy2(SCRIPT, dest)
    shutil.copy2(CHECKS, dest)
    return dest


def solution_code(notebook: str, grade_id: str) -> str:
    cells = read(SOURCE / f"{notebook}.ipynb").cells
    return next(
        strip_solution_markers(c.source) for c in cells if nbgrader_meta(c).get("grade_id") == grade_id
    )


def expected_points() -> dict[tuple[str, str], float]:
    points = {}
    for notebook in NOTEBOOKS:
        for item in graded_items(RELEASE / f"{notebook}.ipynb"):
            if item.autograded:
                name = max(
                    (n for n in MANIFEST.contract[notebook] if item.grade_id.startswith(n + "_")), key=len
                )
                points[notebook, name] = points.get((notebook, name), 0.0) + item.points
    return points


@pytest.fixture(scope="module")
def solved(tmp_path_factory) -> Path:
    return student_folder(tmp_path_factory.mktemp("solved") / ASSIGNMENT)


@pytest.fixture(scope="module")
def solved_run(solved) -> Run:
    return selfcheck(solved)


# ------------------------------------------------------------------ solutions, stubs, nnla check


def test_the_solutions_pass_every_public_check(solved, solved_run):
    run = solved_run
    assert run.returncode == 0, run.stdout
    assert run.stderr == ""
    assert run.statuses == {(nb, fn): "pass" for nb in NOTEBOOKS for fn in MANIFEST.contract[nb]}
    assert run.points == expected_points()
    assert sum(run.points.values()) == 27
    # the student's folder is left as it was: no .hypothesis, no __pycache__
    assert sorted(p.name for p in solved.iterdir()) == sorted(
        [*(f"{nb}.ipynb" for nb in NOTEBOOKS), "selfcheck.py", "public_checks.py"]
    )


def test_untouched_stubs_are_not_attempted(tmp_path):
    run = selfcheck(student_folder(tmp_path / ASSIGNMENT, solved=False))
    assert run.returncode != 0
    assert run.statuses == {(nb, fn): "not attempted" for nb in NOTEBOOKS for fn in MANIFEST.contract[nb]}
    assert "NotImplementedError" in run.stdout


def test_nnla_check_runs_the_same_check(solved, solved_run):
    done = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "check"],
        cwd=solved,
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == solved_run.stdout


def test_named_notebooks_only(solved):
    run = selfcheck(solved, "03_stored_activations.ipynb", "01_param_count")
    assert run.returncode == 0, run.stdout
    assert list(run.statuses) == [
        ("03_stored_activations", "DenseLayer"),
        ("03_stored_activations", "NeuralNetwork"),
        ("01_param_count", "count_params"),
    ]
    unknown = selfcheck(solved, "07_nothing.ipynb")
    assert unknown.returncode == 2 and "no checks for" in unknown.stdout


def test_it_does_nothing_while_the_notebooks_are_graded(solved):
    run = selfcheck(solved, env=environment(NNLA_AUTOGRADE="1"))
    assert run.returncode == 0
    assert run.stdout.strip() == "The self-check does not run while notebooks are being graded."


# ------------------------------------------------------------------------------- mistakes

WEIGHTS_ONLY = """def count_params(layer_sizes):
    sizes = list(layer_sizes)
    if len(sizes) < 2 or any(n < 1 for n in sizes):
        raise ValueError("bad sizes")
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
"""
NO_BIAS = "def affine_cols(X, W, b):\n    return (W @ np.asarray(X).T).T\n"
SAMPLE_STD = """def summarize(H):
    H = np.asarray(H, dtype=float)
    std = float(np.std(H, ddof=1)) if H.size > 1 else 0.0
    return {"mean": float(np.mean(H)), "std": std, "frac_positive": float(np.mean(H > 0))}
"""
NAIVE_TANH = """def tanh(z):
    z = np.asarray(z, dtype=float)
    return (np.exp(z) - np.exp(-z)) / (np.exp(z) + np.exp(-z))
"""
LAST_BIAS_ONLY = """def collapse_affine(weights, biases):
    return collapse_linear(weights), np.asarray(biases[-1], dtype=float)
"""
INCLUSIVE = "def active_region(grid, w, b):\n    return np.asarray(grid) @ np.asarray(w) + b >= 0\n"


def z_overwritten() -> str:
    code = solution_code("03_stored_activations", "DenseLayer_solution")
    assert "self.z = z" in code
    return code.replace("self.z = z", "self.z = h")


BUGS = [
    ("01_param_count", "count_params_solution", WEIGHTS_ONLY, "count_params", "count both"),
    ("02_batch_forms", "affine_cols_solution", NO_BIAS, "affine_cols", "Add the bias b"),
    ("03_stored_activations", "DenseLayer_solution", z_overwritten, "DenseLayer", "z before the activation"),
    ("04_tanh_vs_relu", "tanh_solution", NAIVE_TANH, "tanh", "clip |z|"),
    ("04_tanh_vs_relu", "summarize_solution", SAMPLE_STD, "summarize", "ddof=0"),
    ("05_linear_collapse", "collapse_affine_solution", LAST_BIAS_ONLY, "collapse_affine", "Push every bias"),
    ("06_halfspace_neurons", "active_region_solution", INCLUSIVE, "active_region", "> 0, not >= 0"),
]


@pytest.mark.parametrize(("notebook", "grade_id", "code", "function", "hint"), BUGS, ids=[b[3] for b in BUGS])
def test_a_mistake_fails_with_the_smallest_input_and_a_hint(
    tmp_path, notebook, grade_id, code, function, hint
):
    code = code() if callable(code) else code
    folder = student_folder(tmp_path / ASSIGNMENT, {notebook: {grade_id: code}})
    run = selfcheck(folder, f"{notebook}.ipynb")
    assert run.returncode == 1
    assert run.statuses[notebook, function] == "fail", run.stdout
    others = {fn for fn in MANIFEST.contract[notebook] if fn != function and fn != "compare_relu_tanh"}
    assert all(run.statuses[notebook, fn] == "pass" for fn in others), run.stdout
    details = run.section(notebook, function)
    assert "FAILED" in details
    assert "failing input:" in details
    assert hint in details


def test_the_smallest_failing_input_is_shrunk(tmp_path):
    folder = student_folder(tmp_path / ASSIGNMENT, {"02_batch_forms": {"affine_cols_solution": NO_BIAS}})
    details = selfcheck(folder, "02_batch_forms.ipynb").section("02_batch_forms", "affine_cols")
    assert "smallest failing input:" in details
    assert "W = array of shape (1, 1): [[0.]]" in details  # hypothesis shrank it to one zero weight
    assert "expected:" in details and "got:" in details


def test_crashes_and_broken_cells_are_errors_and_the_rest_is_still_checked(tmp_path):
    changes = {
        "01_param_count": {
            "count_params_solution": "import os\ndef count_params(layer_sizes):\n    os._exit(3)\n"
        },
        "02_batch_forms": {"affine_rows_solution": "def affine_rows(X, W, b)\n    return X @ W.T + b\n"},
        "05_linear_collapse": {
            "collapse_affine_solution": "def collapse_affine(weights, biases):\n    raise KeyError('oops')\n"
        },
    }
    folder = student_folder(tmp_path / ASSIGNMENT, changes)
    run = selfcheck(folder, "01_param_count", "02_batch_forms", "05_linear_collapse")
    statuses = run.statuses
    assert statuses["01_param_count", "count_params"] == "error"
    assert "ended while checking count_params" in run.section("01_param_count", "count_params")
    assert statuses["02_batch_forms", "affine_rows"] == "error"
    assert "SyntaxError" in run.section("02_batch_forms", "affine_rows")
    assert statuses["02_batch_forms", "affine_cols"] == "pass"
    assert "needs affine_rows to pass first" in run.section("02_batch_forms", "affine_cols")
    assert statuses["05_linear_collapse", "collapse_linear"] == "pass"
    assert statuses["05_linear_collapse", "collapse_affine"] == "error"
    assert "raised KeyError: 'oops'" in run.section("05_linear_collapse", "collapse_affine")
    assert run.returncode == 1


# -------------------------------------------------------------------------------- hangs

ENDLESS_TANH = "def tanh(z):\n    while True:\n        pass\n"
# catches the time limit's exception itself: only stopping the process ends it
STUBBORN = """import time
def affine_cols(X, W, b):
    while True:
        try:
            time.sleep(0.01)
        except BaseException:
            pass
"""
HANGS_WHILE_LOADING = "while True:\n    pass\n"


def test_a_hanging_function_is_timed_out_and_the_run_still_ends_quickly(tmp_path):
    folder = student_folder(tmp_path / ASSIGNMENT, {"04_tanh_vs_relu": {"tanh_solution": ENDLESS_TANH}})
    run = selfcheck(folder, "04_tanh_vs_relu.ipynb")
    assert run.returncode == 1
    assert run.statuses == {
        ("04_tanh_vs_relu", "tanh"): "timed out",
        ("04_tanh_vs_relu", "forward_stack"): "pass",
        ("04_tanh_vs_relu", "summarize"): "pass",
        ("04_tanh_vs_relu", "compare_relu_tanh"): "timed out",  # it calls tanh
    }
    assert "did not finish within 3 s" in run.section("04_tanh_vs_relu", "tanh")
    assert "uses tanh, which timed out too" in run.section("04_tanh_vs_relu", "compare_relu_tanh")
    assert run.seconds < 10  # 3 s for tanh, 1 s for compare_relu_tanh, and the rest


def test_hangs_the_time_limit_cannot_interrupt_are_stopped_too(tmp_path):
    changes = {
        "02_batch_forms": {"affine_cols_solution": STUBBORN},
        "05_linear_collapse": {"collapse_linear_solution": HANGS_WHILE_LOADING},
    }
    folder = student_folder(tmp_path / ASSIGNMENT, changes)
    run = selfcheck(folder, "02_batch_forms", "05_linear_collapse", "01_param_count", "--timeout", "1")
    assert run.statuses == {
        ("02_batch_forms", "affine_rows"): "pass",
        ("02_batch_forms", "affine_cols"): "timed out",
        ("05_linear_collapse", "collapse_linear"): "timed out",
        ("05_linear_collapse", "collapse_affine"): "timed out",
        ("01_param_count", "count_params"): "pass",
    }
    assert "cells did not finish running within 1 s" in run.section("05_linear_collapse", "collapse_linear")
    assert run.seconds < 10


# ------------------------------------------------------------------------ the notebook cell


def selfcheck_cells(path: Path):
    cells = read(path).cells
    return cells[-2], cells[-1]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
@pytest.mark.parametrize("folder", [SOURCE, RELEASE], ids=["source", "release"])
def test_each_notebook_ends_with_a_read_only_selfcheck_cell(folder, notebook):
    intro, cell = selfcheck_cells(folder / f"{notebook}.ipynb")
    assert intro.cell_type == "markdown" and "Save the notebook first" in intro.source
    assert cell.cell_type == "code"
    meta = nbgrader_meta(cell)
    assert {k: meta[k] for k in ("grade", "solution", "locked", "grade_id", "schema_version")} == {
        "grade": False,
        "solution": False,
        "locked": True,
        "grade_id": "selfcheck",
        "schema_version": 3,
    }
    assert f'"selfcheck.py", "{notebook}.ipynb"' in cell.source


def run_cell(source: str, folder: Path) -> str:
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(source, "<selfcheck cell>", "exec"), {})
    finally:
        os.chdir(cwd)
    return out.getvalue()


def test_the_cell_runs_the_check_for_its_notebook(solved):
    _, cell = selfcheck_cells(RELEASE / "01_param_count.ipynb")
    out = run_cell(cell.source, solved)
    assert ROW.findall(out) == [("01_param_count", "count_params", "pass", "3")]


def test_the_cell_only_prints_a_line_without_selfcheck_py_or_while_grading(tmp_path, monkeypatch):
    _, cell = selfcheck_cells(RELEASE / "03_stored_activations.ipynb")
    assert run_cell(cell.source, tmp_path).strip() == (
        "selfcheck.py is not in this folder, so there is nothing to check here."
    )
    shutil.copy2(SCRIPT, tmp_path)
    shutil.copy2(CHECKS, tmp_path)
    monkeypatch.setenv("NNLA_AUTOGRADE", "1")  # as the grader's kernel has it
    started = time.monotonic()
    assert "does not run while notebooks are being graded" in run_cell(cell.source, tmp_path)
    assert time.monotonic() - started < 5


# ------------------------------------------------------------------------------ no leaks


@pytest.mark.parametrize("script", [SCRIPT, CHECKS], ids=lambda p: p.name)
def test_the_released_self_check_imports_only_what_students_have(script):
    text = script.read_text()
    assert "nnla_ref" not in text and "autograder" not in text
    imported = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            imported.add(node.module.split(".")[0])
    local = {"selfcheck", "public_checks"}  # each other, side by side in the assignment folder
    assert imported - sys.stdlib_module_names - local <= ALLOWED_PACKAGES, imported
    assert script.read_bytes() == (SOURCE / script.name).read_bytes()


def test_the_released_engine_is_the_canonical_one():
    """One engine for every assignment: what is released is autograder/check/selfcheck.py."""
    assert SCRIPT.read_bytes() == ENGINE.read_bytes()


SECRET_FILES = sorted((REPO / "nnla_ref").glob("*.py")) + sorted(
    (REPO / "assignments" / ASSIGNMENT / "suites").glob("*.py")
)


def public_source_text() -> str:
    """What the source notebooks show students anyway: every cell outside the solution and
    hidden-test regions (given code, visible tests, prose)."""
    kept = []
    for path in sorted(SOURCE.glob("*.ipynb")):
        for cell in read(path).cells:
            inside = False
            for line in cell.source.splitlines():
                if "### BEGIN SOLUTION" in line or "### BEGIN HIDDEN TESTS" in line:
                    inside = True
                elif "### END SOLUTION" in line or "### END HIDDEN TESTS" in line:
                    inside = False
                elif not inside:
                    kept.append(line)
    return "\n".join(kept)


def released_texts() -> dict[str, str]:
    """The text of every file under release/ (a notebook: the source of its cells)."""
    texts = {}
    for path in sorted(p for p in (REPO / "release").rglob("*") if p.is_file()):
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            texts[str(path)] = "\n".join("".join(c["source"]) for c in cells)
        else:
            texts[str(path)] = path.read_text()
    return texts


def function_bodies(text: str) -> dict[str, str]:
    """ast.dump of each function's body (docstring left out) -> the function's name."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return {}
    bodies = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                body = body[1:]
            dump = ast.dump(ast.Module(body=body, type_ignores=[]))
            if len(dump) >= 120:  # more than `return z` or `pass`
                bodies[dump] = node.name
    return bodies


def test_nothing_under_release_comes_from_the_reference_or_the_hidden_suites():
    public = public_source_text()
    public_lines = {line.strip() for line in public.splitlines()}
    public_bodies = set()
    for path in sorted(SOURCE.glob("*.ipynb")):
        for cell in read(path).cells:
            if cell.cell_type == "code" and not nbgrader_meta(cell).get("solution"):
                public_bodies |= set(function_bodies(cell.source))
    secret_lines, secret_bodies = {}, {}
    for path in SECRET_FILES:
        text = path.read_text()
        for line in text.splitlines():
            line = line.strip()
            if len(line) >= 30 and not line.startswith(("import ", "from ")) and line not in public_lines:
                secret_lines.setdefault(line, path.name)
        for body, name in function_bodies(text).items():
            if body not in public_bodies:
                secret_bodies.setdefault(body, f"{path.name}:{name}")
    assert len(secret_lines) > 500 and len(secret_bodies) > 50  # the comparison has something to find
    texts = released_texts()
    assert any(name.endswith("selfcheck.py") for name in texts)
    for name, text in texts.items():
        leaked = sorted({line.strip() for line in text.splitlines()} & set(secret_lines))
        assert not leaked, f"{name} repeats {[(line, secret_lines[line]) for line in leaked[:3]]}"
        if name.endswith(".py"):
            copied = [secret_bodies[b] for b in function_bodies(text) if b in secret_bodies]
        else:
            cells = json.loads(Path(name).read_text())["cells"]
            copied = [
                secret_bodies[b]
                for c in cells
                if c["cell_type"] == "code"
                for b in function_bodies("".join(c["source"]))
                if b in secret_bodies
            ]
        assert not copied, f"{name} has the body of {copied}"

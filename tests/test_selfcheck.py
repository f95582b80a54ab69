"""The student self-check: `python selfcheck.py` in the assignment folder, and `nnla check`.

Student folders are built as a student would have them: the release notebooks, filled with the
source's solutions or with a mistake, next to the released selfcheck.py.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import io
import itertools
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


def started_with(folder: Path, sitecustomize: str, **extra: str) -> dict[str, str]:
    """An environment whose Pythons (the self-check's and its check processes') all run
    `sitecustomize` at start-up: it is put first on PYTHONPATH, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(sitecustomize)
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH")) if p)
    return environment(PYTHONPATH=path, **extra)


def load_engine():
    """The canonical engine as a module of this process (for its pure functions)."""
    spec = importlib.util.spec_from_file_location("selfcheck_engine", ENGINE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_a_notebook_is_named_by_its_number_name_file_name_or_path(solved, tmp_path):
    elsewhere = tmp_path / "not the assignment folder"
    elsewhere.mkdir()
    shutil.copy2(solved / "02_batch_forms.ipynb", elsewhere)
    run = selfcheck(solved, "03", "3", "1", "01_param_count.ipynb", str(elsewhere / "02_batch_forms.ipynb"))
    assert run.returncode == 0, run.stdout
    assert list(run.statuses) == [  # each once, in the order first named
        ("03_stored_activations", "DenseLayer"),
        ("03_stored_activations", "NeuralNetwork"),
        ("01_param_count", "count_params"),
        ("02_batch_forms", "affine_rows"),
        ("02_batch_forms", "affine_cols"),
    ]
    missing = selfcheck(solved, str(tmp_path / "04_tanh_vs_relu.ipynb"))  # a known notebook, not there
    assert missing.returncode == 1
    assert f"{tmp_path / '04_tanh_vs_relu.ipynb'} not found" in missing.section("04_tanh_vs_relu", "tanh")


@pytest.mark.parametrize("name", ["7", "07", "08_nothing", "stored_activations", "01_param_count.py"])
def test_an_unknown_name_is_one_line_listing_the_notebooks(solved, name):
    run = selfcheck(solved, "01", name)
    assert run.returncode == 2
    known = ", ".join(f"{nb}.ipynb" for nb in NOTEBOOKS)
    assert run.stdout == f"selfcheck: no checks for {name!r}; the notebooks are {known}\n"
    assert run.stderr == ""


NAMED = ("01_param_count", "03a_first", "03b_second", "10_last")


@pytest.mark.parametrize(
    ("name", "notebook", "path"),
    [
        ("1", "01_param_count", "01_param_count.ipynb"),
        ("01", "01_param_count", "01_param_count.ipynb"),
        ("01_param_count", "01_param_count", "01_param_count.ipynb"),
        ("01_PARAM_count.IPYNB", "01_param_count", "01_param_count.ipynb"),  # as Windows, macOS
        ("10", "10_last", "10_last.ipynb"),
        (str(Path("sub", "10_last.ipynb")), "10_last", str(Path("sub", "10_last.ipynb"))),
        (str(Path("sub", "10")), "10_last", str(Path("sub", "10_last.ipynb"))),
    ],
)
def test_names_resolve_to_one_notebook(name, notebook, path):
    assert load_engine().find_notebook(name, NAMED) == (notebook, Path(path))


@pytest.mark.parametrize(("name", "problem"), [("3", "more than one notebook for"), ("2", "no checks for")])
def test_an_ambiguous_or_unknown_name_is_one_line(name, problem):
    with pytest.raises(ValueError) as raised:
        load_engine().find_notebook(name, NAMED)
    message = str(raised.value)
    assert message == (
        f"{problem} {name!r}; the notebooks are "
        "01_param_count.ipynb, 03a_first.ipynb, 03b_second.ipynb, 10_last.ipynb"
    )


def test_it_does_nothing_while_the_notebooks_are_graded(solved):
    run = selfcheck(solved, env=environment(NNLA_AUTOGRADE="1"))
    assert run.returncode == 0
    assert run.stdout.strip() == "The self-check does not run while notebooks are being graded."


# ----------------------------------------------------------------------- missing packages

# Not installed: None in sys.modules makes `import numpy` fail and importlib.util.find_spec
# answer None, as for a package that is nowhere on the path.
NOT_INSTALLED = "import sys\n\nsys.modules.update(dict.fromkeys({names!r}))\n"
# Installed but broken (or lacking a dependency): found, but importing it fails.
BROKEN = 'raise ImportError("this {name} is broken")\n'


@pytest.mark.parametrize(
    ("hidden", "line"),
    [
        (["nbformat"], "selfcheck needs nbformat: pip install nbformat"),
        (["numpy"], "selfcheck needs numpy: pip install numpy"),
        (["hypothesis"], "selfcheck needs hypothesis: pip install hypothesis"),
        (["nbformat", "numpy"], "selfcheck needs numpy and nbformat: pip install numpy nbformat"),
        (["matplotlib"], "selfcheck needs matplotlib: pip install matplotlib"),  # when a cell imports it
    ],
    ids=lambda value: "+".join(value) if isinstance(value, list) else "",
)
def test_a_missing_package_is_one_line_naming_it_and_how_to_install_it(solved, tmp_path, hidden, line):
    run = selfcheck(solved, env=started_with(tmp_path / "site", NOT_INSTALLED.format(names=hidden)))
    assert (run.returncode, run.stdout, run.stderr) == (2, line + "\n", "")


@pytest.mark.parametrize("package", ["nbformat", "numpy", "hypothesis", "matplotlib"])
def test_a_package_that_fails_to_import_is_one_line_too(solved, tmp_path, package):
    stubs = tmp_path / "stubs"
    (stubs / package).mkdir(parents=True)
    (stubs / package / "__init__.py").write_text(BROKEN.format(name=package))
    env = environment(PYTHONPATH=os.pathsep.join(p for p in (str(stubs), os.environ.get("PYTHONPATH")) if p))
    run = selfcheck(solved, "06", "01", env=env)
    line = f"selfcheck needs {package}: pip install {package}"
    assert (run.returncode, run.stdout, run.stderr) == (2, line + "\n", "")


def test_the_missing_packages_line():
    missing = load_engine().MissingPackages
    assert str(missing(["numpy", "hypothesis", "nbformat"])) == (
        "selfcheck needs numpy, hypothesis and nbformat: pip install numpy hypothesis nbformat"
    )


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


# Checks added to the assignment's public checks (always failing on the full solution), each
# saying otherwise which inputs it used; a sentence names each.
DECLARING_CHECKS = """

from selfcheck import Fail, call, check, expect_close, get, showing

EXAMPLE = [{"layer_sizes": [2, 3], "extra": 5}]


@check("count_params", "says nothing", examples=EXAMPLE)
def _(ns, layer_sizes, extra):
    raise Fail("plain")


@check("count_params", "Fail with inputs", examples=EXAMPLE)
def _(ns, layer_sizes, extra):
    with showing(ignored=1):
        raise Fail("declared", inputs={"n_in": layer_sizes[0]})


@check("count_params", "showing around a student error", examples=EXAMPLE)
def _(ns, layer_sizes, extra):
    with showing(outer="ignored"), showing(layer_sizes=[0]):
        call("count_params", get(ns, "count_params"), [0])


@check("count_params", "inputs={}", examples=EXAMPLE)
def _(ns, layer_sizes, extra):
    raise Fail("no input", inputs={})


@check(
    "count_params",
    "showing a drawn case",
    cases=lambda: st.fixed_dictionaries(
        {"layer_sizes": st.lists(st.integers(1, 9), min_size=2, max_size=4), "noise": st.integers(0, 9)}
    ),
)
def _(ns, layer_sizes, noise):
    with showing(first=layer_sizes[0]):
        expect_close(layer_sizes[0], -1.0, "the first size")
"""


def test_a_check_shows_the_inputs_it_says_it_used(tmp_path):
    folder = student_folder(tmp_path / ASSIGNMENT)
    with (folder / "public_checks.py").open("a") as checks:
        checks.write(DECLARING_CHECKS)
    details = selfcheck(folder, "01").section("01_param_count", "count_params")
    failures = {}  # sentence -> the lines under "(smallest) failing input:"
    for block in details.split("FAILED  ")[1:]:
        sentence, *lines = block.splitlines()
        label = next((i for i, line in enumerate(lines) if line.endswith("failing input:")), len(lines))
        shown = itertools.takewhile(lambda line: line.startswith(" " * 12), lines[label + 1 :])
        failures[sentence] = [line.strip() for line in shown]
    assert failures == {
        "says nothing": ["layer_sizes = [2, 3]", "extra = 5"],  # as before: the whole input
        "Fail with inputs": ["n_in = 2"],
        "showing around a student error": ["layer_sizes = [0]"],  # the innermost
        "inputs={}": [],
        "showing a drawn case": ["first = 1"],  # hypothesis's smallest case, as the check says it
    }
    assert "smallest failing input:" in details.split("FAILED  showing a drawn case")[1]


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


# ------------------------------------------------------------------------ Windows and macOS

# Every Python of a test starts with this (sitecustomize on PYTHONPATH): it lacks what Windows
# lacks (no interval timer, no load average, no fork) and the POSIX-only modules.
NOT_LINUX = """import os
import signal
import sys

for name in ("setitimer", "getitimer", "ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF", "SIGALRM", "alarm"):
    delattr(signal, name)
for name in ("fork", "forkpty", "killpg", "getpgid", "setsid", "getloadavg", "sched_getaffinity"):
    delattr(os, name)
sys.modules.update(dict.fromkeys(("resource", "fcntl", "termios", "pwd", "grp", "pty", "tty")))
"""
# The engine's imports, all in the standard library of Windows, macOS and Linux alike, or the
# packages students have; a new one goes here once it is known to exist on the three.
ENGINE_IMPORTS = {
    *("__future__", "argparse", "builtins", "collections.abc", "contextlib", "importlib"),
    *("importlib.util", "json", "linecache", "os", "pathlib", "queue", "shutil", "signal"),
    *("subprocess", "sys", "tempfile", "threading", "time", "traceback", "types", "warnings"),
    *("numpy", "hypothesis", "hypothesis.extra", "matplotlib", "nbformat", "public_checks"),
}
POSIX_ONLY_MODULES = {"resource", "fcntl", "termios", "pwd", "grp", "pty", "tty", "posix", "syslog"}
# The os and signal attributes it uses that Windows has too ...
PORTABLE = {"os.O_RDWR", "os.cpu_count", "os.devnull", "os.dup", "os.dup2", "os.environ", "os.fdopen"}
PORTABLE |= {"os.open", "signal.signal"}
# ... and those it may only use where they exist: the interval timer behind the in-process
# time limit (hasattr(signal, "setitimer"); else the process is stopped from outside) and the
# load average (AttributeError: as if the machine were idle).
GUARDED = {"signal.setitimer", "signal.SIGALRM", "signal.ITIMER_REAL", "os.getloadavg"}


def test_the_engine_imports_only_what_windows_and_macos_have_too():
    tree = ast.parse(ENGINE.read_text())
    imported, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
            assert node.module not in ("os", "signal"), "use os.name / signal.name, seen by this test"
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in ("os", "signal"):
                used.add(f"{node.value.id}.{node.attr}")
    assert imported == ENGINE_IMPORTS
    assert not imported & POSIX_ONLY_MODULES
    assert used - PORTABLE == GUARDED
    assert "/proc" not in ENGINE.read_text()


def test_the_whole_check_runs_without_what_windows_lacks(solved, solved_run, tmp_path):
    """No interval timer, load average, fork, sched_getaffinity or resource module: the same
    report. (The check processes are started as "spawn" would start them, on any system: a
    fresh interpreter running selfcheck.py, sent its jobs as JSON text.)"""
    run = selfcheck(solved, env=started_with(tmp_path / "site", NOT_LINUX))
    assert (run.returncode, run.stderr) == (0, "")
    assert run.stdout == solved_run.stdout


def test_without_an_interval_timer_a_hang_is_stopped_from_outside(tmp_path):
    folder = student_folder(tmp_path / ASSIGNMENT, {"04_tanh_vs_relu": {"tanh_solution": ENDLESS_TANH}})
    run = selfcheck(folder, "04", "01", "--timeout", "1", env=started_with(tmp_path / "site", NOT_LINUX))
    assert run.returncode == 1
    assert run.statuses == {
        ("04_tanh_vs_relu", "tanh"): "timed out",
        ("04_tanh_vs_relu", "forward_stack"): "pass",  # in a new check process
        ("04_tanh_vs_relu", "summarize"): "pass",
        ("04_tanh_vs_relu", "compare_relu_tanh"): "timed out",
        ("01_param_count", "count_params"): "pass",
    }
    assert "did not finish within 1 s" in run.section("04_tanh_vs_relu", "tanh")
    assert run.seconds < 15


def test_a_folder_with_spaces_and_accents_and_a_windows_code_page(tmp_path):
    """As in C:\\Users\\Zoë Dupont\\..., printed through a pipe in cp1252, which has no arrow."""
    raises = "def count_params(layer_sizes):\n    raise ValueError('sizes \u2192 none')\n"
    folder = student_folder(
        tmp_path / "Zoë Dupont" / "my course" / ASSIGNMENT,
        {"01_param_count": {"count_params_solution": raises}},
    )
    run = selfcheck(folder, "01", "02", env=environment(PYTHONIOENCODING="cp1252"))
    assert run.stderr == ""
    assert run.returncode == 1
    assert run.statuses[("02_batch_forms", "affine_rows")] == "pass"
    assert run.statuses[("01_param_count", "count_params")] == "error"
    assert "raised ValueError: sizes \\u2192 none" in run.section("01_param_count", "count_params")


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
        if not name.endswith(".ipynb"):  # Python files (other text, the README, parses as no code)
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

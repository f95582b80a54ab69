"""Hostile submissions: each tries to forge a grade or to harm the grading run.

Code is formatted with {course} (the course folder), {repo} (the grader's checkout) and
{port} (a TCP server the test listens on), as an attacker who knows the layout would write it.
None of these implement anything correctly, so every one must score 0.
"""

import re
from pathlib import Path

from autograder.course import Course
from autograder.submissions import SOLUTION, write_submission
from tests.conftest import ASSIGNMENT


def shorten_limits(course: Course) -> None:
    """Short limits (8 s a cell, 6 s an exercise) keep the hanging submissions from dominating a
    run. The judge's memory limit is halved with them (512 MB, ample for the solutions): a memory
    bomb's every call fills it, and the calls must stay well inside 6 s on a busy machine."""
    with open(course.root / "nbgrader_config.py", "a") as f:
        f.write("\nc.Execute.timeout = 8\n")
    manifest = course.root / "assignments" / f"{ASSIGNMENT}.toml"
    text = re.sub(r"(?m)^wall_seconds = \d+$", "wall_seconds = 6", manifest.read_text())
    manifest.write_text(re.sub(r"(?m)^memory_mb = \d+$", "memory_mb = 512", text))


def fill(answers: dict[str, dict], course: Course, repo: Path, port: int) -> dict[str, dict]:
    """`answers` with {course}, {repo} and {port} filled in (the source's solution left as it is)."""
    return {
        notebook: {
            gid: code if code is SOLUTION else code.format(course=course.root, repo=repo, port=port)
            for gid, code in cells.items()
        }
        for notebook, cells in answers.items()
    }


def submit(course: Course, student: str, answers: dict[str, dict]) -> None:
    """`student`'s submission: only the notebooks `answers` names, filled with them."""
    folder = course.submitted(student, ASSIGNMENT)
    write_submission(folder, course.release(ASSIGNMENT), course.source(ASSIGNMENT), answers)
    for notebook in folder.glob("*.ipynb"):
        if notebook.stem not in answers:
            notebook.unlink()


WRONG_COUNT = """
def count_params(layer_sizes):
    return -1
"""

WRONG_AFFINE = """
def affine_rows(X, W, b):
    return np.zeros(1)

def affine_cols(X, W, b):
    return np.zeros(1)
"""

PATCH_COMPARISONS = """
import math, builtins
import numpy as np, numpy.testing
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
math.isclose = lambda *a, **k: True
builtins.isinstance = lambda *a: True
"""

ALWAYS_EQUAL = """
class Anything(int):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = int.__hash__
    def __array__(self, *a, **k): return np.zeros(1)

def count_params(layer_sizes):
    return Anything(0)

def affine_rows(X, W, b):
    return Anything(0)

def affine_cols(X, W, b):
    return Anything(0)
"""

NDARRAY_SUBCLASS = """
class Liar(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
    def __ne__(self, other): return np.zeros(np.shape(other), dtype=bool)
    def __array_function__(self, func, types, args, kwargs): return True
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs): return np.ones(1, dtype=bool)

def affine_rows(X, W, b):
    return np.zeros((np.shape(X)[0], np.shape(W)[0])).view(Liar)

def affine_cols(X, W, b):
    return np.zeros((np.shape(X)[0], np.shape(W)[0])).view(Liar)
"""

FAKE_MODULES = """
import sys, types
fake = types.ModuleType("hypothesis")
fake.given = lambda *a, **k: (lambda f: (lambda *x, **y: None))
fake.settings = lambda *a, **k: (lambda f: f)
fake.strategies = types.ModuleType("hypothesis.strategies")
sys.modules["hypothesis"] = fake
sys.modules["hypothesis.strategies"] = fake.strategies
reference = types.ModuleType("nnla_ref")
reference.count_params = lambda sizes: -1
sys.modules["nnla_ref"] = reference
for name in ("autograder", "autograder.judge", "autograder.plugin"):
    sys.modules[name] = types.ModuleType(name)

def count_params(layer_sizes):
    return -1
"""

READ_REFERENCE = """
import os

def _steal(layer_sizes):
    try:
        import nnla_ref
        return nnla_ref.count_params(layer_sizes)
    except Exception:
        pass
    candidates = ["{repo}/nnla_ref/params.py", "{repo}/assignments/ch177/suites/param_count.py",
                  "{course}/source/ch177/01_param_count.ipynb"]
    for top in ("/work", "/tmp", "/root", "/home", "{repo}"):
        for folder, dirs, files in os.walk(top):
            if folder.count(os.sep) > 6:
                dirs[:] = []
            if "params.py" in files and folder.endswith("nnla_ref"):
                candidates.append(os.path.join(folder, "params.py"))
    for path in candidates:
        try:
            namespace = {{}}
            exec(open(path).read(), namespace)
            return namespace["count_params"](layer_sizes)
        except Exception:
            continue
    return -1

def count_params(layer_sizes):
    return _steal(layer_sizes)
"""

HIDE_TRACEBACKS = """
import sys
sys.excepthook = lambda *a: None
try:
    shell = get_ipython()
    shell.showtraceback = lambda *a, **k: None
    shell._showtraceback = lambda *a, **k: None
    shell.showsyntaxerror = lambda *a, **k: None
except NameError:
    pass

def count_params(layer_sizes):
    raise RuntimeError("hidden")

def affine_rows(X, W, b):
    raise RuntimeError("hidden")

def affine_cols(X, W, b):
    raise RuntimeError("hidden")
"""

EXIT_KERNEL = """
import os, sys
def count_params(layer_sizes):
    os._exit(0)
try:
    sys.exit(0)
finally:
    os._exit(3)
"""

KILL_PARENT = """
import os, signal
for target in (os.getppid(), -1, 0, 1):
    try:
        os.kill(target, signal.SIGKILL)
    except Exception:
        pass

def affine_rows(X, W, b):
    os.kill(-1, signal.SIGKILL)

def affine_cols(X, W, b):
    os.killpg(0, signal.SIGKILL)
"""

WRITE_FILES = """
import os
TARGETS = ["{course}/gradebook.db", "{course}/autograded/alice/ch177/results.json",
           "{course}/autograded/alice/ch177/01_param_count.ipynb",
           "{course}/submitted/alice/ch177/01_param_count.ipynb",
           "{course}/source/ch177/01_param_count.ipynb", "{repo}/nnla_ref/params.py",
           "{repo}/assignments/ch177/suites/param_count.py", "{course}/nbgrader_config.py"]

def _vandalize():
    for path in TARGETS:
        try:
            with open(path, "w") as f:
                f.write("pwned")
        except Exception:
            pass
    try:
        os.remove("{course}/gradebook.db")
    except Exception:
        pass

_vandalize()

def count_params(layer_sizes):
    _vandalize()
    return -1
"""

HANG_AT_IMPORT = """
while True:
    pass

def count_params(layer_sizes):
    return -1
"""

HANG_IN_CALL = """
def affine_rows(X, W, b):
    while True:
        pass

def affine_cols(X, W, b):
    import time
    time.sleep(10**6)
"""

MEMORY_BOMB = """
def count_params(layer_sizes):
    hog = []
    while True:
        hog.append(bytearray(10**8))
"""

FORK_BOMB = """
import os

def affine_rows(X, W, b):
    while True:
        try:
            os.fork()
        except OSError:
            pass

def affine_cols(X, W, b):
    while True:
        try:
            os.fork()
        except OSError:
            pass
"""

OUTPUT_BOMB = """
import sys, os
for _ in range(20000):
    print("x" * 100000)
os.write(1, b"y" * 10**7)

def count_params(layer_sizes):
    for _ in range(10**5):
        print("x" * 10**5)
        os.write(1, b"z" * 10**5)
        os.write(2, b"z" * 10**5)
    return -1
"""

NETWORK = """
import socket

def _phone_home():
    for host, port in (("127.0.0.1", {port}), ("localhost", {port}), ("1.1.1.1", 53)):
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                s.sendall(b"pwned")
        except Exception:
            pass

_phone_home()

def count_params(layer_sizes):
    _phone_home()
    return -1
"""

HOSTILE = {
    "patch-comparisons": {
        "01_param_count": {"count_params_solution": PATCH_COMPARISONS + WRONG_COUNT},
        "02_batch_forms": {"affine_rows_solution": PATCH_COMPARISONS + WRONG_AFFINE},
    },
    "always-equal": {
        "01_param_count": {"count_params_solution": ALWAYS_EQUAL},
        "02_batch_forms": {"affine_rows_solution": ALWAYS_EQUAL},
    },
    "ndarray-subclass": {"02_batch_forms": {"affine_rows_solution": NDARRAY_SUBCLASS}},
    "fake-modules": {"01_param_count": {"count_params_solution": FAKE_MODULES}},
    "read-reference": {"01_param_count": {"count_params_solution": READ_REFERENCE}},
    "hide-tracebacks": {
        "01_param_count": {"count_params_solution": HIDE_TRACEBACKS},
        "02_batch_forms": {"affine_rows_solution": HIDE_TRACEBACKS},
    },
    "exit-kernel": {"01_param_count": {"count_params_solution": EXIT_KERNEL}},
    "kill-parent": {"02_batch_forms": {"affine_rows_solution": KILL_PARENT}},
    "write-files": {"01_param_count": {"count_params_solution": WRITE_FILES}},
    "hang-at-import": {"01_param_count": {"count_params_solution": HANG_AT_IMPORT}},
    "hang-in-call": {"02_batch_forms": {"affine_rows_solution": HANG_IN_CALL}},
    "memory-bomb": {"01_param_count": {"count_params_solution": MEMORY_BOMB}},
    "fork-bomb": {"02_batch_forms": {"affine_rows_solution": FORK_BOMB}},
    "output-bomb": {"01_param_count": {"count_params_solution": OUTPUT_BOMB}},
    "network": {"01_param_count": {"count_params_solution": NETWORK}},
}

"""Kernels forked from the warm zygote: each as a fresh one would be, and nothing of another's.

Every notebook here runs in the real sandboxed kernel, one after another in this process, so
that each kernel is forked from the same zygote the previous one came from.
"""

import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config

from autograder.judge.kernel import (
    KERNEL_DIED,
    SandboxedExecute,
    SandboxedKernelManager,
    kernel_zygote,
    stopped_kernels,
)
from tests.conftest import needs_isolation

pytestmark = [pytest.mark.e2e, needs_isolation]

SECRET = "nnla-test-secret-4711"

# What a notebook can tell of the process it runs in. The working folder differs from kernel to
# kernel, so it is written as "." wherever it appears.
OBSERVE = r"""
import json, os, sys, tempfile, random, select
import numpy as np, matplotlib, matplotlib.pyplot as plt
here = os.getcwd()
seen = {
    "uid": os.getuid(), "pid": os.getpid(), "main": __name__, "argv": sys.argv[1:2],
    "path": sys.path, "env": dict(os.environ), "dont_write_bytecode": sys.dont_write_bytecode,
    "tempdir": tempfile.gettempdir(), "mpl_config": matplotlib.get_configdir(),
    "mpl_cache": matplotlib.get_cachedir(), "backend": matplotlib.get_backend(),
    "rc_linewidth": matplotlib.rcParams["lines.linewidth"], "figures": plt.get_fignums(),
    "files": sorted(os.listdir(".")), "tmp": sorted(os.listdir("/tmp")),
    "grader_modules": sorted(m for m in sys.modules if m.split(".")[0] in ("autograder", "nnla_ref")),
    "dot": float(np.dot(np.ones(2), np.ones(2))), "marker": getattr(np, "nnla_marker", None),
    "json_marker": getattr(json, "nnla_marker", None), "leftover": "leftover" in dir(),
    "builtins_marker": hasattr(__import__("builtins"), "nnla_marker"),
    "environ_block": open("/proc/self/environ", "rb").read().decode(errors="replace"),
    "np_random": float(np.random.random()), "py_random": random.random(),
    "orig_argv": sys.orig_argv[1:3], "flags": [sys.flags.isolated, sys.flags.safe_path],
    "stdin_ends": select.select([0], [], [], 1)[0] == [0] and os.read(0, 1) == b"",
}
print(json.dumps(seen).replace(here, ".").replace(os.path.basename(here), "SCRATCH"))
"""

# A student who leaves everything they can behind.
LEAVE_STATE = r"""
import builtins, json, os, sys, random
import numpy as np, matplotlib, matplotlib.pyplot as plt
np.dot = lambda *args, **kwargs: 42.0
np.nnla_marker = "left by the previous student"
json.nnla_marker = "left by the previous student"
builtins.nnla_marker = "left by the previous student"
leftover = "a global"
os.environ["NNLA_LEFT"] = "1"
sys.path.append("/left")
open("left.txt", "w").write("secret answers")
np.random.seed(1234)
random.seed(1234)
matplotlib.rcParams["lines.linewidth"] = 99
plt.figure()
os.chdir("/tmp")
"""


def run(code: str, folder: Path, warm: bool = True) -> dict:
    config = Config()
    config.SandboxedKernelManager.warm_start = warm
    client = NotebookClient(
        new_notebook(cells=[new_code_cell(code)]),
        kernel_manager_class=SandboxedKernelManager,
        kernel_name="python3",
        timeout=60,
        shutdown_kernel="immediate",
        allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
        config=config,
    )
    outputs = client.execute().cells[0].outputs
    text = "".join(out.get("text", "") for out in outputs if out.get("name") == "stdout")
    if text.startswith("{"):
        return json.loads(text)
    errors = [f"{out.ename}: {out.evalue}" for out in outputs if out.output_type == "error"]
    return {"errors": [re.sub(r"nnla-kernel-\w+", "SCRATCH", error) for error in errors]}


def outcome(folder: Path, warm: bool = True) -> dict:
    """What OBSERVE sees, or that the kernel did not start (a student's ipykernel_launcher.py)."""
    try:
        return run(OBSERVE, folder, warm)
    except RuntimeError as e:
        return {"kernel did not start": str(e)}


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "data.csv").write_text("1,2\n")
    return tmp_path


def comparable(seen: dict) -> dict:
    """What must be the same in a fresh and a forked kernel: all but the random draws."""
    return {
        key: value for key, value in seen.items() if key not in ("np_random", "py_random", "environ_block")
    }


def test_a_forked_kernel_sees_what_a_fresh_one_sees(folder, monkeypatch):
    monkeypatch.setenv("NNLA_TEST_SECRET", SECRET)
    fresh = run(OBSERVE, folder, warm=False)
    forked = run(OBSERVE, folder)
    assert kernel_zygote().proc is not None and not kernel_zygote().failed
    assert comparable(forked) == comparable(fresh)
    assert forked["uid"] == 1000 and forked["pid"] == 1
    assert forked["orig_argv"] == ["-m", "ipykernel_launcher"] and forked["stdin_ends"]
    assert forked["grader_modules"] == []
    assert forked["files"] == [".ipython", ".kernel", ".matplotlib", "data.csv"]
    # /proc/self/environ shows the environment the process began with, the zygote's: a sandbox's too.
    names = [line.partition("=")[0] for line in forked["environ_block"].split("\0") if line]
    assert names and set(names) <= set(forked["env"])
    assert SECRET not in json.dumps(forked)


def test_nothing_one_student_leaves_reaches_the_next(folder):
    before = run(OBSERVE, folder)
    left = run(LEAVE_STATE + OBSERVE, folder)
    assert left["dot"] == 42.0 and left["marker"] and left["figures"] == [1]  # the state was left...
    after = run(OBSERVE, folder)
    assert comparable(after) == comparable(before)  # ...and the next kernel has none of it
    assert after["dot"] == 2.0 and after["marker"] is None and after["json_marker"] is None
    assert not after["leftover"] and not after["builtins_marker"]
    assert "NNLA_LEFT" not in after["env"] and "/left" not in after["path"]
    assert "left.txt" not in after["files"]
    assert after["rc_linewidth"] != 99 and after["figures"] == []


def test_every_kernel_draws_its_own_random_numbers(folder):
    seeded = run("import numpy as np, random; np.random.seed(1234); random.seed(1234)\n" + OBSERVE, folder)
    draws = [run(OBSERVE, folder) for _ in range(3)]
    numbers = [seen["np_random"] for seen in draws] + [seeded["np_random"]]
    assert len(set(numbers)) == len(numbers)
    assert len({seen["py_random"] for seen in draws}) == len(draws)


@pytest.mark.parametrize(
    "planted",
    ["numpy.py", "ipykernel_launcher.py", "matplotlibrc", ".matplotlib/matplotlibrc", "json/__init__.py"],
)
def test_a_file_a_fresh_interpreter_would_read_at_start_up_gets_a_fresh_kernel(folder, planted):
    """A module shadowing one the zygote imported, or matplotlib's settings, would act on a
    fresh kernel and not on a fork: such a kernel starts afresh, so it acts the same."""
    path = folder / planted
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"matplotlibrc": "lines.linewidth: 7\n"}.get(path.name, "MARK = 'student module'\n")
    path.write_text(content)
    fresh, forked = outcome(folder, warm=False), outcome(folder)
    assert comparable(forked) == comparable(fresh)
    if path.name == "matplotlibrc":
        assert forked["rc_linewidth"] == 7


def test_a_killed_zygote_costs_only_speed(folder):
    zygote = kernel_zygote()
    run(OBSERVE, folder)
    zygote.proc.kill()
    zygote.proc.wait()
    try:
        after = run(OBSERVE, folder)
        assert after["uid"] == 1000 and after["pid"] == 1
        assert zygote.failed
    finally:
        zygote.failed = ""
        zygote.proc = None


def test_a_kernel_that_ends_is_seen_to_end_at_once(folder):
    started = time.monotonic()
    with pytest.raises(DeadKernelError):
        run("import os\nos._exit(3)", folder)
    assert time.monotonic() - started < 30  # not the cell's 60 s timeout


def test_a_cell_that_floods_its_output_stops_its_kernel_the_same_way_every_time(folder):
    """Past `stop_output_bytes` the kernel is stopped: not left to reach the time limit or, on
    some runs and not others, the memory limit."""
    config = Config()
    config.SandboxedExecute.max_output_bytes = 1000
    config.SandboxedExecute.stop_output_bytes = 2_000_000
    config.SandboxedExecute.timeout = 60
    flood = "while True:\n    print('x' * 10_000)"
    nb = new_notebook(cells=[new_code_cell("print('before')"), new_code_cell(flood), new_code_cell("1 + 1")])
    started = time.monotonic()
    done, _ = SandboxedExecute(config=config).preprocess(nb, {"metadata": {"path": str(folder)}})
    assert time.monotonic() - started < 30  # stopped, not interrupted at the cell's 60 s limit
    assert done.cells[0].outputs[0].text == "before\n"
    flooded = done.cells[1].outputs
    assert "Output of this cell cut after 1,000 bytes" in flooded[-2].text
    assert flooded[-1].ename == KERNEL_DIED
    assert "Not run: the kernel had stopped in cell 2" in done.cells[2].outputs[0].text


@pytest.mark.parametrize("warm", [True, False])
def test_a_cell_that_runs_out_of_memory_stops_its_kernel_there_every_time(folder, warm):
    """After a MemoryError the kernel sits at its address-space limit, where what fails next
    varies from run to run: it is stopped in that cell, forked or fresh, every time."""
    config = Config()
    config.SandboxedKernelManager.memory_mb = 1024
    config.SandboxedKernelManager.warm_start = warm
    hog = "hog = []\nwhile True:\n    hog.append(bytearray(10**8))"
    cells = [new_code_cell("print('before')"), new_code_cell(hog), new_code_cell("print('after')")]
    for _ in range(2):
        done, _ = SandboxedExecute(config=config).preprocess(
            new_notebook(cells=cells), {"metadata": {"path": str(folder)}}
        )
        assert done.cells[0].outputs[0].text == "before\n"
        assert [out.get("ename") for out in done.cells[1].outputs] == ["MemoryError", KERNEL_DIED]
        assert "Not run: the kernel had stopped in cell 2" in done.cells[2].outputs[0].text


def test_a_refused_allocation_that_is_caught_does_not_stop_the_kernel(folder):
    cell = "try:\n    big = bytearray(10**13)\nexcept MemoryError:\n    print('refused')"
    done, _ = SandboxedExecute().preprocess(
        new_notebook(cells=[new_code_cell(cell), new_code_cell("print('after')")]),
        {"metadata": {"path": str(folder)}},
    )
    assert done.cells[0].outputs[0].text == "refused\n"
    assert done.cells[1].outputs[0].text == "after\n"


FORK_BOMB = """import os
while True:
    try:
        os.fork()
    except OSError:
        pass"""


@pytest.mark.parametrize("warm", [True, False])
@pytest.mark.parametrize("hang", ["while True:\n    pass", FORK_BOMB])
def test_a_cell_at_its_time_limit_stops_its_kernel_there_every_time(folder, warm, hang):
    """Not interrupted: whether a fork bomb's kernel answered the interrupt varied by run."""
    config = Config()
    config.SandboxedExecute.timeout = 3
    config.SandboxedKernelManager.warm_start = warm
    cells = [new_code_cell("print('before')"), new_code_cell(hang), new_code_cell("print('after')")]
    for _ in range(2):
        started = time.monotonic()
        done, _ = SandboxedExecute(config=config).preprocess(
            new_notebook(cells=cells), {"metadata": {"path": str(folder)}}
        )
        assert time.monotonic() - started < 30
        assert done.cells[0].outputs[0].text == "before\n"
        assert done.cells[1].outputs[-1].ename == KERNEL_DIED
        assert "Not run: the kernel had stopped in cell 2" in done.cells[2].outputs[0].text
        assert done.metadata["nnla_kernel_stopped_in"] == 2


def test_where_a_kernel_stopped_is_read_from_the_notebook_not_from_its_cells(folder, tmp_path):
    """The judge replaces a test cell's outputs, the KernelDied error with them; the notebook's
    metadata still says where the kernel stopped, and a submission cannot say it for the run."""
    config = Config()
    config.SandboxedExecute.timeout = 3
    nb = new_notebook(cells=[new_code_cell("1"), new_code_cell("while True:\n    pass")])
    nb.metadata["nnla_kernel_stopped_in"] = 1  # a forged claim, from the submission
    done, _ = SandboxedExecute(config=config).preprocess(nb, {"metadata": {"path": str(folder)}})
    done.cells[1].outputs = []  # as the judge's verdict replaces them
    nbformat.write(done, tmp_path / "01_x.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell("1")]), tmp_path / "02_y.ipynb")
    assert stopped_kernels(tmp_path) == [
        "01_x.ipynb: the kernel stopped while running cell 2; the cells after it were not run "
        "(the judge graded the exercises all the same)."
    ]

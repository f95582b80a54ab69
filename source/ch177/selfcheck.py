"""Self-check of an assignment's notebooks: public checks only, in a few seconds.

Save your notebooks, then run this in the assignment folder (where the notebooks are):

    python selfcheck.py                               # every notebook
    python selfcheck.py 03_stored_activations.ipynb   # one or more notebooks (03 or 3 will do)

It reads the notebooks as saved, runs their given cells and your solution cells in a separate
Python process (so an endless loop is reported as "timed out" instead of freezing the check),
tests each function you wrote with public checks, and prints a table: notebook, function,
status (pass, fail, not attempted, error, timed out) and the points at stake. For a failure it
shows the smallest failing input it found and a hint. The exit code is 0 only when every check
passes, 1 when one does not, 2 when the check cannot run (an unknown notebook name, or a
missing package: it says which, and the command that installs it).

The checks are in public_checks.py beside this file: properties any correct answer has.
Passing them is a good sign, not a grade: the hidden tests check more. Needs Python 3.11+ with
numpy, matplotlib, hypothesis and nbformat (all installed with Jupyter and the course's
requirements); nothing else. It runs on Linux, macOS and Windows. This file is the same for
every assignment of the course.

Writing public_checks.py (for the course's authors)
---------------------------------------------------
A check is a function registered with @check(function, sentence, hint=..., examples=...,
cases=..., needs=...). It is called with the notebook's namespace and one input (a dict from
`examples`, or drawn from the strategy `cases()`) as keyword arguments; it calls the student's
code through call(...) and raises Fail(message, expected=..., got=...) when the property does
not hold. A failure shows the input the check was called with. When the check passed the
student's code something else (one row of X, a unit vector it built, only some of the drawn
values), say what, and only that is shown:

    with showing(x=X[i], W=W, b=b):    # a Fail, or an error in the student's code, raised
        got = call("f", f, X[i], W, b)  # in this block is reported with these inputs
        expect_close(got, W @ X[i] + b, f"f(X[{i}], W, b)")

or, for one failure, raise Fail(message, ..., inputs={"x": X[i]}) (as the hidden judge's
Failure(inputs=...)). An explicit Fail(inputs=...) wins over showing(...), an inner showing
over an outer one; inputs={} shows no input. A check that says nothing shows its whole input.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

HERE = Path(__file__).absolute()  # not resolve(): a linked selfcheck.py keeps its folder's checks


def public_checks():
    """The assignment's checks, public_checks.py beside this file (which imports this module
    as `selfcheck`, whatever name it was loaded under)."""
    sys.modules.setdefault("selfcheck", sys.modules[__name__])
    folder = str(HERE.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import public_checks

    return public_checks


STATUSES = ("pass", "fail", "not attempted", "error", "timed out")
DEFAULT_TIMEOUT = 3.0  # seconds for loading a notebook's cells, and for checking one function
GRACE = 1.0  # beyond the time limit, before a check process that does not answer is stopped
STARTUP_SECONDS = 60.0  # for the check process to import numpy, matplotlib and hypothesis
SKIP_VARIABLE = "NNLA_AUTOGRADE"  # set by the course's grader: the check has nothing to do there
# Looked for before anything starts. matplotlib is not: only the checks (and cells) that draw
# need it, and the check process reports it missing when they do.
PACKAGES = ("numpy", "hypothesis", "nbformat")
CHECK_PACKAGES = ("numpy", "hypothesis", "matplotlib")  # what the check process imports


class MissingPackages(BaseException):
    """A package the check needs cannot be imported: nothing can be checked, say which.

    A BaseException, like KeyboardInterrupt, so that neither the checks nor hypothesis take it
    for a failing property on the way out.
    """

    def __init__(self, packages: Sequence[str]):
        super().__init__(*packages)
        self.packages = list(packages)

    def __str__(self) -> str:
        names = list(self.packages)
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        return f"selfcheck needs {listed}: pip install {' '.join(names)}"


def not_installed(names: Iterable[str]) -> list[str]:
    """The packages among `names` that Python cannot find; quick, as nothing is imported."""
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a broken entry in sys.modules or on the path
            found = False
        if not found:
            missing.append(name)
    return missing


def not_importable(names: Iterable[str]) -> list[str]:
    """The packages among `names` that fail to import (missing, broken, or lacking a dependency)."""
    missing = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def say(text: str) -> None:
    """Print `text`, whatever the output's encoding: a Windows code page cannot show every
    character a student's error message may hold, and print would fail instead of reporting."""
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    try:
        text = text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:  # an encoding Python does not know: leave the text to print itself
        pass
    print(text)


# =============================================================================================
# The command: read the notebooks, run the checks in child processes, print the table.
# =============================================================================================


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="selfcheck.py",
        description=f"Public self-check of the {public_checks().ASSIGNMENT} notebooks (run it after saving).",
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        metavar="NOTEBOOK",
        help="a number (03), name, file name or path; default: every notebook here",
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per function (default: %(default)g)"
    )
    parser.add_argument("--processes", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.timeout)
    if os.environ.get(SKIP_VARIABLE):
        say("The self-check does not run while notebooks are being graded.")
        return 0
    missing = not_installed(PACKAGES)
    if missing:
        say(str(MissingPackages(missing)))
        return 2
    try:
        targets = resolve_targets(args.notebooks)
    except ValueError as why:
        say(f"selfcheck: {why}")
        return 2
    if not targets:
        assignment = public_checks().ASSIGNMENT
        say(f"No {assignment} notebooks in {Path.cwd()}: run this in the folder that holds the notebooks.")
        return 2
    try:
        rows, details = run_checks(targets, args.timeout, args.processes)
    except MissingPackages as missing_packages:  # found to be broken only when imported
        say(str(missing_packages))
        return 2
    except KeyboardInterrupt:
        say("selfcheck: interrupted")
        return 130
    say(render(rows, details))
    return 0 if rows and all(r["status"] == "pass" for r in rows) else 1


def resolve_targets(names: list[str]) -> list[tuple[str, Path]]:
    """(notebook, path) pairs to check: the named ones, or every notebook of the assignment here."""
    notebooks = list(public_checks().NOTEBOOKS)
    if not names:
        return [(nb, Path(f"{nb}.ipynb")) for nb in notebooks if Path(f"{nb}.ipynb").is_file()]
    targets: dict[str, Path] = {}
    for name in names:
        notebook, path = find_notebook(name, notebooks)
        targets.setdefault(notebook, path)  # named twice (03 and 3): checked once
    return list(targets.items())


def find_notebook(name: str, notebooks: Sequence[str]) -> tuple[str, Path]:
    """The notebook `name` means, and the file to read.

    `name` is a notebook's number (3 or 03), its name (03_stored_activations), its file name
    (03_stored_activations.ipynb) or a path to it; case does not matter, as on Windows and
    macOS file systems. ValueError, listing the notebooks, when none or several match.
    """
    given = Path(name)
    stem = given.name[: -len(".ipynb")] if given.name.lower().endswith(".ipynb") else given.name
    if stem.isdigit():
        matches = [nb for nb in notebooks if number(nb) == int(stem)]
    else:
        matches = [nb for nb in notebooks if nb.casefold() == stem.casefold()]
    if len(matches) != 1:
        known = ", ".join(f"{nb}.ipynb" for nb in notebooks)
        problem = "no checks for" if not matches else "more than one notebook for"
        raise ValueError(f"{problem} {name!r}; the notebooks are {known}")
    notebook = matches[0]
    if given.suffix.lower() == ".ipynb" and given.is_file():
        path = given
    elif given.parent != Path("."):  # a path to a notebook that is not there: say so later
        path = given.parent / f"{notebook}.ipynb"
    else:
        path = Path(f"{notebook}.ipynb")
    return notebook, path


def number(notebook: str) -> int | None:
    """The number a notebook's name starts with (3 for 03_stored_activations), if any."""
    digits = notebook[: len(notebook) - len(notebook.lstrip("0123456789"))]
    return int(digits) if digits else None


def read_notebook(notebook: str, path: Path) -> dict:
    """The code to run (given and solution cells) and the points per function of one notebook."""
    sys.modules.setdefault("rfc3987_syntax", None)  # a 1 s import that notebook validation never uses
    import warnings

    try:
        import nbformat
    except ImportError:
        raise MissingPackages(["nbformat"]) from None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nb = nbformat.read(path, as_version=4, capture_validation_error={})
    functions = public_checks().NOTEBOOKS[notebook]
    cells, points = [], dict.fromkeys(functions, 0.0)
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not meta:
            continue
        grade_id = str(meta.get("grade_id", f"cell {index + 1}"))
        if meta.get("grade") and not meta.get("solution"):
            tested = [f for f in functions if grade_id.startswith(f + "_")]
            if tested:
                points[max(tested, key=len)] += float(meta.get("points", 0) or 0)
        elif grade_id != "selfcheck" and (meta.get("solution") or meta.get("locked")):
            cells.append({"id": grade_id, "source": cell.get("source", "")})
    return {"notebook": notebook, "cells": cells, "functions": list(functions), "points": points}


def run_checks(targets: list[tuple[str, Path]], timeout: float, processes: int = 0):
    """Check the notebooks; returns the table's rows and the details of each row."""
    processes = processes or default_processes(len(targets))
    # Hypothesis keeps caches in a folder (.hypothesis in the working folder by default): the
    # check processes get a scratch one, so that the student's folder is left as it was.
    scratch = tempfile.mkdtemp(prefix="selfcheck-")
    runners = [Runner(timeout, scratch) for _ in range(max(1, min(processes, len(targets))))]
    for runner in runners:  # they import numpy and hypothesis while this one reads the notebooks
        runner.start()
    work: queue.Queue = queue.Queue()
    rows, details, points = {}, {}, {}
    try:
        for notebook, path in targets:
            try:
                job = read_notebook(notebook, path)
            except FileNotFoundError:
                problem = f"{path} not found"
            except Exception as e:  # noqa: BLE001 - an unreadable file is reported, not raised
                problem = f"could not read {path}: {type(e).__name__}: {e}"
            else:
                points[notebook] = job["points"]
                work.put(job)
                continue
            for function in public_checks().NOTEBOOKS[notebook]:
                rows[notebook, function] = {"status": "error", "points": None}
                details[notebook, function] = [problem]
        threads = [threading.Thread(target=r.run, args=(work,), daemon=True) for r in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for runner in runners:
            runner.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    missing = {name for runner in runners for name in runner.missing}
    if missing:
        raise MissingPackages([name for name in CHECK_PACKAGES if name in missing])
    for runner in runners:
        for (notebook, function), result in runner.results.items():
            rows[notebook, function] = {"status": result["status"], "points": points[notebook][function]}
            details[notebook, function] = result.get("details", [])
    ordered = [(nb, f) for nb, _ in targets for f in public_checks().NOTEBOOKS[nb]]
    return (
        [{"notebook": nb, "function": f, **rows[nb, f]} for nb, f in ordered],
        {key: details.get(key, []) for key in ordered},
    )


def default_processes(n_notebooks: int) -> int:
    """Two check processes when a second core is free, else one (measured: bench/selfcheck.py).

    Each process pays about 0.4 s of imports; a second one only pays off on an idle core.
    """
    cores = os.cpu_count() or 1
    try:
        idle = cores - os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this system
        idle = cores
    return max(1, min(n_notebooks, 2, round(idle)))


class Runner:
    """A check process taking notebooks from a shared queue; restarted when it stops answering.

    Protocol: one JSON job per line on the process's stdin; JSON events per line on its stdout
    ("load", "loaded", "begin", "result", "finished" for each job; "missing" when a package it
    needs cannot be imported). The process is a fresh interpreter running this file, as
    multiprocessing's "spawn" would start it on every system: nothing is inherited but the
    environment, and everything it is sent is text.
    """

    def __init__(self, timeout: float, scratch: str):
        self.timeout = timeout
        self.scratch = scratch
        self.limit = timeout  # of the step the process is working on
        self.results: dict[tuple[str, str], dict] = {}
        self.missing: list[str] = []  # packages the process could not import: the run stops
        self.proc: subprocess.Popen | None = None
        self.events: queue.Queue = queue.Queue()

    def start(self) -> None:
        env = dict(
            os.environ,
            MPLBACKEND="Agg",
            PYTHONDONTWRITEBYTECODE="1",
            HYPOTHESIS_STORAGE_DIRECTORY=self.scratch,
        )
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE), "--child", "--timeout", str(self.timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            # Windows: no console window pops up for it when the check runs from Jupyter.
            creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
        )
        self.events = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self.events), daemon=True).start()

    @staticmethod
    def _read(proc: subprocess.Popen, events: queue.Queue) -> None:
        for line in proc.stdout:
            try:
                events.put(json.loads(line))
            except ValueError:
                continue
        events.put(None)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream:
                # closing stdin flushes a job the process ended before reading: a broken pipe
                with contextlib.suppress(OSError):
                    stream.close()
        self.proc = None

    def run(self, work: queue.Queue) -> None:
        while not self.missing:
            try:
                job = work.get_nowait()
            except queue.Empty:
                break
            pending = [(job["notebook"], f) for f in job["functions"]]
            while pending:
                if self.proc is None:
                    self.start()
                known = {f: r["status"] for (nb, f), r in self.results.items() if nb == job["notebook"]}
                todo = {**job, "functions": [f for _, f in pending], "known": known}
                try:
                    self.proc.stdin.write((json.dumps(todo) + "\n").encode())
                    self.proc.stdin.flush()
                except OSError:
                    pass  # the process is gone: _follow reports it
                if not self._follow(pending):
                    self.stop()
        while self.missing and not work.empty():  # nothing can be checked: no process takes more
            with contextlib.suppress(queue.Empty):
                work.get_nowait()
        if self.proc is not None:
            try:
                self.proc.stdin.close()  # the process ends when its input does
            except OSError:
                pass

    def _follow(self, pending: list[tuple[str, str]]) -> bool:
        """Record the results of one job; False if the process had to be given up."""
        current, deadline = None, time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._give_up(current, pending, "timed out")
                return False
            if event is None:
                self._give_up(current, pending, "error")
                return False
            kind = event.get("event")
            if kind == "missing":
                self.missing = list(event["packages"])
                pending.clear()
                return False
            if kind in ("load", "begin"):
                current, self.limit = (event["notebook"], event.get("function")), float(event["limit"])
                deadline = time.monotonic() + self.limit + GRACE
            elif kind in ("loaded", "result"):
                if kind == "result":
                    self._record((event["notebook"], event["function"]), event, pending)
                current, deadline = None, time.monotonic() + self.timeout + GRACE
            elif kind == "finished":
                for key in list(pending):  # not expected: every function gets a result
                    self._record(key, {"status": "error", "details": ["no result"]}, pending)
                return True

    def _give_up(self, current, pending, status) -> None:
        """The process stopped answering (or ended) while working on `current`."""
        if current is None:  # before the first step or between two: everything left
            why = self._stderr_tail() or "the check process ended unexpectedly"
            for key in list(pending):
                self._record(key, {"status": "error", "details": [why]}, pending)
            return
        notebook, function = current
        if function is None:  # loading the notebook's cells
            keys = list(pending)
            if status == "timed out":
                why = f"the notebook's cells did not finish running within {self.timeout:g} s"
            else:
                why = "the check process ended while running the notebook's cells (os._exit or a crash?)"
        else:
            keys = [current]
            if status == "timed out":
                why = (
                    f"{function} did not finish within {self.limit:g} s: an endless loop, or very slow code?"
                )
            else:
                why = f"the check process ended while checking {function} (os._exit or a crash?)"
        for key in keys:
            self._record(key, {"status": status, "details": [why]}, pending)

    def _record(self, key, result, pending) -> None:
        self.results[key] = {"status": result["status"], "details": result.get("details", [])}
        if key in pending:
            pending.remove(key)

    def _stderr_tail(self) -> str:
        if self.proc is None:
            return ""
        try:
            self.proc.wait(timeout=1)
            text = self.proc.stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return ""
        return "\n".join(text.splitlines()[-5:])


def render(rows: list[dict], details: dict) -> str:
    """The table, then what went wrong for each function that did not pass."""
    width_nb = max([len("notebook")] + [len(r["notebook"]) for r in rows])
    width_fn = max([len("function")] + [len(r["function"]) for r in rows])
    # points at stake: the autograded points of the notebook's tests of that function
    header = f"{'notebook':<{width_nb}}  {'function':<{width_fn}}  {'status':<13}  points at stake"
    lines = [header, "-" * len(header)]
    for r in rows:
        pts = "" if r["points"] is None else f"{r['points']:g}"
        lines.append(f"{r['notebook']:<{width_nb}}  {r['function']:<{width_fn}}  {r['status']:<13}  {pts:>4}")
    lines.append("-" * len(header))
    for r in rows:  # what failed, and notes about checks that could not run yet
        text = details.get((r["notebook"], r["function"]), [])
        if text:
            lines += ["", f"{r['notebook']} / {r['function']}: {r['status']}", *(f"  {t}" for t in text)]
    passed = [r for r in rows if r["status"] == "pass"]
    total = sum(r["points"] or 0 for r in rows)
    won = sum(r["points"] or 0 for r in passed)
    lines += [
        "",
        f"{len(passed)} of {len(rows)} functions pass their public checks; "
        f"their tests carry {won:g} of the {total:g} autograded points.",
        "These checks are public and partial: the hidden tests that decide the grade check more.",
    ]
    if any(r["status"] == "not attempted" for r in rows):
        lines.append("'not attempted': the function still raises NotImplementedError.")
    return "\n".join(lines)


# =============================================================================================
# The check process: runs the student's cells and the public checks, reports JSON lines.
# =============================================================================================

np = st = hnp = None  # imported in the check process only (see child_main)


NOTHING = object()


class Text(str):
    """A description shown as it is (not as a quoted string)."""


class Fail(Exception):
    """A public property does not hold.

    `inputs`: what to show as the failing input (name -> value), when it is not the input the
    check was called with; None (not said) shows that one.
    """

    def __init__(
        self,
        message: str,
        expected=NOTHING,
        got=NOTHING,
        show_values: bool = True,
        inputs: dict | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.got = got
        self.show_values = show_values
        self.inputs = inputs


class StudentError(Exception):
    """The student's code raised an exception (`inputs` as for Fail)."""

    def __init__(self, error: BaseException, name: str, inputs: dict | None = None):
        super().__init__(str(error))
        self.error = error
        self.name = name
        self.inputs = inputs


class NotAttempted(BaseException):
    """The student's code raised NotImplementedError: stop checking this function."""

    def __init__(self, owner: str):
        super().__init__(owner)
        self.owner = owner


class TimedOut(BaseException):
    """The time limit of one function (or of loading a notebook) is over."""


class Missing(BaseException):
    """A name the checks need is not defined in the notebook."""


class Property:
    def __init__(self, function, sentence, body, hint="", examples=None, cases=None, needs=(), budget=8):
        self.function = function
        self.sentence = sentence
        self.body = body
        self.hint = hint
        self.examples = examples
        self.cases = cases
        self.needs = needs
        self.budget = budget


CHECKS: dict[str, list[Property]] = {}


def check(function, sentence, hint="", examples=None, cases=None, needs=(), budget=8):
    """Register a property of `function`: checked on `examples` (a list of input dicts, smallest
    first, or a function returning one) and on inputs drawn by the strategy `cases()` returns."""

    def register(body):
        CHECKS.setdefault(function, []).append(
            Property(function, sentence, body, hint, examples, cases, needs, budget)
        )
        return body

    return register


# ------------------------------------------------------------------------- helpers for checks


@contextlib.contextmanager
def showing(**inputs) -> Iterator[None]:
    """A failure in this block (a Fail, or an error in the student's code) shows `inputs` as
    its failing input, unless it says its own (see the module's docstring)."""
    try:
        yield
    except (Fail, StudentError) as failure:
        if failure.inputs is None:
            failure.inputs = inputs
        raise


def get(ns: dict, name: str):
    if name not in ns:
        raise Missing(name)
    return ns[name]


def call(name: str, fn, *args, **kwargs):
    """Call student code; its exceptions become StudentError (NotImplementedError: NotAttempted)."""
    try:
        return fn(*args, **kwargs)
    except (TimedOut, NotAttempted, Missing):
        raise
    except NotImplementedError as e:
        raise NotAttempted(raised_in(e) or name) from None
    except BaseException as e:  # noqa: BLE001 - student code may raise anything
        raise StudentError(e, name) from None


def attr(obj, name: str, owner: str):
    try:
        return getattr(obj, name)
    except (TimedOut, NotAttempted):
        raise
    except AttributeError:
        raise Fail(f"{owner} has no attribute {name!r}", show_values=False) from None
    except BaseException as e:  # noqa: BLE001 - a property of the student's class may raise
        raise StudentError(e, f"{owner}.{name}") from None


def raised_in(error: BaseException) -> str | None:
    """The qualified name of the innermost student function the exception went through."""
    tb, name = error.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith("<cell"):
            name = tb.tb_frame.f_code.co_qualname
        tb = tb.tb_next
    return name


def expect_value_error(ns: dict, name: str, *args) -> None:
    """The student's `name(*args)` must raise ValueError (or a subclass of it)."""
    try:
        got = get(ns, name)(*args)
    except ValueError:
        return
    except NotImplementedError as e:
        raise NotAttempted(raised_in(e) or name) from None
    except Exception as e:  # noqa: BLE001
        raise Fail(f"raised {type(e).__name__} instead of ValueError", show_values=False) from None
    raise Fail(f"no ValueError; it returned {got!r}"[:300], show_values=False)


def where(error: BaseException) -> list[str]:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith("<cell")]
    return [f"{f.filename[1:-1]}, line {f.lineno}: {(f.line or '').strip()}" for f in frames[-2:]]


def array(value, what: str, dtype=float):
    """`value` as a NumPy array, or a failure saying what came back instead."""
    if value is None:
        raise Fail(f"{what} returned None (a missing return statement?)", show_values=False)
    try:
        out = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise Fail(
            f"{what} returned {show(value)}, which is not an array of numbers", show_values=False
        ) from None
    return out


def expect_shape(value, shape: tuple, what: str):
    got = array(value, what)
    if got.shape != tuple(shape):
        raise Fail(
            f"{what} has the wrong shape",
            expected=Text(f"shape {tuple(shape)}"),
            got=Text(f"shape {got.shape}"),
        )
    return got


def expect_close(got, expected, what: str, rtol=1e-7, atol=1e-9):
    expected = np.asarray(expected, dtype=float)
    got_a = array(got, what)
    if got_a.shape != expected.shape:
        raise Fail(
            f"{what} has the wrong shape",
            expected=Text(f"shape {expected.shape}"),
            got=Text(f"shape {got_a.shape}"),
        )
    if not np.allclose(got_a, expected, rtol=rtol, atol=atol, equal_nan=False):
        raise Fail(f"{what} is not what it should be", expected=expected, got=got_a)
    return got_a


def unchanged(before, after, names, function):
    for name, a, b in zip(names, before, after):
        if not (np.shape(a) == np.shape(b) and np.array_equal(a, b)):
            raise Fail(f"{function} changed its argument {name}", expected=a, got=b)


def copies(*values):
    return [v.copy() if isinstance(v, np.ndarray) else [x.copy() for x in v] for v in values]


def show(value) -> str:
    """A value as it would be typed, shape first for arrays, shortened when long."""
    if np is not None and isinstance(value, np.ndarray):
        body = np.array2string(value, precision=6, separator=", ", threshold=30, edgeitems=2)
        text = f"array of shape {value.shape}: {' '.join(body.split())}" if value.ndim else repr(value.item())
    elif np is not None and isinstance(value, np.generic):
        text = f"{value.item()!r} ({type(value).__name__})"
    elif isinstance(value, list | tuple) and value and all(_is_array(v) for v in value):
        inner = ", ".join(show(v) for v in value)
        text = f"[{inner}]" if isinstance(value, list) else f"({inner})"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k!r}: {show(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, Text):
        text = str(value)
    elif callable(value) and hasattr(value, "__name__"):
        text = value.__name__
    else:
        text = repr(value)
    return text if len(text) <= 500 else text[:495] + " ...]"


def _is_array(value) -> bool:
    return np is not None and isinstance(value, np.ndarray)


def floats(lo=-3, hi=3):
    """Small whole numbers as floats: exact arithmetic, and failing inputs shrink to readable ones."""
    return st.integers(lo, hi).map(float)


def arrays(shape, lo=-3, hi=3):
    return hnp.arrays(np.float64, shape, elements=floats(lo, hi))


def unit(n: int, j: int):
    e = np.zeros(n)
    e[j] = 1.0
    return e


# --------------------------------------------------------------------------- the check process


class Checker:
    """Runs one notebook's code and the checks of its functions."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self.status: dict[str, str] = {}
        self.alarm = hasattr(signal, "setitimer")
        if self.alarm:
            signal.signal(signal.SIGALRM, self._ring)

    @staticmethod
    def _ring(signum, frame):
        raise TimedOut()

    def _limit(self, seconds: float) -> None:
        if self.alarm:
            signal.setitimer(signal.ITIMER_REAL, seconds)

    def load(self, cells: list[dict]) -> tuple[dict, list[str]]:
        import builtins
        import linecache

        ns = {"__name__": "__main__", "__builtins__": builtins}
        errors = []
        self._limit(self.timeout)
        try:
            for cell in cells:
                source = "\n".join(
                    line for line in cell["source"].splitlines() if not line.lstrip().startswith(("%", "!"))
                )
                filename = f"<cell {cell['id']}>"
                linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
                try:
                    exec(compile(source, filename, "exec"), ns)
                except TimedOut:
                    raise
                except BaseException as e:  # noqa: BLE001 - student code may raise anything
                    stop_if_packages_missing(e)  # `import matplotlib.pyplot` in a given cell
                    line = getattr(e, "lineno", None) if isinstance(e, SyntaxError) else None
                    at = where(e) or ([f"cell {cell['id']}, line {line}"] if line else [f"cell {cell['id']}"])
                    errors.append(f"{at[-1]}: {type(e).__name__}: {e}")
        finally:
            self._limit(0)
        return ns, errors

    def check_function(self, function: str, ns: dict, load_errors: list[str], limit: float) -> dict:
        details: list[str] = []
        verdicts = []
        self._limit(limit)
        try:
            for prop in CHECKS[function]:
                waiting = [n for n in prop.needs if self.status.get(n) != "pass"]
                if waiting:
                    details.append(
                        f"not checked yet: {prop.sentence} (needs {', '.join(waiting)} to pass first)"
                    )
                    continue
                verdict, lines = self.run_property(prop, ns)
                verdicts.append(verdict)
                if verdict == "error" and lines[1] in details:  # the same exception again
                    lines = [lines[0], "        (raises the same error as above)"]
                details += lines
        except NotAttempted as e:
            owner = e.owner.split(".")[0]
            if owner == function:
                return {"status": "not attempted", "details": []}
            return {
                "status": "error",
                "details": [
                    f"{function} uses {e.owner}, which is not attempted yet (raises NotImplementedError)"
                ],
            }
        except TimedOut:
            return {
                "status": "timed out",
                "details": [
                    f"{function} did not finish within {limit:g} s: an endless loop, or very slow code?"
                ],
            }
        except Missing as e:
            lines = [f"{e.args[0]} is not defined: did its cell run without errors?"]
            lines += [f"a cell raised an error: {err}" for err in load_errors[:3]]
            return {"status": "error", "details": lines}
        finally:
            self._limit(0)
        if "error" in verdicts:
            status = "error"
        elif "fail" in verdicts:
            status = "fail"
        else:
            status = "pass"
        if status != "pass" and load_errors:
            details = [f"note: a cell raised an error: {err}" for err in load_errors[:3]] + details
        return {"status": status, "details": details}

    def run_property(self, prop: Property, ns: dict) -> tuple[str, list[str]]:
        """('pass' | 'fail' | 'error', lines of feedback) for one property."""
        seen: dict = {}

        def attempt(**case):
            np.random.seed(0)
            try:
                prop.body(ns, **case)
            except (Fail, StudentError) as e:
                if isinstance(e, StudentError):
                    stop_if_packages_missing(e.error)
                seen["case"], seen["error"] = case, e
                raise
            except Exception as e:  # our check tripped over an unexpected result
                stop_if_packages_missing(e)
                seen["case"] = case
                seen["error"] = Fail(
                    f"could not check the result ({type(e).__name__}: {e})", show_values=False
                )
                raise

        if prop.examples is not None:
            for case in prop.examples() if callable(prop.examples) else prop.examples:
                try:
                    attempt(**case)
                except Exception:  # noqa: BLE001 - recorded in `seen`
                    break
        if "error" not in seen and prop.cases is not None:
            from hypothesis import HealthCheck, Phase, Verbosity, given, settings

            test = settings(
                max_examples=prop.budget,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                phases=(Phase.explicit, Phase.generate, Phase.shrink),
                report_multiple_bugs=False,
                print_blob=False,
                verbosity=Verbosity.quiet,
            )(given(prop.cases())(lambda case: attempt(**case)))
            try:
                test()
            except Exception:  # noqa: BLE001 - the smallest failing case is in `seen`
                if "error" not in seen:
                    raise
        if "error" not in seen:
            return "pass", []
        return feedback(prop, seen["case"], seen["error"])


def stop_if_packages_missing(error: BaseException) -> None:
    """An ImportError may be no mistake of the student's but a package not installed (say,
    matplotlib, needed only by the notebooks and checks that draw): then stop everything."""
    if isinstance(error, ImportError):
        missing = not_importable(CHECK_PACKAGES)
        if missing:
            raise MissingPackages(missing)


def feedback(prop: Property, case: dict, error: Exception) -> tuple[str, list[str]]:
    lines = [f"FAILED  {prop.sentence}"]
    if isinstance(error, StudentError):
        inner = error.error
        lines.append(f"        {error.name} raised {type(inner).__name__}: {str(inner)[:300]}")
        lines += [f"          at {w}" for w in where(inner)]
        if isinstance(inner, NameError):
            lines.append(
                "        note: only the given cells and your solution cells run, as when grading: "
                "define helpers inside a solution cell"
            )
        verdict = "error"
    else:
        lines.append(f"        {error.message}")
        verdict = "fail"
    shown = case if getattr(error, "inputs", None) is None else error.inputs  # what the check used
    if shown:
        label = "smallest failing input" if prop.cases is not None else "failing input"
        lines.append(f"        {label}:")
        lines += [f"          {k} = {show(v)}" for k, v in shown.items()]
    if isinstance(error, Fail) and error.show_values:
        if error.expected is not NOTHING:
            lines.append(f"        expected: {show(error.expected)}")
        if error.got is not NOTHING:
            lines.append(f"        got:      {show(error.got)}")
    if prop.hint:
        lines.append(f"        hint: {prop.hint}")
    return verdict, lines


def defer_import(name: str) -> None:
    """Register module `name` to be imported when one of its attributes is first used.

    Every notebook imports pyplot (0.3 s) but only one notebook's checks draw. importlib's
    LazyLoader does not help here: an import statement looks at the module's __spec__, which
    loads it. This stand-in has a __spec__ of None and loads the module on any other attribute.
    """
    import importlib
    import types

    class Deferred(types.ModuleType):
        def __getattr__(self, attribute):
            if attribute.startswith("__"):
                raise AttributeError(attribute)
            if sys.modules.get(name) is self:
                del sys.modules[name]
            return getattr(importlib.import_module(name), attribute)

    sys.modules[name] = Deferred(name)


def child_main(timeout: float) -> int:
    """The check process: import, then check each job read from stdin, reporting JSON lines."""
    global np, st, hnp
    jobs_in = os.fdopen(os.dup(0), "r")
    out = os.fdopen(os.dup(1), "w", buffering=1)

    def emit(**event):
        out.write(json.dumps(event) + "\n")

    try:
        import numpy
        from hypothesis import strategies
        from hypothesis.extra import numpy as hyp_numpy
    except ImportError:
        emit(event="missing", packages=not_importable(("numpy", "hypothesis")) or ["numpy", "hypothesis"])
        return 1
    os.environ["MPLBACKEND"] = "Agg"
    try:  # imported now, while the notebooks are read; without it, the cells that draw say so
        import matplotlib  # noqa: F401
    except ImportError:
        pass
    defer_import("matplotlib.pyplot")
    checks = public_checks()
    np, st, hnp = checks.np, checks.st, checks.hnp = numpy, strategies, hyp_numpy
    # Hypothesis reads the source of modules in the working folder for constants to try; these
    # scripts' constants are no help to the checks, and reading them costs time in every run.
    sys.modules["__main__"].__file__ = checks.__file__ = None
    # The student's prints (and anything written to the terminal) must not mix with the report.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.stdin = open(os.devnull)
    sys.stdout = sys.stderr = open(os.devnull, "w")
    checker = Checker(timeout)
    try:
        for line in jobs_in:
            check_job(checker, json.loads(line), timeout, emit)
    except MissingPackages as missing:
        emit(event="missing", packages=missing.packages)
        return 1
    return 0


def check_job(checker: Checker, job: dict, timeout: float, emit: Callable[..., None]) -> None:
    """Run one notebook's cells, then check the functions the job lists, emitting the events."""
    checks = public_checks()
    notebook = job["notebook"]
    emit(event="load", notebook=notebook, limit=timeout)
    try:
        ns, errors = checker.load(job["cells"])
    except TimedOut:
        why = f"the notebook's cells did not finish running within {timeout:g} s"
        for function in job["functions"]:
            emit(event="result", notebook=notebook, function=function, status="timed out", details=[why])
        emit(event="finished", notebook=notebook)
        return
    emit(event="loaded", notebook=notebook)
    checker.status = dict(job.get("known", {}))
    for function in checks.NOTEBOOKS[notebook]:
        if function not in job["functions"]:
            checker.status.setdefault(function, "skipped")
            continue
        # A function that uses one that timed out gets less time: it most likely hangs too.
        slow = [f for f in checks.USES.get(function, ()) if checker.status.get(f) == "timed out"]
        limit = min(timeout, 1.0) if slow else timeout
        emit(event="begin", notebook=notebook, function=function, limit=limit)
        try:
            result = checker.check_function(function, ns, errors, limit)
        except TimedOut:  # the alarm rang just as the check ended
            result = {"status": "timed out", "details": []}
        if result["status"] == "timed out" and slow:
            result["details"] = [
                f"{function} did not finish within {limit:g} s; it uses {', '.join(slow)}, "
                "which timed out too"
            ]
        checker.status[function] = result["status"]
        emit(event="result", notebook=notebook, function=function, **result)
    emit(event="finished", notebook=notebook)


if __name__ == "__main__":
    sys.exit(main())

"""The worker: runs one notebook's student code in the sandbox and answers the judge's calls.

It runs in a process forked for one student by the fork server (forkserver.py, whose program
is wire.py + this file + forkserver.py, because inside the sandbox the grader's packages are
hidden), which calls main(). Requests and answers are wire frames on the process's original
stdin and stdout; the student's own prints go to /dev/null. Nothing here decides a grade: the worker only
reports what the student's code returned, raised, warned or called.
"""

try:  # in the sandbox, wire.py's text comes first in the same program
    from autograder.judge.isolation.wire import Unencodable, decode, encode, read_frame, write_frame
except ImportError:  # pragma: no cover
    pass

import builtins
import importlib
import linecache
import os
import sys
import traceback
import warnings

import numpy as np

MAX_MESSAGE = 2000
MISSING = object()  # a name the notebook did not define, to be removed again after a call


class Tripwires:
    """Counts calls of the assignment's banned functions while a student call runs."""

    def __init__(self, banned):
        """`banned`: the name feedback gives each call -> where it lives ("numpy.tanh")."""
        self.armed = False
        self.hits = []
        for label, where in banned.items():
            module, name = where.rsplit(".", 1)
            self._install(importlib.import_module(module), name, label)

    def _install(self, module, name, label):
        original = getattr(module, name)
        wires = self

        def wire(*args, **kwargs):
            if wires.armed:
                wires.hits.append(label)
            return original(*args, **kwargs)

        wire.__name__ = name
        setattr(module, name, wire)


class Worker:
    def __init__(self):
        self.namespaces = {}
        self.handles = {}
        self.given = {}
        self.tripwires = Tripwires({})

    # ---------------------------------------------------------------- requests

    def handle(self, req):
        op = req.get("op")
        if op == "setup":
            return self.setup(req["given"], req["banned"])
        if op == "load":
            return self.load(req["namespace"], req["cells"])
        if op == "call":
            return self.call(req)
        if op == "get":
            return {"ok": True, "value": self.send(self.resolve(req, req.get("path", [])))}
        if op == "len":
            return {"ok": True, "value": len(self.resolve(req, req.get("path", [])))}
        if op == "set":
            obj = self.resolve(req, req["path"][:-1])
            setattr(obj, req["path"][-1], self.receive(req["value"]))
            return {"ok": True, "value": None}
        return {"ok": False, "error": {"type": "ProtocolError", "message": f"unknown op {op!r}"}}

    def setup(self, given, banned):
        """The assignment's objects passed by name (its given.py, run before any student code
        and before the tripwires) and the calls it bans."""
        namespace = {"__name__": "given"}
        exec(compile(given, "<given>", "exec"), namespace)
        self.given = {k: v for k, v in namespace.items() if callable(v) and not k.startswith("_")}
        self.tripwires = Tripwires(banned)
        return {"ok": True, "value": sorted(self.given)}

    def load(self, name, cells):
        """Run one notebook's given and solution cells in order, in a namespace of its own;
        report the cells that raised."""
        namespace = self.namespaces[name] = {"__name__": "__main__", "__builtins__": builtins}
        errors = []
        for cell in cells:
            source = "\n".join(
                line for line in cell["source"].splitlines() if not line.lstrip().startswith(("%", "!"))
            )
            filename = f"<cell {cell['id']}>"
            linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
            try:
                exec(compile(source, filename, "exec"), namespace)
            except BaseException as e:  # noqa: BLE001 - student code may raise anything
                errors.append({"cell": cell["id"], **describe(e)})
        return {"ok": True, "value": None, "errors": errors}

    def call(self, req):
        target = self.resolve(req, req.get("path", []))
        args = [self.receive(a) for a in req.get("args", [])]
        kwargs = {k: self.receive(v) for k, v in req.get("kwargs", {}).items()}
        before = [a.copy() if isinstance(a, np.ndarray) else _copy_arrays(a) for a in args]
        if req.get("seed") is not None:
            np.random.seed(req["seed"])
        namespace = self.namespaces.get(req.get("namespace"), {})
        replaced = {name: namespace.get(name, MISSING) for name in req.get("trusted", [])}
        namespace.update({name: self.given[name] for name in replaced})
        self.tripwires.hits = []
        self.tripwires.armed = bool(req.get("watch_banned"))
        try:
            with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn", under="ignore"):
                warnings.simplefilter("always")
                value = target(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001
            return {"ok": False, "error": describe(e), "banned": sorted(set(self.tripwires.hits))}
        finally:
            self.tripwires.armed = False
            for name, original in replaced.items():
                if original is MISSING:
                    namespace.pop(name, None)
                else:
                    namespace[name] = original
        return {
            "ok": True,
            "value": self.send(value),
            "warnings": [f"{w.category.__name__}: {w.message}"[:MAX_MESSAGE] for w in caught][:10],
            "banned": sorted(set(self.tripwires.hits)),
            "mutated": [i for i, (a, b) in enumerate(zip(before, args)) if not _same(a, b)],
        }

    # ---------------------------------------------------------------- values

    def resolve(self, req, path):
        target, namespace = req["target"], self.namespaces.get(req.get("namespace"), {})
        if isinstance(target, int):
            obj = self.handles[target]
        elif target in namespace:
            obj = namespace[target]
        else:
            raise NameError(f"name '{target}' is not defined")
        for step in path:
            obj = obj[step] if isinstance(step, int) else getattr(obj, step)
        return obj

    def receive(self, wire_value):
        """A wire value as the student's code should see it: arrays, given objects, objects."""
        if isinstance(wire_value, dict) and len(wire_value) == 1:
            ((kind, body),) = wire_value.items()
            if kind == "__fn__":
                return self.given[body]
            if kind == "__handle__":
                return self.handles[body["id"]]
        if isinstance(wire_value, list):
            return [self.receive(v) for v in wire_value]
        return decode(wire_value)

    def send(self, value):
        try:
            return encode(value)
        except Unencodable as why:
            if type(value).__name__ == "Figure" and hasattr(value, "axes"):
                return {"__figure__": figure_summary(value)}
            handle = len(self.handles) + 1
            self.handles[handle] = value
            return {"__handle__": {"id": handle, "type": type(value).__name__[:100], "why": str(why)[:200]}}


def _copy_arrays(value):
    if isinstance(value, list | tuple):
        return type(value)(_copy_arrays(v) for v in value)
    return value.copy() if isinstance(value, np.ndarray) else value


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, list | tuple):
        return isinstance(b, list | tuple) and len(a) == len(b) and all(map(_same, a, b))
    return True


def describe(e):
    """An exception as plain text: its type, message and the last student-code lines."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith("<cell")]
    where = [f"{f.filename[1:-1]}, line {f.lineno}: {f.line}" for f in frames[-3:]]
    bases = [c.__name__ for c in type(e).__mro__][:20]
    return {"type": type(e).__name__, "bases": bases, "message": str(e)[:MAX_MESSAGE], "where": where}


def figure_summary(fig):
    """What the judge needs of a figure: per axes, its title, whether it is shown, its cell in the
    figure's top-level grid of subplots ([n_rows, n_cols, first, last], cells numbered from 0 in
    reading order; None for an axes outside any grid), its contours."""
    from matplotlib.contour import ContourSet

    axes = []
    for ax in fig.axes:
        contours = [c for c in ax.collections if isinstance(c, ContourSet)]
        spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
        spec = spec.get_topmost_subplotspec() if spec is not None else None  # a colorbar nests it
        axes.append(
            {
                "title": str(ax.get_title())[:200],
                "on": bool(ax.axison),
                "visible": bool(ax.get_visible()),
                "grid": [int(v) for v in spec.get_geometry()] if spec is not None else None,
                "contours": [
                    {
                        "filled": bool(c.filled),
                        "zmin": float(getattr(c, "zmin", np.nan)),
                        "zmax": float(getattr(c, "zmax", np.nan)),
                    }
                    for c in contours
                ],
            }
        )
    import matplotlib.pyplot as plt

    plt.close(fig)
    return {"axes": axes[:100]}


def main():
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    sys.stdin = open(os.devnull)
    sys.stdout = sys.stderr = open(os.devnull, "w")
    worker = Worker()
    write_frame(proto_out, {"ok": True, "value": "ready"})
    while True:
        req = read_frame(proto_in)
        if req is None:
            break
        try:
            answer = worker.handle(req)
        except BaseException as e:  # noqa: BLE001 - report, never die, on the student's errors
            answer = {"ok": False, "error": describe(e)}
        try:
            write_frame(proto_out, answer)
        except Unencodable as e:
            write_frame(proto_out, {"ok": False, "error": {"type": "Unencodable", "message": str(e)}})

"""Hidden properties: plain sentences, checked with hypothesis against a reference.

A suite module of an assignment's plug-in creates `suite = Suite("02_batch_forms", CATALOGUE)`
and declares properties:

    @suite.prop("affine_rows_values", "affine_rows(X, W, b) equals X @ W.T + b")
    @given(problem=affine_problems())
    def rows_form(student, problem):
        X, W, b = problem
        got = student.call("affine_rows", X, W, b)
        expect_close(got, X @ W.T + b, inputs={"X": X, "W": W, "b": b})

`student` is a StudentCalls: calling into the sandboxed worker, it returns plain values and
turns the student's exceptions into Failures. A property fails by raising Failure; the runner
keeps the one from hypothesis's final (shrunk) example.

A property's inputs come from @given's strategies alone: no st.data(), assume() or target()
that depends on what the student's code returned. The judge relies on it to replay one
student's passing inputs to the next (replay.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from autograder.judge.isolation.client import Reply, StudentProcess
from autograder.judge.misconceptions import Misconception, matches

RTOL = 1e-7
ATOL = 1e-9


class Failure(AssertionError):
    """A property that does not hold, with what a student needs to see."""

    def __init__(
        self,
        message: str,
        *,
        inputs: dict | None = None,
        expected=None,
        actual=None,
        tags: tuple[str, ...] = (),
        show_values: bool = True,
    ):
        super().__init__(message)
        self.message = message
        self.inputs = inputs or {}
        self.expected = expected
        self.actual = actual
        self.tags = tuple(tags)
        self.show_values = show_values


class NotAttempted(Failure):
    """The stub is still there: the student's function raised NotImplementedError."""


@dataclass
class Property:
    grade_id: str
    exercise: str
    sentence: str
    test: Callable
    weight: float = 1.0
    max_examples: int | None = None
    misconceptions: Sequence[Misconception] = ()


@dataclass
class Suite:
    """The hidden properties of one notebook, in declaration order, and the known mistakes
    (its assignment's catalogue) that a failure is matched against."""

    notebook: str
    misconceptions: Sequence[Misconception] = ()
    properties: list[Property] = field(default_factory=list)

    def prop(
        self,
        grade_id: str,
        sentence: str,
        *,
        exercise: str | None = None,
        weight: float = 1.0,
        max_examples: int | None = None,
    ):
        def register(test: Callable) -> Callable:
            name = exercise or grade_id.rsplit("_", 1)[0]
            self.properties.append(
                Property(grade_id, name, sentence, test, weight, max_examples, self.misconceptions)
            )
            return test

        return register

    def for_grade_id(self, grade_id: str) -> list[Property]:
        return [p for p in self.properties if p.grade_id == grade_id]


class StudentCalls:
    """Calls into the student's code for one property; errors become Failures."""

    def __init__(self, process: StudentProcess, notebook: str, call_seconds: float):
        self.process = process
        self.notebook = notebook
        self.call_seconds = call_seconds
        self.last: Reply | None = None

    def call(
        self,
        target: str | int,
        *args,
        path: tuple = (),
        seed: int | None = None,
        watch_banned: bool = False,
        shared: bool = False,
        trusted: tuple[str, ...] = (),
        inputs: dict | None = None,
        **kwargs,
    ):
        """The value the student's callable returned; Failure if it raised. `shared` and
        `trusted`: see StudentProcess.call."""
        reply = self.attempt(
            target,
            *args,
            inputs=inputs,
            path=path,
            seed=seed,
            watch_banned=watch_banned,
            shared=shared,
            trusted=trusted,
            **kwargs,
        )
        return self._value(reply, _describe_target(target, path), inputs)

    def attempt(self, target: str | int, *args, inputs: dict | None = None, **options) -> Reply:
        """What calling the student's callable did, a value or an error, as the worker reports it.
        `inputs`: the example, as feedback shows it; `options`: StudentProcess.call's, and the
        callable's keyword arguments."""
        self.last = self.process.call(self.notebook, target, *args, timeout=self.call_seconds, **options)
        return self.last

    def get(self, target: str | int, *path, inputs: dict | None = None):
        reply = self.process.get(self.notebook, target, *path, timeout=self.call_seconds)
        self.last = reply
        return self._value(reply, _describe_target(target, path), inputs)

    def length(self, target: str | int, *path, inputs: dict | None = None) -> int:
        reply = self.process.length(self.notebook, target, *path, timeout=self.call_seconds)
        return self._value(reply, f"len({_describe_target(target, path)})", inputs)

    def set(self, target: str | int, path: tuple, value) -> None:
        self._value(
            self.process.set(self.notebook, target, path, value, timeout=self.call_seconds),
            _describe_target(target, path),
            None,
        )

    def source_defining(self, name: str) -> str:
        """The source of the student's cell that defines `name` (for static checks)."""
        for cell in self.process.notebooks.get(self.notebook, []):
            if f"def {name}" in cell.source or f"class {name}" in cell.source:
                return cell.source
        return ""

    def _value(self, reply: Reply, what: str, inputs: dict | None):
        if reply.ok:
            return reply.value
        raise student_error(reply.error, what, inputs)


def student_error(error: dict | None, what: str, inputs: dict | None) -> Failure:
    """The Failure for a call that raised: not attempted, not defined, or the student's error."""
    err = error or {"type": "Error", "message": ""}
    if err["type"] == "NotImplementedError":
        return NotAttempted(f"{what} still raises NotImplementedError", inputs=inputs, show_values=False)
    if err["type"] == "NameError" and f"'{what.split('.')[0]}'" in err["message"]:
        return NotAttempted(f"{what.split('.')[0]} is not defined in your notebook", show_values=False)
    where = f" ({err['where'][-1]})" if err.get("where") else ""
    return Failure(
        f"{what} raised {err['type']}: {err['message']}{where}".rstrip(": "), inputs=inputs, show_values=False
    )


def handle_id(value, what: str) -> int:
    """The worker's handle for an object the student's code returned (e.g. a DenseLayer)."""
    if isinstance(value, dict) and "__handle__" in value:
        return int(value["__handle__"]["id"])
    raise Failure(f"{what} did not return an object", actual=value)


def _describe_target(target, path) -> str:
    name = target if isinstance(target, str) else "object"
    return ".".join([name, *(str(p) if not isinstance(p, int) else f"[{p}]" for p in path)]).replace(
        ".[", "["
    )


# ---------------------------------------------------------------------- checks


def as_array(actual, what: str, inputs: dict, expected) -> np.ndarray:
    """The student's value as a numeric array, or a Failure saying what it was instead."""
    if isinstance(actual, np.ndarray | np.generic | float | int) and not isinstance(actual, bool):
        arr = np.asarray(actual)
        if arr.dtype.kind in "fiub":
            return arr
    raise Failure(
        f"{what} should be a numeric array, got {_kind(actual)}",
        inputs=inputs,
        expected=expected,
        actual=actual,
    )


def expect_close(
    actual,
    expected,
    *,
    inputs: dict,
    what: str = "the result",
    rtol: float = RTOL,
    atol: float | None = None,
    tags: tuple[str, ...] = (),
    wrong_answers=(),
) -> None:
    """Shape first, then values within float64 tolerances scaled to the expected magnitude. A
    failure is tagged with every known wrong answer (see add_wrong_answer_tags) the value equals."""
    expected = np.asarray(expected, dtype=float)
    try:
        arr = as_array(actual, what, inputs, expected)
        if arr.shape != expected.shape:
            raise Failure(
                f"{what} has shape {arr.shape}, expected {expected.shape}",
                inputs=inputs,
                expected=expected,
                actual=arr,
                tags=tags,
            )
        if atol is None:
            atol = ATOL * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        if not np.allclose(arr, expected, rtol=rtol, atol=atol, equal_nan=False):
            raise Failure(
                f"{what} has the right shape {arr.shape} but wrong values",
                inputs=inputs,
                expected=expected,
                actual=arr,
                tags=tags,
            )
    except Failure as failure:
        raise add_wrong_answer_tags(failure, actual, wrong_answers) from None


def expect_equal(
    actual,
    expected,
    *,
    inputs: dict,
    what: str = "the result",
    tags: tuple[str, ...] = (),
) -> None:
    if isinstance(expected, np.ndarray):
        ok = (
            isinstance(actual, np.ndarray)
            and actual.shape == expected.shape
            and np.array_equal(actual, expected)
        )
    else:
        ok = type(actual) is type(expected) and actual == expected
    if not ok:
        raise Failure(
            f"{what} is wrong",
            inputs=inputs,
            expected=expected,
            actual=actual,
            tags=tags,
        )


def expect_raises(
    student: StudentCalls, error: str, target: str, *args, inputs: dict, tags: tuple[str, ...] = ()
) -> None:
    """The call must raise `error` (by class name); returning or raising another type fails."""
    reply = student.attempt(target, *args, inputs=inputs)
    if reply.ok:
        raise Failure(
            f"{target} should raise {error}, but returned a value",
            inputs=inputs,
            expected=f"{error} raised",
            actual=reply.value,
            tags=tags,
        )
    got = (reply.error or {}).get("type")
    if got in ("NotImplementedError", "NameError"):
        raise student_error(reply.error, target, inputs)
    if error not in (reply.error or {}).get("bases", [got]):  # a subclass of `error` will do
        raise Failure(
            f"{target} should raise {error}, but raised {got}",
            inputs=inputs,
            expected=f"{error} raised",
            actual=f"{got} raised",
            tags=tags,
        )


def _kind(value) -> str:
    if isinstance(value, dict) and "__handle__" in value:
        return f"a {value['__handle__'].get('type', 'Python')} object"
    if isinstance(value, dict) and "__figure__" in value:
        return "a figure"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def add_wrong_answer_tags(failure: Failure, actual, wrong_answers) -> Failure:
    """Add the tag of every known wrong answer that `actual` equals.

    `wrong_answers` is how a suite declares the known mistakes of an exercise: a list of
    (misconception id, function of no arguments) pairs, or a dict of them, each function
    computing what that mistake gives on the failing input (one that does not apply to it may
    raise or return None). An id may stand for several wrong answers. A wrong answer that
    equals the right one on this input says nothing, and is skipped.
    """
    pairs = wrong_answers.items() if isinstance(wrong_answers, Mapping) else wrong_answers
    for tag, wrong in pairs:
        if tag in failure.tags:
            continue
        try:
            with np.errstate(all="ignore"):
                value = wrong()
                hit = matches(value, actual) and not matches(value, failure.expected)
        except Exception:  # noqa: BLE001 - a wrong answer that does not exist for these inputs
            hit = False
        if hit:
            failure.tags = (*failure.tags, tag)
    return failure


def expect_unchanged_inputs(
    student: StudentCalls, what: str, inputs: dict, args: tuple[str, ...] | None = None
) -> None:
    """The last call must not have changed the arrays it was given; the failure names the
    arguments it changed. `args` names the call's positional arguments in order (default: the
    keys of `inputs`)."""
    if not student.last.mutated:
        return
    names = args if args is not None else tuple(inputs)
    changed = ", ".join(names[i] for i in student.last.mutated if i < len(names))
    raise Failure(
        f"{what} changed its input" + (f" ({changed})" if changed else ""),
        inputs=inputs,
        tags=("mutates-input",),
        show_values=False,
    )

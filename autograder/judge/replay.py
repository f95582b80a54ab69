"""Run a @given property: replay the inputs of a run that passed, or let hypothesis draw them.

The judge's hypothesis runs are derandomized, and no property's strategy depends on what the
student's code returns. So hypothesis draws the same inputs, in the same order, for every
student whose code passes them all. Once one student of a grading process has passed a
property, the next students' code is called on that recorded list of inputs: the calls it would
have got anyway, without hypothesis generating them again (most of the grading process's CPU
time when grading a class).

When a recorded input fails, hypothesis runs the property from the start, as if nothing had been
recorded: it reaches the same input, fails there and shrinks the failure to the smallest input,
so the verdict and feedback are exactly those of a process that never recorded anything. If
that run passes, the student's code answered the same input differently twice, which
hypothesis calls Flaky.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from hypothesis import settings
from hypothesis.errors import Flaky

# Inputs of a passing run, in the order the test was called, per (test, max_examples).
_passed: dict[tuple[Callable, int], list[dict]] = {}


def run_given(test: Callable, student: object, test_settings: settings, ran: list[dict]) -> None:
    """Run `test` (decorated with @given) on `student` under `test_settings`.

    Each input the test is called with is appended to `ran`. Raises what the test raises on
    hypothesis's final (shrunk) example when the property fails.
    """
    key = (test, test_settings.max_examples)
    if key not in _passed:
        _run_hypothesis(test, student, test_settings, ran)
        _passed[key] = ran.copy()  # copies taken before each call: what hypothesis drew
    elif not _replay(test, student, _passed[key], ran):
        ran.clear()
        _run_hypothesis(test, student, test_settings, ran)
        raise Flaky("a recorded input failed, then passed when hypothesis ran it again")


def _replay(test: Callable, student: object, recorded: list[dict], ran: list[dict]) -> bool:
    """Call the test on each recorded input; False at the first that fails.

    A BaseException (the runner's GiveUp) ends the property here, as it would in hypothesis.
    """
    for inputs in recorded:
        ran.append(copy.deepcopy(inputs))  # the test may change what it is given
        try:
            test.hypothesis.inner_test(student, **ran[-1])
        except Exception:
            return False
    return True


def _run_hypothesis(test: Callable, student: object, test_settings: settings, ran: list[dict]) -> None:
    inner = test.hypothesis.inner_test

    def recorded(student: object, **inputs: object) -> None:
        ran.append(copy.deepcopy(inputs))  # before the call, which may change them
        inner(student, **inputs)

    # What @settings would set, but undone afterwards: the same property runs again for the
    # next student with its own budget. (@settings refuses to decorate twice.)
    previous_settings = getattr(test, "_hypothesis_internal_use_settings", None)
    test._hypothesis_internal_use_settings = test_settings
    test.hypothesis.inner_test = recorded
    try:
        test(student)
    finally:
        test.hypothesis.inner_test = inner
        test._hypothesis_internal_use_settings = previous_settings

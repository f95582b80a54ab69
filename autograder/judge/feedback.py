"""Verdicts as text a student can act on: the property, the smallest failing input, expected
against actual (shapes first), and a hint when the output matches a known mistake.

Only values and sentences appear here, never the hidden test code or the reference code.
"""

from __future__ import annotations

import numpy as np

from autograder.judge.runner import CellVerdict, PropertyResult

MAX_VALUE_CHARS = 600


def show(value) -> str:
    """A value as a student would write it, shape first for arrays, shortened if long."""
    if isinstance(value, np.ndarray):
        body = np.array2string(
            value,
            precision=6,
            threshold=40,
            edgeitems=3,
            separator=", ",
            suppress_small=False,
            max_line_width=88,
        )
        body = " ".join(body.split())  # one line, whatever the number of dimensions
        text = (
            f"array of shape {value.shape}, dtype {value.dtype}: {body}"
            if value.ndim
            else f"{value.item()!r}"
        )
    elif isinstance(value, np.generic):
        text = f"{value.item()!r} ({type(value).__name__})"
    elif isinstance(value, list) and value and all(isinstance(v, np.ndarray) for v in value):
        text = "[" + ", ".join(show(v) for v in value) + "]"
    elif isinstance(value, tuple):
        text = "(" + ", ".join(show(v) for v in value) + ")"
    elif isinstance(value, dict) and "__handle__" in value:
        text = f"a {value['__handle__'].get('type', 'Python')} object"
    elif isinstance(value, dict) and "__fn__" in value:
        text = value["__fn__"]
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k!r}: {show(v)}" for k, v in value.items()) + "}"
    else:
        text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 5] + " ...]"


def describe_result(result: PropertyResult) -> list[str]:
    if result.passed:
        return [f"  ok      {result.prop.sentence}"]
    lines = [f"  FAILED  {result.prop.sentence}"]
    failure = result.failure
    if result.gave_up and failure is None:
        return [*lines, f"          {result.gave_up}"]
    lines.append(f"          {failure.message}")
    if failure.inputs:
        label = "input that shows it" if result.gave_up else "smallest failing input"
        lines.append(f"          {label}:")
        lines += [f"            {name} = {show(value)}" for name, value in failure.inputs.items()]
    if failure.show_values and (failure.expected is not None or failure.actual is not None):
        lines.append(f"          expected: {show(failure.expected)}")
        lines.append(f"          got:      {show(failure.actual)}")
    for tag, hint in result.hints:
        lines.append(f"          hint [{tag}]: {hint}")
    return lines


def verdict_text(verdict: CellVerdict) -> str:
    """The text written into a grade cell's output and into results.json."""
    results = verdict.results
    held = sum(r.passed for r in results)
    head = (
        f"{verdict.grade_id}: {verdict.score:g} / {verdict.points:g} points "
        f"({held} of {len(results)} properties hold)"
    )
    if results and held == 0 and all(r.not_attempted for r in results):
        return f"{head}\n  not attempted: {results[0].failure.message}."
    lines = [head]
    for error in verdict.load_errors:
        lines.append(f"  note: a cell of your notebook raised {error['type']}: {error['message']}"[:400])
    for result in results:
        lines += describe_result(result)
    return "\n".join(lines)

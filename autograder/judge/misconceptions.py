"""Known mistakes: each with an id, a hint, and (where it is computable) the wrong answer it
produces, so that a failing output can be matched to the mistake behind it. Each assignment
declares its own catalogue in its plug-in; this module matches failures against one.

A property can also name a misconception outright (Failure(tags=...)) when the failure itself
says what it is: a mutated input, a banned call, a warning, an accepted invalid size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Misconception:
    id: str
    exercises: tuple[str, ...]
    hint: str
    variant: Callable[..., object] | None = None
    observable: str = "result"


def matches(wrong, actual) -> bool:
    """Whether the student's output equals a known-wrong answer (shape and values)."""
    if wrong is None or actual is None:
        return False
    if isinstance(wrong, dict):
        return (
            isinstance(actual, dict)
            and wrong.keys() == actual.keys()
            and all(matches(wrong[k], actual[k]) for k in wrong)
        )
    try:
        w, a = np.asarray(wrong, dtype=float), np.asarray(actual, dtype=float)
    except (TypeError, ValueError):
        return False
    return w.shape == a.shape and bool(np.allclose(w, a, rtol=1e-7, atol=1e-9, equal_nan=True))


def diagnose(
    catalogue: Sequence[Misconception], exercise: str, failure
) -> tuple[list[str], list[tuple[str, str]]]:
    """Tags and hints for a failure: the ones it names, then every variant of `catalogue` (an
    assignment's known mistakes) its output equals."""
    by_id = {m.id: m for m in catalogue}
    tags = [t for t in failure.tags]
    for m in catalogue:
        if m.variant is None or exercise not in m.exercises or m.id in tags:
            continue
        if m.observable != failure.observable or not failure.inputs:
            continue
        try:
            with np.errstate(all="ignore"):
                wrong = m.variant(**failure.inputs)
        except Exception:  # noqa: BLE001 - a variant that does not apply to these inputs
            continue
        # A wrong answer that equals the right one on these inputs says nothing.
        if matches(wrong, failure.actual) and not matches(wrong, failure.expected):
            tags.append(m.id)
    return tags, [(t, by_id[t].hint) for t in tags if t in by_id]

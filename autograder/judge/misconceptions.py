"""Known mistakes: each with an id, the exercises it belongs to and a hint a student can act
on. Each assignment declares its own catalogue in its plug-in.

A failure names the mistakes behind it in its tags, in one of two ways: outright, when the
failure itself says what it is (a mutated input, a banned call, a warning, an accepted invalid
size), or because the student's value equals the wrong answer that mistake computes, which
the property that checks the value declares (properties.add_wrong_answer_tags).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Misconception:
    id: str
    exercises: tuple[str, ...]
    hint: str


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


def diagnose(catalogue: Sequence[Misconception], failure) -> tuple[list[str], list[tuple[str, str]]]:
    """The failure's tags, and the hint of each that `catalogue` (an assignment's known
    mistakes) knows."""
    by_id = {m.id: m for m in catalogue}
    tags = list(failure.tags)
    return tags, [(t, by_id[t].hint) for t in tags if t in by_id]

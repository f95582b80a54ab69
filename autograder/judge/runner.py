"""Run a notebook's hidden properties against the student's worker and score each grade cell."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.errors import Flaky

from autograder.course import Limits
from autograder.judge.isolation.client import StudentCrash, StudentProcess, StudentTimeout
from autograder.judge.misconceptions import diagnose
from autograder.judge.properties import Failure, NotAttempted, Property, StudentCalls, Suite
from autograder.judge.replay import run_given

CALL_SECONDS = 5.0
log = logging.getLogger(__name__)


class GiveUp(BaseException):
    """Stop a property at once, without shrinking: the student's code hung or crashed.

    A BaseException, so that hypothesis does not treat it as a failure to shrink.
    """


@dataclass
class PropertyResult:
    prop: Property
    passed: bool
    failure: Failure | None = None
    gave_up: str | None = None
    examples: int = 0
    seconds: float = 0.0
    tags: list[str] = field(default_factory=list)
    hints: list[tuple[str, str]] = field(default_factory=list)

    @property
    def not_attempted(self) -> bool:
        return isinstance(self.failure, NotAttempted)


@dataclass
class CellVerdict:
    grade_id: str
    points: float
    results: list[PropertyResult]
    load_errors: list[dict] = field(default_factory=list)

    @property
    def score(self) -> float:
        total = sum(r.prop.weight for r in self.results)
        held = sum(r.prop.weight for r in self.results if r.passed)
        return round(self.points * held / total, 2) if total else 0.0

    @property
    def tags(self) -> list[str]:
        return sorted({t for r in self.results for t in r.tags})


class OutOfTime(GiveUp):
    """The exercise's time budget ran out, before a call or during it: which one varies from run
    to run, so both read the same and show no input (earlier calls spent the budget)."""

    def __init__(self, wall_seconds: float):
        super().__init__(f"the exercise's time limit ({wall_seconds:g} s) was reached")


class BudgetedCalls(StudentCalls):
    """StudentCalls that give up on a hang or crash and stop when the exercise's time is spent."""

    def __init__(self, process: StudentProcess, notebook: str, deadline: float, wall_seconds: float):
        super().__init__(process, notebook, CALL_SECONDS)
        self.deadline, self.wall_seconds = deadline, wall_seconds
        self.last_inputs: dict = {}

    def _guard(self, fn, *args, **kwargs):
        # The messages name limits, never the seconds that happened to be left, which vary from
        # run to run: the same submission gets the same feedback.
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise OutOfTime(self.wall_seconds)
        self.call_seconds = min(CALL_SECONDS, left)
        self.last_inputs = kwargs.get("inputs") or self.last_inputs
        try:
            return fn(*args, **kwargs)
        except StudentTimeout:
            if left < CALL_SECONDS:
                raise OutOfTime(self.wall_seconds) from None
            raise GiveUp(f"the call did not finish within {CALL_SECONDS:g} s") from None
        except StudentCrash as e:
            raise GiveUp(str(e)) from None

    def attempt(self, *args, **kwargs):
        return self._guard(super().attempt, *args, **kwargs)

    def get(self, *args, **kwargs):
        return self._guard(super().get, *args, **kwargs)

    def length(self, *args, **kwargs):
        return self._guard(super().length, *args, **kwargs)

    def set(self, *args, **kwargs):
        return self._guard(super().set, *args, **kwargs)


def judge_settings(max_examples: int) -> settings:
    """Derandomized, no example database, no deadline: the same submission, the same verdict."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
    )


def run_property(
    prop: Property, process: StudentProcess, notebook: str, limits: Limits, deadline: float
) -> PropertyResult:
    """Run one property; `deadline` (time.monotonic) ends its exercise's time budget."""
    started = time.monotonic()
    result = PropertyResult(prop, passed=False)
    if started >= deadline:
        result.gave_up = str(OutOfTime(limits.wall_seconds))
        return result
    if notebook in process.unloadable:
        result.gave_up = f"your notebook's cells {process.unloadable[notebook]}, so nothing could be called"
        return result
    try:
        if not process.alive:
            process.start()
    except (StudentTimeout, StudentCrash) as e:
        result.gave_up = f"your notebook's code could not be started ({e})"
        return result
    calls = BudgetedCalls(process, notebook, deadline, limits.wall_seconds)
    given = hasattr(prop.test, "hypothesis")
    ran: list[dict] = []  # the inputs of each example
    try:
        if given:
            max_examples = min(prop.max_examples or limits.max_examples, limits.max_examples)
            run_given(prop.test, calls, judge_settings(max_examples), ran)
        else:
            prop.test(calls)
        result.passed = True
    except Failure as failure:
        result.failure = failure
        result.tags, result.hints = diagnose(prop.misconceptions, failure)
    except OutOfTime as why:
        result.gave_up = str(why)
    except GiveUp as why:
        result.gave_up = str(why)
        result.failure = Failure(str(why), inputs=calls.last_inputs, show_values=False)
    except Flaky:  # the student's function failed, then not, on one input
        result.gave_up = "your code gave different answers for the same input"
    except Exception:  # a bug in the property itself: report it, judge the rest
        log.exception("property %r of %s could not be checked", prop.sentence, notebook)
        result.gave_up = "the grader could not check this property (an error on the grader's side, logged)"
    result.examples = len(ran) if given else 1
    result.seconds = time.monotonic() - started
    return result


def judge_notebook(
    process: StudentProcess,
    suite: Suite,
    points: dict[str, float],
    limits_for: Callable[[str], Limits],
) -> dict[str, CellVerdict]:
    """Every grade cell's verdict: its properties run in declaration order.

    The notebook's cells must have been added to `process` (add_notebook) first.
    """
    verdicts = {}
    deadlines: dict[str, float] = {}  # each exercise's wall-clock budget spans all its properties
    for grade_id, cell_points in points.items():
        props = suite.for_grade_id(grade_id)
        if not props:
            continue
        results = []
        for p in props:
            limits = limits_for(p.exercise)
            deadline = deadlines.setdefault(p.exercise, time.monotonic() + limits.wall_seconds)
            results.append(run_property(p, process, suite.notebook, limits, deadline))
        errors = process.load_errors.get(suite.notebook, [])
        verdicts[grade_id] = CellVerdict(grade_id, cell_points, results, errors)
    return verdicts

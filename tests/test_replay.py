"""Replayed inputs: the next student gets exactly the calls and the verdict hypothesis would give."""

import importlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from autograder.judge import replay
from autograder.judge.feedback import verdict_text
from autograder.judge.isolation import client
from autograder.judge.preprocessor import close_judge_processes
from autograder.judge.runner import judge_settings
from tests.conftest import judge_solution, needs_isolation
from tests.corpus import MODULES

DRAWN = []  # every value the strategy below has drawn


class Student:
    """Stands in for StudentCalls: right below `limit` (everywhere without one)."""

    def __init__(self, limit: int | None = None):
        self.limit = limit
        self.seen: list[int] = []

    def answer(self, x: int) -> bool:
        self.seen.append(x)
        return self.limit is None or x < self.limit


class Fickle(Student):
    """Wrong on its first answer only."""

    def answer(self, x: int) -> bool:
        return bool(super().answer(x) and len(self.seen) > 1)


class Hang(BaseException):
    """What the runner's GiveUp is: not an Exception, so hypothesis does not catch it."""


class Hangs(Student):
    def __init__(self, at: int):
        super().__init__()
        self.at, self.hangs = at, 0

    def answer(self, x: int) -> bool:
        if x == self.at:
            self.hangs += 1
            raise Hang
        return super().answer(x)


@given(x=st.integers(0, 1000).map(lambda x: DRAWN.append(x) or x))
def answers_right(student: Student, x: int) -> None:
    if not student.answer(x):
        raise AssertionError(f"wrong for {x}")


@pytest.fixture(autouse=True)
def nothing_recorded(monkeypatch):
    monkeypatch.setattr(replay, "_passed", {})
    DRAWN.clear()


def run(student: Student, max_examples: int = 20, ran: list[dict] | None = None) -> list[dict]:
    ran = [] if ran is None else ran
    replay.run_given(answers_right, student, judge_settings(max_examples), ran)
    return ran


def test_a_passing_run_is_replayed_without_drawing_again():
    first, second = Student(), Student()
    ran = run(first)
    drawn = len(DRAWN)
    assert run(second) == ran
    assert second.seen == first.seen == [inputs["x"] for inputs in ran]
    assert len(DRAWN) == drawn, "the second student's inputs were drawn again"


def test_each_example_budget_has_its_own_record():
    run(Student(), max_examples=5)
    drawn = len(DRAWN)
    assert len(run(Student(), max_examples=10)) == 10
    assert len(DRAWN) > drawn


def test_a_failure_is_found_and_shrunk_as_if_nothing_were_recorded(monkeypatch):
    run(Student())
    with pytest.raises(AssertionError) as after_replay:
        run(buggy := Student(limit=3), ran=(replayed := []))
    monkeypatch.setattr(replay, "_passed", {})
    with pytest.raises(AssertionError) as fresh:
        run(Student(limit=3), ran=(alone := []))
    assert replayed == alone and str(after_replay.value) == str(fresh.value) == "wrong for 3"
    assert buggy.seen[-1] == 3, "hypothesis reports its smallest failing input"


def test_a_failure_that_does_not_come_back_is_flaky():
    run(Student())
    with pytest.raises(Flaky):
        run(Fickle())


def test_a_hang_ends_the_replay_where_it_happened():
    recorded = run(Student())
    ran: list[dict] = []
    with pytest.raises(Hang):
        run(hangs := Hangs(at=recorded[2]["x"]), ran=ran)
    assert ran == recorded[:3]
    assert hangs.hangs == 1, "a hang's time is spent once, not again in hypothesis"


@pytest.mark.e2e
@needs_isolation
@pytest.mark.parametrize("notebook", sorted(MODULES))
def test_the_next_student_gets_the_same_calls_without_hypothesis(repo, monkeypatch, notebook):
    requests: list[str] = []
    plain_request = client.StudentProcess.request

    def spy(self, message, timeout):
        requests.append(json.dumps(message, sort_keys=True))
        return plain_request(self, message, timeout)

    monkeypatch.setattr(client.StudentProcess, "request", spy)
    try:
        judge_solution(repo, notebook, "replay-first")
        first = requests.copy()
        requests.clear()
        monkeypatch.setattr(replay, "_run_hypothesis", None)  # calling it now would fail the test
        verdicts = judge_solution(repo, notebook, "replay-second")
    finally:
        close_judge_processes()
    assert all(v.score == v.points for v in verdicts.values())
    assert requests == first


@pytest.mark.e2e
@needs_isolation
@pytest.mark.parametrize("notebook", sorted(MODULES))
def test_a_bug_gets_the_verdict_of_a_grader_that_recorded_nothing(repo, monkeypatch, notebook):
    bug = next(iter(importlib.import_module(f"tests.corpus.{MODULES[notebook]}").BUGGY.values()))
    try:
        judge_solution(repo, notebook, "replay-solution")
        after_replay = judge_solution(repo, notebook, "replay-bug", bug.answers)
        monkeypatch.setattr(replay, "_passed", {})
        alone = judge_solution(repo, notebook, "replay-bug", bug.answers)
    finally:
        close_judge_processes()
    assert any(v.score < v.points for v in alone.values())
    assert {g: (v.score, verdict_text(v)) for g, v in after_replay.items()} == {
        g: (v.score, verdict_text(v)) for g, v in alone.items()
    }

"""Shared calls: a figure is drawn once per input, and every figure property judges that one."""

import json

import pytest

from autograder.judge.isolation import client
from autograder.judge.isolation.client import Cell, ForkServer, StudentProcess
from autograder.judge.isolation.sandbox import SandboxSpec
from autograder.judge.preprocessor import close_judge_processes
from autograder.judge.properties import Failure, StudentCalls
from tests.conftest import judge_solution, needs_isolation

pytestmark = [pytest.mark.e2e, needs_isolation]

PROBE = """
calls = 0

def draw(x):
    global calls
    calls += 1
    return [calls]

def fragile(x):
    global calls
    calls += 1
    if calls == 1:
        raise ValueError("not yet")
    return calls
"""


@pytest.fixture
def calls():
    server = ForkServer()
    process = StudentProcess(SandboxSpec(scratch="", cpu_seconds=20, memory_mb=1024), server)
    process.add_notebook("probe", [Cell("probe", PROBE)])
    yield StudentCalls(process, "probe", call_seconds=5.0)
    process.close()
    server.close()


def test_the_same_input_runs_the_students_code_once(calls):
    assert calls.call("draw", [1.0, 2.0], shared=True) == [1]
    assert calls.call("draw", [1.0, 2.0], shared=True) == [1]
    assert calls.call("draw", [1.0, 2.5], shared=True)[0] == 2  # another input is another call
    assert calls.call("draw", [1.0, 2.0])[0] == 3  # a plain call is never shared


def test_a_call_that_raised_is_made_again(calls):
    with pytest.raises(Failure, match="ValueError: not yet"):
        calls.call("fragile", 1, shared=True)
    assert calls.call("fragile", 1, shared=True) == 2


def test_a_restarted_worker_draws_again(calls):
    calls.call("draw", 0)
    assert calls.call("draw", 1, shared=True)[0] == 2
    calls.process.start()  # the student's code is loaded again: its counter starts over
    assert calls.call("draw", 1, shared=True)[0] == 1


def test_the_figure_properties_draw_each_input_once(repo, monkeypatch):
    """Layout and contours look at the same figures: no input is drawn twice."""
    drawn = []
    plain_request = client.StudentProcess.request

    def spy(self, message, timeout):
        if message.get("target") == "plot_neuron_maps":
            drawn.append(json.dumps(message, sort_keys=True))
        return plain_request(self, message, timeout)

    monkeypatch.setattr(client.StudentProcess, "request", spy)
    try:
        verdict = judge_solution(repo, "06_halfspace_neurons", "shared-figures")["plot_neuron_maps_structure"]
    finally:
        close_judge_processes()
    assert verdict.score == verdict.points
    examples = sum(r.examples for r in verdict.results)
    assert len(drawn) == len(set(drawn)) < examples

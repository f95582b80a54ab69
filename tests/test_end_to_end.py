"""A real nbgrader run over the demo class: solutions, stubs, one bug per notebook, odd ids."""

import json

import pytest

from autograder.demo import build_demo_course
from autograder.demo_class import FULL_MARKS, demo_students
from autograder.grading import grade_class
from tests.conftest import ASSIGNMENT

STUDENTS = {s.id: s for s in demo_students()}


@pytest.fixture(scope="module")
def graded(repo, tmp_path_factory):
    course = build_demo_course(repo, tmp_path_factory.mktemp("demo") / "course", ASSIGNMENT)
    return course, grade_class(course, ASSIGNMENT, list(STUDENTS))


def per_notebook(results):
    scores = dict.fromkeys(FULL_MARKS, 0.0)
    for test in results["tests"]:
        scores[test["notebook"]] += test["score"]
    return scores


def test_source_solutions_get_full_autograded_marks(graded):
    _, results = graded
    assert per_notebook(results["alice"]) == FULL_MARKS
    assert results["alice"]["score"] == results["alice"]["max_score"] == sum(FULL_MARKS.values())


def test_untouched_stubs_get_zero(graded):
    _, results = graded
    assert results["bob"]["score"] == 0
    assert all(t["score"] == 0 for t in results["bob"]["tests"])


@pytest.mark.parametrize("student", ["dave", "erin", "frank", "grace", "heidi", "ivan", "judy"])
def test_a_bug_loses_points_in_its_own_notebook_only(graded, student):
    _, results = graded
    got = per_notebook(results[student])
    lost = {nb for nb in FULL_MARKS if got[nb] < FULL_MARKS[nb]}
    assert len(lost) == 1, f"{student} lost points in {sorted(lost)}"
    assert got == STUDENTS[student].expected


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_every_demo_student_gets_the_expected_score(graded, student):
    _, results = graded
    assert per_notebook(results[student]) == STUDENTS[student].expected


def test_results_json_is_in_gradescope_format(graded):
    course, results = graded
    for student in STUDENTS:
        path = course.autograded(student, ASSIGNMENT) / "results.json"
        data = json.loads(path.read_text())
        assert data == results[student]
        assert set(data) >= {"score", "max_score", "tests"}
        for test in data["tests"]:
            assert set(test) >= {"name", "score", "max_score", "output", "tags"}
            assert 0 <= test["score"] <= test["max_score"]
        manual = data["extra_data"]["manually_graded"]
        assert {m["name"] for m in manual} == {"forms_agree_answer", "zero_centred_answer", "collapse_proof"}
    alice = results["alice"]["extra_data"]["manually_graded"]
    assert all(m["score"] is None for m in alice), "written answers wait for a person"
    bob = results["bob"]["extra_data"]["manually_graded"]
    assert all(m["score"] == 0 for m in bob), "an untouched answer cell scores 0 without a person"


def test_failure_output_tells_the_student_what_went_wrong(graded):
    _, results = graded
    by_name = {t["name"]: t for t in results["bob"]["tests"]}
    assert "NotImplementedError" in by_name["count_params_values"]["output"]
    passed = {t["name"]: t for t in results["alice"]["tests"]}
    assert passed["count_params_values"]["output"] == "passed"

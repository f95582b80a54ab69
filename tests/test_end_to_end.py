"""A real nbgrader run over the demo class: solutions, stubs, one bug per notebook, odd ids."""

import json

import pytest

from autograder.demo.run import build_demo_course
from autograder.grading.nbgrader import open_gradebook, run_nbgrader
from autograder.grading.run import grade_class
from autograder.outputs.feedback import hidden_test_lines
from tests.conftest import ASSIGNMENT, FULL_MARKS, assert_valid_results, demo_students

pytestmark = pytest.mark.e2e  # runs the real tools; `-m 'not e2e'` leaves it out

STUDENTS = {s.id: s for s in demo_students()}


@pytest.fixture(scope="module")
def graded(repo, tmp_path_factory):
    course = build_demo_course(repo, tmp_path_factory.mktemp("demo") / "course", ASSIGNMENT)
    return course, grade_class(course, ASSIGNMENT, list(STUDENTS), jobs=2)


def per_notebook(results):
    scores = dict.fromkeys(FULL_MARKS, 0.0)
    for test in results["tests"]:
        scores[test["extra_data"]["notebook"]] += test["score"]
    return scores


def test_source_solutions_get_full_autograded_marks(graded):
    _, results = graded
    assert per_notebook(results["alice"]) == FULL_MARKS
    assert results["alice"]["score"] == sum(FULL_MARKS.values())  # her written answers wait for a grader
    # the written answers' 7 points
    assert results["alice"]["extra_data"]["max_score"] == sum(FULL_MARKS.values()) + 7


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
        assert_valid_results(data)
        assert set(data) >= {"score", "execution_time", "output", "visibility", "tests"}
        for test in data["tests"]:
            assert set(test) >= {"name", "number", "score", "max_score", "status", "output", "tags"}
            assert 0 <= test["score"] <= test["max_score"]
            assert (test["status"] == "passed") == (test["score"] == test["max_score"])
        manual = data["extra_data"]["manually_graded"]
        assert {m["name"] for m in manual} == {"forms_agree_answer", "zero_centred_answer", "collapse_proof"}
    alice = results["alice"]["extra_data"]["manually_graded"]
    assert all(m["score"] is None for m in alice), "written answers wait for a person"
    bob = results["bob"]["extra_data"]["manually_graded"]
    assert all(m["score"] == 0 for m in bob), "an untouched answer cell scores 0 without a person"


def test_every_results_json_records_that_student_code_was_fully_isolated(graded):
    _, results = graded
    for student in STUDENTS:
        isolation = results[student]["extra_data"]["isolation"]
        assert isolation["level"] == "full" and all(isolation["protections"].values()), student


def test_failure_output_tells_the_student_what_went_wrong(graded):
    _, results = graded
    by_name = {t["name"]: t for t in results["bob"]["tests"]}
    assert (
        "not attempted: count_params still raises NotImplementedError"
        in by_name["count_params_values"]["output"]
    )
    passed = {t["name"]: t for t in results["alice"]["tests"]}
    assert passed["count_params_values"]["output"].startswith("count_params_values: 2 / 2 points")
    dave = {t["name"]: t for t in results["dave"]["tests"]}["count_params_values"]
    assert "smallest failing input" in dave["output"] and "hint [weights-only]" in dave["output"]


@pytest.mark.parametrize(
    ("student", "grade_id", "tag"),
    [
        ("dave", "count_params_values", "weights-only"),
        ("erin", "affine_rows_values", "untransposed-weight"),
        ("heidi", "collapse_linear_values", "reversed-product-order"),
        ("ivan", "active_region_values", "boundary-inclusive"),
        ("judy", "hidden_activations_values", "missing-relu"),
    ],
)
def test_results_carry_the_misconception_tag_of_the_bug(graded, student, grade_id, tag):
    _, results = graded
    test = {t["name"]: t for t in results[student]["tests"]}[grade_id]
    assert tag in test["tags"]
    assert test["score"] < test["max_score"]


def test_plain_nbgrader_autograde_gives_the_same_grades(graded):
    """The judge is wired through nbgrader_config.py, so nbgrader alone grades the same way."""
    course, results = graded
    run_nbgrader(course, "autograde", ASSIGNMENT, "--force", "--CourseDirectory.student_id=frank")
    with open_gradebook(course) as gb:
        scores = {
            g.name: g.score
            for nb in gb.find_submission(ASSIGNMENT, "frank").notebooks
            for g in nb.grades
            if g.cell.cell_type == "code"
        }
    assert scores == {t["name"]: t["score"] for t in results["frank"]["tests"]}


@pytest.mark.parametrize("student", ["alice", "dave"])
def test_autograded_notebooks_show_verdicts_not_hidden_test_code(graded, student):
    course, _ = graded
    secret = hidden_test_lines(course, ASSIGNMENT)
    assert secret
    for path in course.autograded(student, ASSIGNMENT).glob("*.ipynb"):
        text = path.read_text()
        assert "BEGIN HIDDEN TESTS" not in text
        assert "nnla_ref" not in text
        assert [line for line in secret if line in text] == []

"""results.json obeys Gradescope's autograder results specification (closed: no key it does not
define), with who sees what set in the manifest's [results] table, each test numbered and passed
or failed, the written answers' text for manual grading, and the notes a student must see in the
top-level output.

The gradebook is built with nbgrader's own API and the autograded notebooks are written by hand,
so these tests take seconds; the end-to-end runs validate every results.json they produce
(tests/conftest.py)."""

import copy
import datetime as dt
import shutil

import nbformat
import pytest

from autograder.course import Course, load_manifest
from autograder.grading.fingerprint import grader_fingerprint
from autograder.grading.nbgrader import open_gradebook, register_assignment
from autograder.grading.results import (
    NOT_GRADED,
    build_results,
    finish_results,
    late_by,
    read_results,
    refresh_results,
)
from autograder.grading.sanitize import sanitize_notebook
from autograder.notebooks import is_written_answer
from tests.conftest import (
    ASSIGNMENT,
    FULL_MARKS,
    MANIFEST,
    assert_valid_results,
    copy_course,
    results_validator,
)

# nbgrader's add_submission, as these tests call it, warns about its own session handling
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

AUTOGRADED = sum(FULL_MARKS.values())  # 27
# The [results] table of assignments/ch177.toml, as committed: everything visible.
RESULTS_TABLE = '[results]\nvisibility = "visible"\nstdout_visibility = "hidden"\ntests = "visible"\n'
MISSING = "03_stored_activations.ipynb: was not submitted; it is graded as the blank notebook"
ANSWER = (
    "The transpose rule: $(AB)^T = B^T A^T$.\n\n- the bias is **broadcast** over rows\n- <script>x</script>"
)


@pytest.fixture(scope="module")
def registered(repo, tmp_path_factory) -> Course:
    course = copy_course(repo, tmp_path_factory.mktemp("schema") / "course")
    register_assignment(course, MANIFEST)
    return course


@pytest.fixture
def course(registered, tmp_path) -> Course:
    """A course of its own for each test: the registered gradebook, manifest and notebooks."""
    shutil.copytree(registered.root, tmp_path / "course")
    return Course(tmp_path / "course")


def submit(course: Course, student: str, timestamp: dt.datetime | None = None, **changes) -> None:
    """A submission as the autograder leaves it: full autograded marks (`changes`: grade_id ->
    another score), written answers waiting for a grader, nbgrader's late penalty under the
    manifest's policy "zero" when `timestamp` is after the due date."""
    with open_gradebook(course) as gb:
        gb.update_or_create_student(student)
        submission = gb.add_submission(ASSIGNMENT, student, timestamp=timestamp)
        late = submission.total_seconds_late > 0
        for nb in submission.notebooks:
            for grade in nb.grades:
                if grade.cell.cell_type == "code":
                    grade.auto_score = changes.get(grade.name, grade.max_score)
                    grade.needs_manual_grade = False
            gb.db.commit()
            nb.late_submission_penalty = nb.score if late else None
        gb.db.commit()


def autograded_notebooks(course: Course, student: str, answer: str | None = None, leave_out=()) -> None:
    """The student's autograded notebooks: the release's, cleaned as autograde cleans them, with
    `answer` in 02's written-answer cell; the notebooks in `leave_out` are missing."""
    folder = course.autograded(student, ASSIGNMENT)
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(course.release(ASSIGNMENT).glob("*.ipynb")):
        if path.stem in leave_out:
            continue
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if answer is not None and is_written_answer(cell) and path.stem == "02_batch_forms":
                cell.source = answer
        nbformat.write(sanitize_notebook(nb), folder / path.name)


def results_of(course: Course, student: str, messages=()) -> dict:
    with open_gradebook(course) as gb:
        return build_results(gb, course, ASSIGNMENT, student, list(messages))


def set_results_table(course: Course, table: str) -> None:
    """Replace the manifest's [results] table by `table`."""
    path = course.root / "assignments" / f"{ASSIGNMENT}.toml"
    text = path.read_text(encoding="utf-8")
    assert RESULTS_TABLE in text, "assignments/ch177.toml's [results] table changed: update RESULTS_TABLE"
    path.write_text(text.replace(RESULTS_TABLE, table), encoding="utf-8")


def errors(data: dict) -> list[str]:
    return [e.message for e in results_validator().iter_errors(data)]


# --- the schema ------------------------------------------------------------------------------


def test_built_results_are_valid_and_hold_nothing_the_specification_does_not_define(course):
    submit(course, "ada")
    autograded_notebooks(course, "ada")
    results = assert_valid_results(results_of(course, "ada"))
    assert set(results) == {
        "score",
        "output",
        "output_format",
        "visibility",
        "stdout_visibility",
        "tests",
    } | {"extra_data"}
    assert results["score"] == AUTOGRADED and results["extra_data"]["max_score"] == 34
    for test in results["tests"]:
        assert set(test) == {
            *("name", "number", "score", "max_score", "status", "output", "output_format"),
            *("tags", "visibility", "extra_data"),
        }
        assert test["extra_data"]["notebook"] in MANIFEST.notebooks


@pytest.mark.parametrize(
    ("where", "change", "said"),
    [
        ("test", {"status": "ok"}, "'ok' is not one of"),
        ("test", {"score": "2"}, "'2' is not of type 'number'"),
        ("test", {"notebook": "01_param_count"}, "Additional properties are not allowed ('notebook'"),
        ("test", {"tags": ["a", 1]}, "1 is not of type 'string'"),
        ("test", {"visibility": "public"}, "'public' is not one of"),
        ("top", {"score": "27"}, "'27' is not of type 'number'"),
        ("top", {"max_score": 34}, "Additional properties are not allowed ('max_score'"),
        ("top", {"visibility": "students"}, "'students' is not one of"),
        ("top", {"stdout_visibility": True}, "True is not one of"),
        ("top", {"output_format": "markdown"}, "'markdown' is not one of"),
        ("top", {"extra_data": []}, "[] is not of type 'object'"),
        ("top", {"leaderboard": [{"name": "time", "value": 1, "rank": 2}]}, "('rank' was unexpected)"),
    ],
)
def test_the_schema_refuses_what_gradescope_does_not_define(course, where, change, said):
    submit(course, "ada")
    good = results_of(course, "ada")
    assert errors(good) == []
    bad = copy.deepcopy(good)
    (bad["tests"][0] if where == "test" else bad).update(change)
    found = errors(bad)
    assert any(said in message for message in found), found


def test_a_score_must_be_somewhere():
    assert errors({"tests": [{"name": "t", "score": 1}]}) == []
    assert errors({"tests": [{"name": "t"}]}) != [] and errors({}) != []


def test_assert_valid_results_reads_a_file_and_says_what_is_wrong(tmp_path):
    path = tmp_path / "not-results.json"  # not named results.json: the autouse check leaves it alone
    path.write_text('{"score": 1, "max_score": 2}')
    with pytest.raises(
        pytest.fail.Exception, match=r"(?s)not valid Gradescope results .*'max_score' was unexpected"
    ):
        assert_valid_results(path)
    path.write_text('{"score": ')
    with pytest.raises(pytest.fail.Exception, match="is not JSON"):
        assert_valid_results(path)


# --- tests: number, status -------------------------------------------------------------------


def test_tests_are_numbered_by_notebook_and_place_and_pass_only_at_full_marks(course):
    submit(course, "bo", count_params_values=0, DenseLayer_forward=1.5)
    results = results_of(course, "bo")
    numbers = [t["number"] for t in results["tests"]]
    assert numbers == [
        *("1.1", "1.2", "2.1", "2.2", "3.1", "3.2", "3.3", "3.4", "4.1", "4.2", "4.3", "4.4"),
        *("5.1", "5.2", "6.1", "6.2", "6.3"),
    ]
    by_name = {t["name"]: t for t in results["tests"]}
    assert by_name["count_params_values"]["status"] == "failed"
    assert by_name["DenseLayer_forward"]["status"] == "failed"  # partial credit is not a pass
    assert by_name["DenseLayer_init"]["status"] == "passed"
    assert [t["status"] for t in results["tests"]].count("failed") == 2
    assert results["score"] == AUTOGRADED - 2 - 0.5


# --- visibility from the manifest ------------------------------------------------------------


def test_by_default_everything_is_visible_but_what_the_autograder_printed(course):
    submit(course, "ada")
    results = results_of(course, "ada")
    assert (results["visibility"], results["stdout_visibility"]) == ("visible", "hidden")
    assert {t["visibility"] for t in results["tests"]} == {"visible"}
    assert MANIFEST.results.test_visibility == {}


def test_visibility_per_result_per_notebook_and_per_test_the_most_specific_winning(course):
    set_results_table(
        course,
        '[results]\nvisibility = "after_published"\nstdout_visibility = "visible"\ntests = "after_due_date"\n'
        "[results.test_visibility]\n"
        '"06_halfspace_neurons" = "hidden"\n'
        '"06_halfspace_neurons/active_region_values" = "visible"\n'
        '"01_param_count/count_params_errors" = "after_published"\n',
    )
    submit(course, "ada")
    results = assert_valid_results(results_of(course, "ada"))
    assert (results["visibility"], results["stdout_visibility"]) == ("after_published", "visible")
    seen = {t["name"]: t["visibility"] for t in results["tests"]}
    assert seen["hidden_activations_values"] == seen["plot_neuron_maps_structure"] == "hidden"
    assert seen["active_region_values"] == "visible"
    assert seen["count_params_errors"] == "after_published"
    assert seen["count_params_values"] == seen["tanh_values"] == "after_due_date"


@pytest.mark.parametrize(
    ("table", "said"),
    [
        (
            '[results]\nvisibility = "public"\n',
            r"\[results\] visibility must be one of hidden, after_due_date, ",
        ),
        ("[results]\nstdout_visibility = 1\n", r"stdout_visibility must be one of .*got 1"),
        ('[results]\ntests = "shown"\n', r"\[results\] tests must be one of .*visible, got 'shown'"),
        ('[results]\nshow = "visible"\n', r"unknown key 'show'"),
        (
            '[results.test_visibility]\n"01_param_count" = "later"\n',
            r'\[results.test_visibility\] "01_param_count" must be one of hidden, after_due_date',
        ),
        (
            '[results.test_visibility]\n"07_extra" = "hidden"\n',
            r"'07_extra' is not a notebook of the assignment",
        ),
        (
            '[results.test_visibility]\n"01_param_count/count_params_typo" = "hidden"\n',
            r"01_param_count has no autograded test 'count_params_typo' \(its tests: count_params_errors, "
            r"count_params_values\)",
        ),
        (
            '[results.test_visibility]\n"02_batch_forms/forms_agree_answer" = "hidden"\n',
            r"02_batch_forms has no autograded test 'forms_agree_answer'",  # a written answer is no test
        ),
    ],
)
def test_a_wrong_results_table_is_refused_naming_the_file_and_what_is_allowed(course, table, said):
    set_results_table(course, table)
    manifest = course.root / "assignments" / f"{ASSIGNMENT}.toml"
    with pytest.raises(ValueError, match=said) as refused:
        load_manifest(manifest)
    assert str(refused.value).startswith(f"{manifest}: ")


def test_visibility_decides_no_grade_and_reaches_results_json_without_regrading(course):
    submit(course, "ada")
    autograded_notebooks(course, "ada")
    before = grader_fingerprint(course, ASSIGNMENT)
    written = finish_results(course, ASSIGNMENT, "ada", [MISSING], "fingerprint", 7.25)
    assert_valid_results(course.autograded("ada", ASSIGNMENT) / "results.json")
    set_results_table(
        course,
        '[results]\nvisibility = "after_due_date"\n[results.test_visibility]\n"01_param_count" = "hidden"\n',
    )
    assert grader_fingerprint(course, ASSIGNMENT) == before  # nobody is regraded for it
    refresh_results(course, ASSIGNMENT, ["ada"])
    refreshed = read_results(course, ASSIGNMENT, "ada")
    assert refreshed["visibility"] == "after_due_date"
    assert [t["visibility"] for t in refreshed["tests"][:3]] == ["hidden", "hidden", "visible"]
    # what grading recorded stays, and the output is made from the same messages
    assert refreshed["output"] == written["output"] == MISSING
    assert refreshed["execution_time"] == 7.25 and list(refreshed)[:2] == ["score", "execution_time"]
    assert refreshed["extra_data"]["fingerprint"] == "fingerprint"
    assert refreshed["extra_data"]["messages"] == [MISSING]


# --- written answers -------------------------------------------------------------------------


def test_each_written_answer_carries_the_students_text(course):
    submit(course, "ada")
    autograded_notebooks(course, "ada", answer=ANSWER, leave_out={"05_linear_collapse"})
    manual = {m["name"]: m for m in results_of(course, "ada")["extra_data"]["manually_graded"]}
    assert manual["forms_agree_answer"]["answer"] == (
        "The transpose rule: $(AB)^T = B^T A^T$.\n\n- the bias is broadcast over rows\n-"
    )  # the text of the cleaned answer: no markup, no script
    assert manual["zero_centred_answer"]["answer"].endswith("YOUR ANSWER HERE")  # untouched
    assert manual["collapse_proof"]["answer"] is None  # its notebook is missing
    assert manual["forms_agree_answer"]["score"] is None  # waiting for a grader


def test_answers_are_none_without_autograded_notebooks(course):
    submit(course, "ada")
    manual = results_of(course, "ada")["extra_data"]["manually_graded"]
    assert [m["answer"] for m in manual] == [None, None, None]


# --- the top-level output --------------------------------------------------------------------


def test_an_on_time_complete_submission_is_told_so(course):
    submit(course, "ada", timestamp=MANIFEST.due - dt.timedelta(minutes=5))
    results = results_of(course, "ada")
    assert results["output"] == "All 6 notebooks graded."
    assert results["output_format"] == "text"


def test_a_late_submission_is_told_when_how_late_and_the_penalty(course):
    submit(course, "dan", timestamp=MANIFEST.due + dt.timedelta(hours=3, minutes=20, seconds=30))
    results = assert_valid_results(results_of(course, "dan"))
    assert results["output"] == (
        "Submitted 2026-12-15 03:19 UTC, after the due date 2026-12-14 23:59 UTC: 3 h 20 min late. "
        "Late policy 'zero' (late work scores 0): a penalty of 27 points."
    )
    assert results["score"] == 0 and results["extra_data"]["late_penalty"] == AUTOGRADED


def test_a_missing_notebook_is_said_at_the_top_and_in_its_tests(course):
    submit(course, "cat", **{g: 0 for g in ("DenseLayer_init", "DenseLayer_forward")})
    autograded_notebooks(course, "cat", leave_out={"03_stored_activations"})
    results = assert_valid_results(results_of(course, "cat", [MISSING]))
    assert results["output"] == MISSING
    assert results["extra_data"]["messages"] == [MISSING]
    outputs = {
        t["name"]: t["output"]
        for t in results["tests"]
        if t["extra_data"]["notebook"] == "03_stored_activations"
    }
    assert set(outputs.values()) == {f"{MISSING}\n{NOT_GRADED}"}
    assert {t["output"] for t in results["tests"][:2]} == {"passed"}


def test_late_and_noted_say_both_lateness_first(course):
    submit(course, "dan", timestamp=MANIFEST.due + dt.timedelta(days=2, hours=1, minutes=5))
    lines = results_of(course, "dan", [MISSING, "timestamp.txt is empty"])["output"].splitlines()
    assert lines[0].startswith("Submitted 2026-12-17 01:04 UTC") and "2 days 1 h late" in lines[0]
    assert lines[1:] == [MISSING, "timestamp.txt is empty"]


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (40, "40 s"),
        (60, "1 min"),
        (12030, "3 h 20 min"),
        (7200, "2 h"),
        (86400, "1 day"),
        (2 * 86400 + 3900, "2 days 1 h"),
    ],
)
def test_how_late_in_words(seconds, said):
    assert late_by(seconds) == said


def test_the_check_after_each_test_finds_new_and_changed_results_json(tmp_path):
    from tests.conftest import _check_new_results

    checked = {}
    path = tmp_path / "course" / "autograded" / "ada" / ASSIGNMENT / "results.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"score": 1}')
    skipped = tmp_path / "course" / ".nnla" / "staging" / "results.json"  # never nnla's results
    skipped.parent.mkdir(parents=True)
    skipped.write_text("{}")
    _check_new_results(tmp_path, checked)
    assert list(checked) == [path]
    path.write_text('{"score": "1"}')
    with pytest.raises(pytest.fail.Exception, match="'1' is not of type 'number'"):
        _check_new_results(tmp_path, checked)
    path.unlink()
    skipped.unlink()

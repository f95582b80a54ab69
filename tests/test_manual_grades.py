"""Hand grades count: given through nbgrader's Gradebook as formgrader gives them, they reach the
report, results.json, nbgrader's grades.csv and the feedback, and survive autograding again. The
graders see each written answer's model answer and rubric; students never do."""

import csv
import json

import nbformat
import pytest

from autograder.demo.run import build_demo_course
from autograder.grading.nbgrader import open_gradebook, run_nbgrader
from autograder.grading.rubrics import TITLE
from autograder.grading.run import grade_class
from autograder.notebooks import is_written_answer, nbgrader_meta
from autograder.outputs.feedback import visible_text, write_feedback
from autograder.outputs.report import write_report
from tests.conftest import ASSIGNMENT, FULL_MARKS

pytestmark = pytest.mark.e2e

STUDENTS = ["alice", "bob"]
AUTOGRADED = sum(FULL_MARKS.values())  # 27
COMMENT = "Transpose rule right; the bias <b>broadcast</b> is missing."
GIVEN = {
    ("02_batch_forms", "forms_agree_answer"): (1.5, COMMENT),
    ("05_linear_collapse", "collapse_proof"): (3, ""),
}


@pytest.fixture(scope="module")
def course(repo, tmp_path_factory):
    course = build_demo_course(repo, tmp_path_factory.mktemp("manual") / "course", ASSIGNMENT)
    grade_class(course, ASSIGNMENT, STUDENTS, jobs=2)
    return course


def hand_grade(course, student: str) -> None:
    """What formgrader does when a grader scores an answer and writes a comment."""
    with open_gradebook(course) as gb:
        for (notebook, grade_id), (score, comment) in GIVEN.items():
            grade = gb.find_grade(grade_id, notebook, ASSIGNMENT, student)
            grade.manual_score = score
            grade.needs_manual_grade = False
            gb.find_comment(grade_id, notebook, ASSIGNMENT, student).manual_comment = comment or None
        gb.db.commit()


def exported(course, tmp_path) -> dict[str, dict]:
    out = tmp_path / "grades.csv"
    run_nbgrader(course, "export", f"--to={out}", f"--assignment={ASSIGNMENT}")
    with open(out, newline="", encoding="utf-8") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def results(course, student: str) -> dict:
    return json.loads((course.autograded(student, ASSIGNMENT) / "results.json").read_text("utf-8"))


def check_everything_agrees(course, tmp_path) -> None:
    report = write_report(course, ASSIGNMENT, tmp_path / "report")
    rows = exported(course, tmp_path)
    alice, bob = results(course, "alice"), results(course, "bob")
    assert alice["score"] == AUTOGRADED + 1.5 + 3 == report.scores["alice"] == float(rows["alice"]["score"])
    assert bob["score"] == report.scores["bob"] == float(rows["bob"]["score"]) == 0
    assert alice["extra_data"]["max_score"] == bob["extra_data"]["max_score"] == 34
    assert float(rows["alice"]["max_score"]) == 34
    manual = {m["name"]: m for m in alice["extra_data"]["manually_graded"]}
    answer = manual["forms_agree_answer"].pop("answer")  # her text: the source's model answer
    assert manual["forms_agree_answer"] == {
        "name": "forms_agree_answer",
        "notebook": "02_batch_forms",
        "max_score": 2.0,
        "score": 1.5,
        "comment": COMMENT,
    }
    assert "Model answer. The transpose of a product" in answer and "<p>" not in answer
    assert manual["collapse_proof"]["score"] == 3 and manual["zero_centred_answer"]["score"] is None
    assert sum(t["score"] for t in alice["tests"]) == AUTOGRADED  # tests: what the machine decided

    pages = write_feedback(course, ASSIGNMENT)
    summary = visible_text(pages["alice"].read_text("utf-8"))
    assert f"{AUTOGRADED + 4.5:g} / 34" in summary and COMMENT in summary
    assert "forms_agree_answer (02_batch_forms): 1.5 / 2" in summary and "waits for a grader" in summary
    nbgrader_page = visible_text((pages["alice"].parent / "02_batch_forms.html").read_text("utf-8"))
    assert "Transpose rule right; the bias" in nbgrader_page and "1.5" in nbgrader_page  # markdown there


def test_graders_see_the_rubric_after_each_written_answer(course):
    for path in sorted(course.autograded("alice", ASSIGNMENT).glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        for at, cell in enumerate(cells):
            if is_written_answer(cell):
                notes = cells[at + 1]
                assert notes.source.startswith(f"#### {TITLE}"), (path.name, nbgrader_meta(cell)["grade_id"])
                assert "**Rubric (" in notes.source and "**Model answer.**" in notes.source


def test_students_feedback_never_shows_the_rubric(course):
    write_feedback(course, ASSIGNMENT)
    # plain nbgrader too: the same preprocessors are in nbgrader_config.py
    run_nbgrader(course, "generate_feedback", ASSIGNMENT, "--force", "--CourseDirectory.student_id=bob")
    pages = sorted((course.root / "feedback").rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        text = page.read_text("utf-8")
        assert TITLE not in visible_text(text), page
        if "/bob/" in str(page):  # alice's answers are the source's solutions, rubric included
            assert "Rubric (" not in text and "Model answer" not in text, page


def test_hand_grades_count_everywhere_and_survive_autograding_again(course, tmp_path):
    before = exported(course, tmp_path)
    assert float(before["alice"]["score"]) == results(course, "alice")["score"] == AUTOGRADED
    hand_grade(course, "alice")
    check_everything_agrees(course, tmp_path / "graded")
    # nnla autograde again, unchanged (skipped) and forced: nbgrader keeps the grader's scores
    assert grade_class(course, ASSIGNMENT, STUDENTS, jobs=1)["alice"]["score"] == AUTOGRADED + 4.5
    check_everything_agrees(course, tmp_path / "again")
    assert (
        grade_class(course, ASSIGNMENT, ["alice"], jobs=1, force=True)["alice"]["score"] == AUTOGRADED + 4.5
    )
    check_everything_agrees(course, tmp_path / "forced")

"""`nnla report` and `nnla feedback` on a graded demo class: numbers, files, escaping, masking."""

import ast
import base64
import csv
import html
import json
import re
import shutil
import struct
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.course import Course
from autograder.demo.run import build_demo_course
from autograder.grading.nbgrader import run_nbgrader
from autograder.grading.run import grade_class
from autograder.outputs.feedback import (
    _refuse_leaks,
    _selections,
    hidden_test_lines,
    summary_html,
    write_feedback,
)
from autograder.outputs.report import score_histogram, write_report
from tests.conftest import ASSIGNMENT, REPO

pytestmark = pytest.mark.e2e  # runs the real tools; `-m 'not e2e'` leaves it out

STUDENTS = ["alice", "bob", "dave", "grace", "José Ñúñez"]
NBGRADER_CSV_COLUMNS = [
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
]


@pytest.fixture(scope="module")
def graded(repo, tmp_path_factory):
    """The demo course with five students graded: full marks, stubs, two bugs, an accented name."""
    course = build_demo_course(repo, tmp_path_factory.mktemp("report") / "course", ASSIGNMENT)
    return course, grade_class(course, ASSIGNMENT, STUDENTS, jobs=2)


@pytest.fixture(scope="module")
def report(graded):
    course, _ = graded
    return write_report(course, ASSIGNMENT)


@pytest.fixture(scope="module")
def feedback(graded):
    course, _ = graded
    return write_feedback(course, ASSIGNMENT)


def clone(course: Course, dest: Path) -> Course:
    """A copy of the graded course (config, notebooks, gradebook, autograded), without feedback."""
    dest.mkdir(parents=True)
    for name in ("nbgrader_config.py", "gradebook.db"):
        shutil.copy2(course.root / name, dest / name)
    for name in ("assignments", "source", "autograded"):
        shutil.copytree(course.root / name, dest / name)
    return Course(dest)


def visible(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        chunks.append(data[at + 4 : at + 8])
        at += length + 12
    return chunks


# --- report ---------------------------------------------------------------------------------


def test_report_is_one_self_contained_page_with_four_plots(report):
    page = report.html.read_text(encoding="utf-8")
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 4
    for image in images:
        chunks = png_chunks(base64.b64decode(image))
        assert not {b"tEXt", b"iTXt", b"zTXt", b"tIME"} & set(chunks), "PNG metadata makes bytes vary"
    assert not re.search(r"https?://|<script|<link|src=\"(?!data:)", page)
    assert "José Ñúñez" in page


def test_report_numbers_are_the_results(graded, report):
    _, results = graded
    assert report.scores == {s: results[s]["score"] for s in STUDENTS}
    assert report.max_score == 34  # 27 autograded and 7 for written answers, as in nbgrader's export
    assert report.median == 25.4 and report.mean == pytest.approx((27 + 0 + 24 + 25.4 + 27) / 5)
    counts, edges = score_histogram(list(report.scores.values()), report.max_score)
    assert edges[0] == 0 and edges[-1] == 34 and sum(counts) == 5
    # bob; dave; grace; alice and José
    assert counts[0] == 1 and counts[24] == 1 and counts[25] == 1 and counts[27] == 2  # bins [27, 28)
    assert "5 students graded" in report.html.read_text(encoding="utf-8")


def test_pass_rate_per_test_in_notebook_order(report):
    assert report.pass_rates["count_params_values"] == pytest.approx(3 / 5)  # bob and dave fail it
    assert report.pass_rates["tanh_values"] == pytest.approx(3 / 5)  # bob and grace
    assert report.pass_rates["affine_rows_values"] == pytest.approx(4 / 5)  # bob only
    notebooks = [report.notebooks[t] for t in report.pass_rates]
    assert notebooks == sorted(notebooks) and len(report.pass_rates) == 17


def test_misconceptions_are_counted_per_test(report):
    assert report.tag_counts["count_params_values"] == {"weights-only": 1}
    assert report.tag_counts["tanh_values"] == {"sigmoid-instead-of-tanh": 1}
    assert "affine_rows_values" not in report.tag_counts
    assert ("weights-only", 1) in report.top_tags()


def test_summary_names_the_hardest_tests_and_the_files(report):
    text = report.summary()
    assert "5 students graded" in text
    assert [name for name, _ in report.lowest_pass_rates()] == [
        "count_params_values",
        "count_params_errors",
        "tanh_values",
    ]
    assert "count_params_values 60%" in text and "weights-only (1)" in text
    assert str(report.html) in text and str(report.csv) in text and str(report.bundle) in text


def test_csv_is_nbgraders_export_one_row_per_student(graded, report):
    _, results = graded
    with open(report.csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == NBGRADER_CSV_COLUMNS
    assert sorted(r["student_id"] for r in rows) == sorted(STUDENTS)
    assert {r["student_id"]: float(r["score"]) for r in rows} == {s: results[s]["score"] for s in STUDENTS}
    assert {r["assignment"] for r in rows} == {ASSIGNMENT}


def test_bundle_holds_each_students_results_json(graded, report):
    course, _ = graded
    with zipfile.ZipFile(report.bundle) as bundle:
        assert sorted(bundle.namelist()) == sorted(f"{s}/results.json" for s in STUDENTS)
        for student in STUDENTS:
            original = (course.autograded(student, ASSIGNMENT) / "results.json").read_bytes()
            assert bundle.read(f"{student}/results.json") == original


def test_report_is_byte_identical_when_regenerated(graded, report, tmp_path):
    course, _ = graded
    again = write_report(course, ASSIGNMENT, tmp_path / "again")
    assert again.html.read_bytes() == report.html.read_bytes()
    assert again.bundle.read_bytes() == report.bundle.read_bytes()


def test_student_text_is_escaped_and_missing_times_are_said(graded, tmp_path):
    course = clone(graded[0], tmp_path / "course")
    for student in STUDENTS:  # as results written before the pipeline timed each submission
        path = course.autograded(student, ASSIGNMENT) / "results.json"
        path.write_text(
            json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "execution_time"})
        )
    odd = '<b>x & "y" [1]'
    results = json.loads((course.autograded("bob", ASSIGNMENT) / "results.json").read_text())
    results["execution_time"] = 12.5
    results["extra_data"]["messages"] = ["<script>alert(1)</script> renamed 01_param_count.ipynb"]
    course.autograded(odd, ASSIGNMENT).mkdir(parents=True)
    (course.autograded(odd, ASSIGNMENT) / "results.json").write_text(json.dumps(results))
    report = write_report(course, ASSIGNMENT)
    page = report.html.read_text(encoding="utf-8")
    assert "<b>x" not in page and "<script" not in page
    assert "&lt;b&gt;x &amp; &#34;y&#34; [1]" in page  # as Jinja2 (markupsafe) escapes it
    assert "&lt;script&gt;alert(1)&lt;/script&gt; renamed 01_param_count.ipynb" in page
    assert report.times == {odd: 12.5}
    assert "Grading time recorded for 1 of 6 submissions" in page and "5 without one are left out" in page


def test_no_results_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `nnla autograde ch177` first"):
        write_report(Course(tmp_path), ASSIGNMENT)


# --- feedback -------------------------------------------------------------------------------


def reference_lines(course: Course) -> set[str]:
    """Code lines of nnla_ref's and the hidden suites' functions that no student notebook shows."""
    code = set()
    for path in [
        *(REPO / "nnla_ref").glob("*.py"),
        *(REPO / "assignments" / ASSIGNMENT / "suites").glob("*.py"),
    ]:
        text = path.read_text()
        lines = text.splitlines()
        tree = ast.parse(text)
        # Docstrings and long strings hold property sentences that feedback quotes on purpose.
        prose = {
            n
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            for n in range(node.lineno, node.end_lineno + 1)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for n in range(node.body[0].lineno, node.end_lineno + 1):
                    line = lines[n - 1].strip()
                    if n not in prose and len(line) > 15 and not line.startswith("#"):
                        code.add(line)
    # The source solutions are what the demo students submit, and the notebooks' prose quotes
    # formulas: what a student notebook shows may be in the feedback.
    shown = "\n".join(
        cell.source
        for path in [*course.source(ASSIGNMENT).glob("*.ipynb"), *course.root.glob("submitted/*/*/*.ipynb")]
        for cell in nbformat.read(path, as_version=4).cells
    )
    return {line for line in code if line not in shown}


def feedback_pages(course: Course) -> list[Path]:
    return sorted((course.root / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))


def test_feedback_pages_for_every_student_and_notebook(graded, feedback):
    course, _ = graded
    assert sorted(feedback) == sorted(STUDENTS)
    notebooks = [p.stem for p in sorted(course.source(ASSIGNMENT).glob("*.ipynb"))]
    for student in STUDENTS:
        folder = course.root / "feedback" / student / ASSIGNMENT
        assert feedback[student] == folder / "summary.html"
        assert sorted(p.stem for p in folder.glob("*.html")) == sorted([*notebooks, "summary"])


def test_feedback_never_shows_hidden_tests_or_reference_code(graded, feedback):
    course, _ = graded
    hidden, reference = hidden_test_lines(course, ASSIGNMENT), reference_lines(course)
    assert len(hidden) > 50 and len(reference) > 200
    pages = feedback_pages(course)
    assert len(pages) == 7 * len(STUDENTS)
    for page in pages:
        raw = page.read_text(encoding="utf-8")
        text = visible(raw)
        assert "BEGIN HIDDEN TESTS" not in raw and "BEGIN HIDDEN TESTS" not in text
        assert "nnla_ref" not in text
        assert [line for line in hidden | reference if line in text] == [], page


def test_summary_shows_the_failing_input_and_hint(graded, feedback):
    page = feedback["dave"].read_text(encoding="utf-8")
    assert "24 / 34" in page  # out of 27 autograded and 7 written points
    assert "count_params_values: 0 / 2, failed" in page
    assert "layer_sizes = [784, 256, 128, 10]" in page
    assert "hint [weights-only]: Each layer has n_out biases" in page
    assert "<code>weights-only</code>" in page
    assert "affine_rows_values: 2 / 2, passed" in page
    assert "waits for a grader" in page  # written answers are listed apart
    assert "José Ñúñez" in feedback["José Ñúñez"].read_text(encoding="utf-8")


def test_summary_puts_escaped_messages_first():
    results = {
        "score": 1.0,
        "tests": [
            {
                "name": "t_a",
                "score": 1,
                "max_score": 2,
                "output": "x < 1 & y",
                "tags": [],
                "extra_data": {"notebook": "n1"},
            }
        ],
        "output": "Submitted <u>late</u>\nrenamed <b>01</b>.ipynb",
        "extra_data": {"messages": ["renamed <b>01</b>.ipynb"], "late_penalty": 0.5, "max_score": 2.0},
    }
    page = summary_html(results, "<i>kid</i>", ASSIGNMENT)
    assert "<b>01" not in page and "<i>kid" not in page and "<u>" not in page
    assert page.index("Submitted &lt;u&gt;late") < page.index("renamed &lt;b&gt;")  # results.json's output
    assert page.index("renamed &lt;b&gt;01&lt;/b&gt;.ipynb") < page.index("t_a: 1 / 2, partial credit")
    assert "<pre>x &lt; 1 &amp; y</pre>" in page and "late penalty 0.5" in page


def restore_hidden_tests(course: Course, student: str) -> int:
    """Put the source's hidden-test blocks back into a student's autograded notebooks, as stock
    nbgrader (hidden tests run in the kernel) leaves them; return how many cells got one."""
    restored = 0
    for source in course.source(ASSIGNMENT).glob("*.ipynb"):
        originals = {
            c.metadata.nbgrader["grade_id"]: c.source
            for c in nbformat.read(source, as_version=4).cells
            if "BEGIN HIDDEN TESTS" in c.source
        }
        path = course.autograded(student, ASSIGNMENT) / source.name
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id in originals:
                cell.source = originals[grade_id]
                restored += 1
        path.chmod(0o644)  # nbgrader leaves autograded notebooks read-only (only root writes anyway)
        nbformat.write(nb, path)
    return restored


def test_hidden_tests_are_masked_even_when_autograded_notebooks_hold_them(graded, tmp_path):
    course = clone(graded[0], tmp_path / "course")
    assert restore_hidden_tests(course, "dave") > 10
    hidden = hidden_test_lines(course, ASSIGNMENT)

    def leaks() -> list[str]:
        text = "".join(visible(p.read_text(encoding="utf-8")) for p in feedback_pages(course))
        return [line for line in hidden if line in text] + ["marker"] * ("BEGIN HIDDEN TESTS" in text)

    assert set(write_feedback(course, ASSIGNMENT, ["dave"])) == {"dave"}
    assert sorted(p.name for p in (course.root / "feedback").iterdir()) == ["dave"]  # only the one asked
    assert len(feedback_pages(course)) == 7 and leaks() == []

    # Plain nbgrader masks too: the same preprocessors are in nbgrader_config.py. (--force rewrites
    # the folder, so summary.html is gone.)
    run_nbgrader(course, "generate_feedback", ASSIGNMENT, "--force", "--CourseDirectory.student_id=dave")
    assert len(feedback_pages(course)) == 6 and leaks() == []

    # Without ClearHiddenTests they would show, and the last check refuses such a page.
    run_nbgrader(
        course,
        "generate_feedback",
        ASSIGNMENT,
        "--force",
        "--CourseDirectory.student_id=dave",
        "--GenerateFeedback.preprocessors=['nbgrader.preprocessors.GetGrades']",
    )
    assert "marker" in leaks() and len(leaks()) > 10
    page = course.root / "feedback" / "dave" / ASSIGNMENT / "01_param_count.html"
    with pytest.raises(RuntimeError, match="showed hidden test code"):
        _refuse_leaks(page, hidden)
    assert not page.exists()


def test_feedback_for_unknown_student_is_a_clear_error(graded):
    with pytest.raises(FileNotFoundError, match="for nobody: run `nnla autograde ch177` first"):
        write_feedback(graded[0], ASSIGNMENT, ["nobody"])


def test_nbgrader_selects_exactly_the_students_asked():
    assert _selections(["a", "b"], ["a", "b"]) == [[]]
    assert _selections(["a", "b"], ["a", "b", "c", "d"]) == [["--CourseDirectory.student_id_exclude=c,d"]]
    assert _selections(["a*"], ["a*", "ab"]) == [["--CourseDirectory.student_id=a[*]"]]
    assert _selections(["a", "b"], ["a", "b", "c,d"]) == [
        ["--CourseDirectory.student_id=a"],
        ["--CourseDirectory.student_id=b"],
    ]

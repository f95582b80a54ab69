"""`nnla export`: grades for the LMS from nbgrader's gradebook, as Canvas imports them or as a plain
CSV, equal to results.json's score, and the same through `nbgrader export --exporter=...`.

The gradebook is built with nbgrader's own API (students, submissions, grades as the autograder
and formgrader leave them), not by grading, so that these tests take seconds."""

import csv
import io

import pytest

from autograder import cli
from autograder.grading.nbgrader import open_gradebook, register_assignment, run_nbgrader
from autograder.grading.results import assignment_items, build_results
from autograder.outputs.export import (
    Export,
    GradesCsvExportPlugin,
    StudentGrade,
    canvas_csv,
    collect_grades,
    grades_csv,
    number,
    read_roster,
)
from tests.conftest import ASSIGNMENT, MANIFEST, copy_course

BOM = "\ufeff".encode()
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
COLUMN = "Linear Algebra for Neural Networks [ch177]"
MAX = 34  # 27 autograded + 7 written (README's points table)
# The class: (id, first, last, email, lms_user_id)
STUDENTS = [
    ("ada", "Zoë", "Ångström", "zoe@uni.example", None),
    ("lukasz", "Łukasz", "Müller", "lm@uni.example", "1002"),
    ("chen", None, None, None, None),
    ("mallory", '=HYPERLINK("http://evil.example","open")', "-2+3", "+cmd@evil.example", "@SUM(A1)"),
    ("=1+2", None, None, None, None),
]
# A roster as a spreadsheet saves it: byte-order mark, CRLF, header in capitals, an extra
# column, chen without a Canvas id, and someone who is not in the gradebook.
ROSTER = (
    "\ufeffID,canvas_id,sis_user_id,sis_login_id,section,notes\r\n"
    "ada,2001,S1001,zangstrom,Section A,ok\r\n"
    "chen,,,,Section B,\r\n"
    "ghost,2999,,,,left the course\r\n"
    "\r\n"
)


def grade_everything(gb, student: str, written: dict[str, float | None], penalty: float = 0.0) -> None:
    """A submission autograded with full marks, written answers graded as `written` says (None:
    waiting for a grader), and nbgrader's late penalty on its first notebook."""
    submission = gb.add_submission(ASSIGNMENT, student, timestamp="2026-12-15T10:00:00Z")
    for nb in submission.notebooks:
        for grade in nb.grades:
            if grade.cell.cell_type == "code":
                grade.auto_score, grade.needs_manual_grade = grade.max_score, False
            elif (score := written.get(grade.name)) is not None:
                grade.manual_score, grade.needs_manual_grade = score, False
    submission.notebooks[0].late_submission_penalty = penalty
    gb.db.commit()


@pytest.fixture(scope="module")
def course(repo, tmp_path_factory):
    course = copy_course(repo, tmp_path_factory.mktemp("export") / "course", with_release=False)
    register_assignment(course, MANIFEST)
    with open_gradebook(course) as gb:
        for sid, first, last, email, lms in STUDENTS:
            gb.add_student(sid, first_name=first, last_name=last, email=email, lms_user_id=lms)
        # 27 + 1.5 + 2 + 3
        grade_everything(
            gb, "ada", {"forms_agree_answer": 1.5, "zero_centred_answer": 2, "collapse_proof": 3}
        )
        # 27 + 2 - 5 late, two written answers waiting
        grade_everything(gb, "lukasz", {"forms_agree_answer": 2}, penalty=5)
        # 27, then a grader overrides one autograded cell (2 -> 0.5): 25.5, three answers waiting
        grade_everything(gb, "chen", {})
        gb.find_grade("count_params_values", "01_param_count", ASSIGNMENT, "chen").manual_score = 0.5
        gb.db.commit()
    (course.root / "roster.csv").write_bytes(ROSTER.encode("utf-8"))
    return course


EXPECTED = {"=1+2": 0, "ada": 33.5, "chen": 25.5, "lukasz": 24, "mallory": 0}


def nnla(course, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.chdir(course.root)
    code = cli.main(["export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def read_canvas(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM)  # as Canvas's own exports: Excel then shows Zoë as Zoë
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_canvas_import_file(course, monkeypatch, capsys):
    code, out, err = nnla(course, monkeypatch, capsys, ASSIGNMENT, "--roster", "roster.csv")
    path = course.root / "exports" / f"{ASSIGNMENT}-canvas.csv"
    assert code == 0 and out == f"wrote {path}\n5 students, 2 with no submission\n"
    rows = read_canvas(path.read_bytes())
    assert rows[0] == [*CANVAS_HEADER, COLUMN]
    assert rows[1] == ["    Points Possible", "", "", "", "", str(MAX)]
    assert rows[2:] == [  # sorted by nbgrader id
        ["'=1+2", "", "", "", "", "0"],
        ["Ångström, Zoë", "2001", "S1001", "zangstrom", "Section A", "33.5"],  # ids from the roster
        ["chen", "", "", "", "Section B", "25.5"],  # no names: the id
        ["Müller, Łukasz", "1002", "", "", "", "24"],  # no roster row: nbgrader's lms_user_id
        ['\'-2+3, =HYPERLINK("http://evil.example","open")', "'@SUM(A1)", "", "", "", "0"],
    ]
    warnings = err.splitlines()
    assert all(line.startswith("nnla export: warning: ") for line in warnings) and len(warnings) == 3
    assert "1 roster id not among the gradebook's students, skipped: ghost\n" in err
    assert "2 students with written answers not graded yet, counted 0: chen, lukasz\n" in err
    # mallory's "@SUM(A1)" is no Canvas user id: Canvas could match her only by name
    assert "3 students without an LMS id" in err and ": =1+2, chen, mallory; add them to the roster" in err


def test_totals_are_results_json_scores(course):
    """Manual scores counted, grader overrides winning, late penalty subtracted: results.json's
    top-level score, and 0 without a submission."""
    with open_gradebook(course) as gb:
        export = collect_grades(gb, course, ASSIGNMENT)
        for row in export.rows:
            assert row.score == pytest.approx(EXPECTED[row.id]), row.id
            if row.has_submission:
                assert row.score == build_results(gb, course, ASSIGNMENT, row.id)["score"]
    assert export.max_score == MAX == sum(i.points for i in assignment_items(course, ASSIGNMENT))
    assert [r.id for r in export.rows if not r.has_submission] == ["=1+2", "mallory"]
    assert {r.id: r.ungraded for r in export.rows} == {
        "=1+2": 0,
        "ada": 0,
        "chen": 3,
        "lukasz": 2,
        "mallory": 0,
    }


def test_plain_csv(course, monkeypatch, capsys, tmp_path):
    out = tmp_path / "grades.csv"
    code, said, err = nnla(course, monkeypatch, capsys, ASSIGNMENT, "--format", "csv", "--out", str(out))
    assert code == 0 and said == f"wrote {out}\n5 students, 2 with no submission\n"
    assert "not graded yet" in err and "LMS id" not in err  # Canvas's matching is Canvas's concern
    data = out.read_bytes()
    assert not data.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert list(rows[0]) == [
        *("id", "first_name", "last_name", "email", "lms_user_id"),
        *("score", "max_score", "late_penalty", "submitted"),
    ]
    by_id = {r["id"]: r for r in rows}
    assert list(by_id) == sorted(by_id) == ["'=1+2", "ada", "chen", "lukasz", "mallory"]
    assert by_id["lukasz"] == {
        "id": "lukasz",
        "first_name": "Łukasz",
        "last_name": "Müller",
        "email": "lm@uni.example",
        "lms_user_id": "1002",
        "score": "24",
        "max_score": "34",
        "late_penalty": "5",
        "submitted": "2026-12-15T10:00:00+00:00",
    }
    assert by_id["ada"]["score"] == "33.5" and by_id["ada"]["late_penalty"] == "0"
    assert by_id["mallory"]["score"] == "0" and by_id["mallory"]["submitted"] == ""


@pytest.mark.e2e  # runs nbgrader
def test_nbgrader_export_plugin_writes_the_same_bytes(course, monkeypatch, capsys, tmp_path):
    ours = tmp_path / "nnla.csv"
    assert nnla(course, monkeypatch, capsys, ASSIGNMENT, "--roster", "roster.csv", "--out", str(ours))[0] == 0
    theirs = tmp_path / "nbgrader.csv"
    # no --assignment: the gradebook has only ch177
    done = run_nbgrader(
        course,
        "export",
        "--exporter=autograder.outputs.export.CanvasExportPlugin",
        f"--to={theirs}",
        "--CanvasExportPlugin.roster=roster.csv",
    )
    assert "5 students, 2 with no submission" in done.stdout and "not graded yet" in done.stdout
    assert theirs.read_bytes() == ours.read_bytes()


def test_csv_plugin_class_writes_what_nnla_writes(course, monkeypatch, capsys, tmp_path):
    ours, theirs = tmp_path / "nnla.csv", tmp_path / "plugin.csv"
    assert nnla(course, monkeypatch, capsys, ASSIGNMENT, "--format", "csv", "--out", str(ours))[0] == 0
    with open_gradebook(course) as gb:  # as ExportApp runs it, cwd the course
        GradesCsvExportPlugin(to=str(theirs), assignment=[ASSIGNMENT]).export(gb)
    assert theirs.read_bytes() == ours.read_bytes()
    with open_gradebook(course) as gb:  # nbgrader's --student: only those
        GradesCsvExportPlugin(to=str(theirs), assignment=[ASSIGNMENT], student=["chen"]).export(gb)
    assert [r["id"] for r in csv.DictReader(io.StringIO(theirs.read_text("utf-8")))] == ["chen"]


def test_same_gradebook_same_bytes(course, monkeypatch, capsys, tmp_path):
    for fmt in ("canvas", "csv"):
        first, second = tmp_path / f"1-{fmt}.csv", tmp_path / f"2-{fmt}.csv"
        for out in (first, second):
            assert nnla(course, monkeypatch, capsys, ASSIGNMENT, "--format", fmt, "--out", str(out))[0] == 0
        assert first.read_bytes() == second.read_bytes()


def test_column_for_an_existing_canvas_assignment(course, monkeypatch, capsys, tmp_path):
    out = tmp_path / "c.csv"
    args = (ASSIGNMENT, "--out", str(out))
    assert nnla(course, monkeypatch, capsys, *args, "--column", "Homework 3 (12345)")[0] == 0
    assert read_canvas(out.read_bytes())[0][-1] == "Homework 3 (12345)"
    out.unlink()
    for bad in (["--column", "Final Score"], ["--column", " "], ["--format", "csv", "--column", "X"]):
        code, said, err = nnla(course, monkeypatch, capsys, *args, *bad)
        assert (code, said, len(err.splitlines())) == (2, "", 1) and err.startswith("nnla export: "), bad
        assert not out.exists()


@pytest.mark.parametrize(
    "roster, says",
    [
        ("student,canvas_id\r\nada,2001\r\n", "no `id` column"),
        ("id,canvas_id\nada,2001\nchen,2002\nada,2003\n", "line 4: id 'ada' is there twice"),
        ("id,canvas_id\n ada ,2001\nada,2003\n", "line 3: id 'ada' is there twice"),
        ("id,canvas_id\n,2001\n", "line 2: no id"),
    ],
)
def test_roster_refused(course, monkeypatch, capsys, tmp_path, roster, says):
    bad, out = tmp_path / "bad-roster.csv", tmp_path / "never.csv"
    bad.write_text(roster, encoding="utf-8")
    code, said, err = nnla(course, monkeypatch, capsys, ASSIGNMENT, "--roster", str(bad), "--out", str(out))
    assert (code, said, len(err.splitlines())) == (2, "", 1) and says in err
    assert not out.exists()


def test_roster_as_spreadsheets_save_it(course):
    roster = read_roster(course.root / "roster.csv")
    assert set(roster) == {"ada", "chen", "ghost"}
    assert (roster["ada"].canvas_id, roster["ada"].sis_login_id, roster["ada"].section) == (
        "2001",
        "zangstrom",
        "Section A",
    )
    assert roster["chen"].canvas_id == "" and roster["chen"].section == "Section B"


def test_unknown_assignment_refused(course, monkeypatch, capsys):
    code, said, err = nnla(course, monkeypatch, capsys, "ch999")
    assert (code, said) == (2, "") and "'ch999' is not in the gradebook" in err


def row(sid: str, first: str, last: str, score: float) -> StudentGrade:
    return StudentGrade(sid, first, last, "", "", "", "", "", score, 0.0, None, True, 0)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_no_cell_becomes_a_formula(start):
    """Text cells starting like a formula get a quote; numbers, negative ones too, never do."""
    export = Export("a1", "A1", 10, (row(f"{start}id", f"{start}first", f"{start}last", -2.5),), ())
    canvas = read_canvas(canvas_csv(export))
    assert canvas[2] == [f"'{start}last, {start}first", "", "", "", "", "-2.5"]
    plain = list(csv.reader(io.StringIO(grades_csv(export).decode("utf-8"), newline="")))
    assert plain[1][:3] == [f"'{start}id", f"'{start}first", f"'{start}last"]
    assert plain[1][5:8] == ["-2.5", "10", "0"]


def test_numbers_without_float_noise():
    assert [number(x) for x in (33.5, 27.0, 0.1 + 0.2, 34 - 0.1 * 3, -0.0, 1 / 3, 1e-9)] == [
        "33.5",
        "27",
        "0.3",
        "33.7",
        "0",
        "0.3333",
        "0",
    ]

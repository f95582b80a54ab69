"""`nnla solutions`: student-facing solution notebooks, written only after the due date, with the
solution code and model answers, without hidden tests, rubrics, outputs or nbgrader metadata."""

import copy
import datetime as dt
import shutil
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

from autograder import cli
from autograder.course import Course
from autograder.notebooks import is_solution, nbgrader_meta
from autograder.outputs import solutions
from autograder.outputs.solutions import SolutionsRefused, write_solutions
from tests.conftest import REPO

PAST, FUTURE = "2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z"
AFTER_CH177 = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)

SOLUTION_CODE = "    return 2 * x  # the solution line"
HIDDEN = 'assert twice(-7) == -14, "secret negative case"'
MODEL = "**Model answer.** Doubling is adding a number to itself."
RUBRIC = "**Rubric (2 points).**\n- 1 point: says adding to itself; half a point for a vague answer."
GRADER_NOTE = "Grader's private aside: most students forget negative numbers."
MARK_SCHEME = "Give the point only for the word linear."


def meta(grade_id, *, grade=False, solution=False, points=0, task=False):
    return {
        "nbgrader": {
            "grade": grade,
            "grade_id": grade_id,
            "locked": not solution,
            "points": points,
            "schema_version": 3,
            "solution": solution,
            "task": task,
        }
    }


def tiny_notebook(solution_import: str = "") -> nbformat.NotebookNode:
    """One of each kind of cell: given, solution, visible and hidden tests, two written answers
    (one with a model answer and a rubric, one with a rubric only) and a task with a mark scheme."""
    v4 = nbformat.v4
    run = v4.new_code_cell("print(1)", execution_count=3, outputs=[v4.new_output("stream", text="1\n")])
    cells = [
        v4.new_markdown_cell("# Doubling\n\nWrite `twice(x)`."),
        v4.new_code_cell("import math", metadata=meta("given")),
        v4.new_code_cell(
            f'{solution_import}def twice(x):\n    """2 x."""\n    ### BEGIN SOLUTION\n{SOLUTION_CODE}\n'
            "    ### END SOLUTION",
            metadata=meta("twice_solution", solution=True),
        ),
        v4.new_code_cell(
            f"assert twice(2) == 4, 'visible'\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS",
            metadata=meta("twice_values", grade=True, points=2),
        ),
        v4.new_markdown_cell(
            f"**Why is doubling adding?**\n\n### BEGIN SOLUTION\n{MODEL}\n\n{RUBRIC}\n### END SOLUTION",
            metadata=meta("why_answer", grade=True, solution=True, points=2),
        ),
        v4.new_markdown_cell(
            f"**Is doubling linear?**\n\n### BEGIN SOLUTION\n{GRADER_NOTE}\n\n{RUBRIC}\n### END SOLUTION",
            metadata=meta("linear_answer", grade=True, solution=True, points=2),
        ),
        v4.new_markdown_cell(
            f"Say why doubling is linear.\n=== BEGIN MARK SCHEME ===\n{MARK_SCHEME}\n=== END MARK SCHEME ===",
            metadata=meta("linear_task", grade=True, points=1, task=True),
        ),
        run,
    ]
    return v4.new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )


def tiny_course(root: Path, due: str = PAST, references=(), nb=None) -> Course:
    """A course of one assignment, t1, with one tiny notebook and a plug-in holding a reference."""
    (root / "source" / "t1").mkdir(parents=True)
    (root / "assignments" / "t1").mkdir(parents=True)
    (root / "nbgrader_config.py").write_text("")
    (root / "assignments" / "t1" / "__init__.py").write_text("")
    (root / "assignments" / "t1" / "reference.py").write_text("def twice(x):\n    return 2 * x\n")
    (root / "assignments" / "t1.toml").write_text(
        textwrap.dedent(f"""\
            id = "t1"
            title = "Tiny Doubling"
            due = {due}
            late_policy = "none"
            notebooks = ["01_twice"]
            references = {list(references)!r}
            [contract]
            "01_twice" = ["twice"]
            [limits]
            cpu_seconds = 1
            wall_seconds = 1
            memory_mb = 100
            [hypothesis]
            max_examples = 1
            """).replace("'", '"')
    )
    nbformat.write(nb or tiny_notebook(), root / "source" / "t1" / "01_twice.ipynb")
    return Course(root)


def nnla(course: Course, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.chdir(course.root)
    code = cli.main(["solutions", *args])
    out, err = capsys.readouterr()
    return code, out, err


def released(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What nbgrader's own release preprocessors make of a notebook's text."""
    nb = copy.deepcopy(nb)
    ClearSolutions().preprocess(nb, {})
    ClearHiddenTests().preprocess(nb, {})
    return nb


def test_refuses_before_the_due_date_in_one_line(tmp_path, monkeypatch, capsys):
    course = tiny_course(tmp_path, due=FUTURE)
    code, out, err = nnla(course, monkeypatch, capsys, "t1")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "t1 is due 2099-01-01 00:00 UTC" in err and "--force" in err
    assert not (tmp_path / "solutions").exists()
    with pytest.raises(SolutionsRefused):
        write_solutions(course, "t1", now=dt.datetime(2098, 12, 31, 23, 59, tzinfo=dt.UTC))


def test_force_writes_them_before_the_due_date(tmp_path, monkeypatch, capsys):
    course = tiny_course(tmp_path, due=FUTURE)
    code, out, _ = nnla(course, monkeypatch, capsys, "t1", "--force")
    assert code == 0 and "1 solution notebooks written" in out
    assert (tmp_path / "solutions" / "t1" / "01_twice.ipynb").is_file()


def test_after_the_due_date_they_are_written_where_asked(tmp_path, monkeypatch, capsys):
    course = tiny_course(tmp_path / "course", due=PAST)
    code, _, _ = nnla(course, monkeypatch, capsys, "t1", "--out", str(tmp_path / "elsewhere"))
    assert code == 0 and (tmp_path / "elsewhere" / "01_twice.ipynb").is_file()
    later = Course(tiny_course(tmp_path / "later", due=FUTURE).root)
    [path] = write_solutions(later, "t1", now=dt.datetime(2099, 1, 1, 0, 1, tzinfo=dt.UTC))
    assert path == later.root / "solutions" / "t1" / "01_twice.ipynb"


@pytest.fixture
def tiny_solution(tmp_path) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """(the source, its solution notebook)."""
    course = tiny_course(tmp_path)
    [path] = write_solutions(course, "t1")
    return nbformat.read(course.source("t1") / "01_twice.ipynb", as_version=4), nbformat.read(
        path, as_version=4
    )


def test_keeps_the_solutions_and_visible_tests_and_drops_what_is_the_graders(tiny_solution):
    source, sol = tiny_solution
    text = "\n".join(c.source for c in sol.cells)
    assert SOLUTION_CODE in text and "assert twice(2) == 4, 'visible'" in text
    assert MODEL in text and "**Why is doubling adding?**" in text and "**Is doubling linear?**" in text
    for gone in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", HIDDEN, "Rubric", "1 point: says"):
        assert gone not in text, gone
    for gone in (GRADER_NOTE, "MARK SCHEME", MARK_SCHEME):
        assert gone not in text, gone
    # the cells match the source's one to one, after a first cell saying what this is
    assert sol.cells[0].cell_type == "markdown"
    assert "Solutions" in sol.cells[0].source and "Tiny Doubling" in sol.cells[0].source
    assert "released after the due date" in sol.cells[0].source
    assert len(sol.cells) == len(source.cells) + 1
    release = released(source)
    for src, rel, out in zip(source.cells, release.cells, sol.cells[1:], strict=True):
        if nbgrader_meta(src).get("grade_id") == "twice_solution":
            assert out.source == "\n".join(ln for ln in src.source.split("\n") if "SOLUTION" not in ln)
        elif nbgrader_meta(src).get("grade_id") == "why_answer":
            assert out.source == f"**Why is doubling adding?**\n\n{MODEL}"
        elif nbgrader_meta(src).get("grade_id") == "linear_task":
            assert out.source == "Say why doubling is linear."
        else:  # visible tests, given code, the answer without a model answer: as released
            assert out.source == rel.source
    assert sol.cells[6].source == "**Is doubling linear?**\n\nYOUR ANSWER HERE"


def test_a_plain_valid_notebook_without_outputs(tiny_solution):
    _, sol = tiny_solution
    nbformat.validate(sol)
    assert len({c.id for c in sol.cells}) == len(sol.cells)
    for cell in sol.cells:
        assert "nbgrader" not in cell.metadata
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert "nbgrader" not in sol.metadata


@pytest.mark.parametrize(
    ("imports", "references"),
    [
        ("from tinyref import twice as _t\n", ["tinyref"]),
        ("import math, tinyref.core\n", ["tinyref"]),
        ("_t = __import__('tinyref')\n", ["tinyref"]),
        ("import reference\n", []),  # the plug-in's own reference module
        ("from assignments.t1.reference import twice as _t\n", []),
    ],
)
def test_refuses_a_solution_that_imports_the_reference(tmp_path, monkeypatch, capsys, imports, references):
    course = tiny_course(tmp_path, references=references, nb=tiny_notebook(solution_import=imports))
    code, _, err = nnla(course, monkeypatch, capsys, "t1")
    assert code == 2 and "would import the reference" in err and err.count("\n") == 1
    assert not (tmp_path / "solutions").exists()


def test_the_check_catches_what_the_filter_misses(tmp_path, monkeypatch):
    """A safety check, not only a filter: with the filtering broken, nothing is written."""
    course = tiny_course(tmp_path)
    keep_hidden_tests = solutions._solution_text

    def leaky(cell):
        text, removed = keep_hidden_tests(cell)
        return (cell.source if "HIDDEN" in cell.source else text), removed

    monkeypatch.setattr(solutions, "_solution_text", leaky)
    with pytest.raises(SolutionsRefused, match="HIDDEN TESTS"):
        write_solutions(course, "t1")

    def marker_free_leak(cell):
        text, removed = keep_hidden_tests(cell)
        return (text + "\n" + HIDDEN if "HIDDEN" in cell.source else text), removed

    monkeypatch.setattr(solutions, "_solution_text", marker_free_leak)
    with pytest.raises(SolutionsRefused, match="secret negative case"):
        write_solutions(course, "t1")

    def rubric_leak(cell):
        text, removed = keep_hidden_tests(cell)
        return (text + "\n" + RUBRIC if "why_answer" in str(cell.metadata) else text), removed

    monkeypatch.setattr(solutions, "_solution_text", rubric_leak)
    with pytest.raises(SolutionsRefused, match="Rubric"):
        write_solutions(course, "t1")
    assert not (tmp_path / "solutions").exists()


def test_an_unterminated_hidden_block_is_refused(tmp_path):
    nb = tiny_notebook()
    nb.cells[3].source = nb.cells[3].source.replace("### END HIDDEN TESTS", "")
    with pytest.raises(SolutionsRefused, match="01_twice.ipynb: no END HIDDEN TESTS"):
        write_solutions(tiny_course(tmp_path, nb=nb), "t1")


def test_a_model_answer_stops_at_any_other_label():
    region = [
        MODEL,
        "more of it",
        "",
        "**Points.** grader text",
        "*italic* is still the answer?",
        "**Model answer, part 2.**",
    ]
    shown, hidden = solutions._written_answer(region)
    assert shown == [MODEL, "more of it", "", "**Model answer, part 2.**"]
    assert "**Points.** grader text" in hidden


def test_the_grader_names_no_assignment():
    text = (REPO / "autograder" / "outputs" / "solutions.py").read_text()
    assert "ch177" not in text and "vec01" not in text and "nnla_ref" not in text


@pytest.fixture(scope="module")
def ch177_solutions(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("solutions") / "ch177"
    write_solutions(Course(REPO), "ch177", out, now=AFTER_CH177)
    return out


def test_ch177_solutions(ch177_solutions):
    course = Course(REPO)
    sources = sorted(course.source("ch177").glob("*.ipynb"))
    assert sorted(p.name for p in ch177_solutions.iterdir()) == [p.name for p in sources]
    for path in sources:
        source = nbformat.read(path, as_version=4)
        sol = nbformat.read(ch177_solutions / path.name, as_version=4)
        nbformat.validate(sol)
        text = "\n".join(c.source for c in sol.cells)
        for gone in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "Rubric", "MARK SCHEME", "nnla_ref"):
            assert gone not in text, (path.name, gone)
        assert "Linear Algebra for Neural Networks" in sol.cells[0].source
        release = released(source)
        for src, rel, out in zip(source.cells, release.cells, sol.cells[1:], strict=True):
            assert (
                "nbgrader" not in out.metadata and not out.get("outputs") and not out.get("execution_count")
            )
            inside, region = False, []
            for line in src.source.split("\n"):
                if "BEGIN SOLUTION" in line or "END SOLUTION" in line:
                    inside = "BEGIN" in line
                elif inside:
                    region.append(line)
            if src.cell_type == "code" and is_solution(src):  # every line of the solution is there
                assert out.source == "\n".join(ln for ln in src.source.split("\n") if "SOLUTION" not in ln)
            elif region:  # a written answer: the prompt, then the model answer, up to the rubric
                model = "\n".join(
                    region[: next(i for i, ln in enumerate(region) if ln.startswith("**Rubric"))]
                )
                assert out.source == rel.source.replace("YOUR ANSWER HERE", model.strip())
                assert out.source.count("**Model answer.**") == 1
            else:  # everything else, visible tests included, exactly as released
                assert out.source == rel.source


@pytest.mark.e2e
def test_the_ch177_solutions_run_and_pass_their_visible_tests(ch177_solutions):
    import nbclient

    for path in sorted(ch177_solutions.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(
            nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ch177_solutions)}}
        )
        client.execute()  # raises CellExecutionError at the first failing cell (a visible test)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, (path.name, errors)


def test_the_second_assignment(tmp_path):
    root = tmp_path / "course"
    shutil.copytree(REPO / "tests" / "second_assignment", root, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "nbgrader_config.py", root)
    course = Course(root)
    with pytest.raises(SolutionsRefused, match="vec01 is due 2030-06-01"):
        write_solutions(course, "vec01", now=dt.datetime(2030, 6, 1, 23, 58, tzinfo=dt.UTC))
    written = write_solutions(course, "vec01", now=dt.datetime(2030, 6, 2, tzinfo=dt.UTC))
    assert [p.name for p in written] == ["01_dot.ipynb", "02_norm.ipynb"]
    text = {p.stem: "\n".join(c.source for c in nbformat.read(p, as_version=4).cells) for p in written}
    assert "return float(np.sum(u * v))" in text["01_dot"] and "Vectors" in text["01_dot"]
    assert "return float(np.sqrt(dot(v, v)))" in text["02_norm"]
    assert "assert norm(np.array([3.0, 4.0])) == 5.0" in text["02_norm"]
    assert "assert norm(np.array([0.0, 0.0])) == 0.0" not in text["02_norm"]
    assert not any("HIDDEN" in t or "SOLUTION" in t for t in text.values())

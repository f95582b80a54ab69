"""The source notebooks honour the contract; the committed release is exactly what nbgrader makes."""

import json
import re

import pytest

from autograder.grading.nbgrader import run_nbgrader
from autograder.notebooks import (
    defined_names,
    graded_items,
    is_autograded_test,
    is_solution,
    nbgrader_meta,
    read,
)
from tests.conftest import ASSIGNMENT, MANIFEST, copy_course

NOTEBOOKS = sorted(MANIFEST.contract)


def source_nb(repo, name):
    return repo.source(ASSIGNMENT) / f"{name}.ipynb"


def test_manifest_lists_exactly_the_source_notebooks(repo):
    on_disk = sorted(p.stem for p in repo.source(ASSIGNMENT).glob("*.ipynb"))
    assert on_disk == NOTEBOOKS == sorted(repo.manifest(ASSIGNMENT).notebooks)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_contract_name_is_defined_in_a_solution_cell(repo, notebook):
    defined = set()
    for cell in read(source_nb(repo, notebook)).cells:
        if cell.cell_type == "code" and is_solution(cell):
            defined |= defined_names(cell.source)
    assert set(MANIFEST.contract[notebook]) <= defined


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_autograded_grade_id_starts_with_the_name_it_tests(repo, notebook):
    autograded = [i for i in graded_items(source_nb(repo, notebook)) if i.autograded]
    assert autograded, "each notebook has autograded tests"
    for item in autograded:
        assert MANIFEST.name_tested_by(item.grade_id, notebook), item.grade_id
    tested = {MANIFEST.name_tested_by(i.grade_id, notebook) for i in autograded}
    assert tested == set(MANIFEST.contract[notebook]), "every contract name has a test"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_autograded_test_cell_has_a_hidden_block(repo, notebook):
    for cell in read(source_nb(repo, notebook)).cells:
        if is_autograded_test(cell):
            assert "### BEGIN HIDDEN TESTS" in cell.source, nbgrader_meta(cell)["grade_id"]


def readme_points(repo):
    """The points table of the README: notebook -> (autograded, written)."""
    text = (repo.root / "README.md").read_text()
    rows = re.findall(r"^\|\s*`?(\d\d_\w+)`?\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", text, re.M)
    total = re.search(r"^\|\s*\*\*total\*\*\s*\|\s*\*\*([\d.]+)\*\*\s*\|\s*\*\*([\d.]+)\*\*\s*\|", text, re.M)
    assert rows and total, "README has the points table"
    return {nb: (float(a), float(w)) for nb, a, w in rows}, (float(total[1]), float(total[2]))


def test_points_sum_to_the_totals_the_readme_states(repo):
    per_notebook, (auto_total, written_total) = readme_points(repo)
    actual = {}
    for nb in NOTEBOOKS:
        items = list(graded_items(source_nb(repo, nb)))
        actual[nb] = (
            sum(i.points for i in items if i.autograded),
            sum(i.points for i in items if not i.autograded),
        )
    assert actual == per_notebook
    assert sum(a for a, _ in actual.values()) == auto_total
    assert sum(w for _, w in actual.values()) == written_total


@pytest.fixture(scope="module")
def regenerated(repo, tmp_path_factory):
    """The release as `nbgrader generate_assignment` makes it now, from a scratch course."""
    course = copy_course(repo, tmp_path_factory.mktemp("course"), with_release=False)
    run_nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    return course.release(ASSIGNMENT)


@pytest.mark.e2e
def test_committed_release_is_in_sync_with_the_source(repo, regenerated):
    committed = sorted(p.name for p in repo.release(ASSIGNMENT).iterdir())
    assert committed == sorted(p.name for p in regenerated.iterdir())
    for name in committed:
        fresh = (regenerated / name).read_bytes()
        assert (repo.release(ASSIGNMENT) / name).read_bytes() == fresh, (
            f"release/{ASSIGNMENT}/{name} is stale: run `nbgrader generate_assignment {ASSIGNMENT} --force`"
        )


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_release_has_no_solution_hidden_test_reference_or_grader(repo, notebook):
    text = (repo.release(ASSIGNMENT) / f"{notebook}.ipynb").read_text()
    for forbidden in (
        "BEGIN SOLUTION",
        "END SOLUTION",
        "BEGIN HIDDEN TESTS",
        "nnla_ref",
        "autograder",
        "Model answer",
        "Rubric",
    ):
        assert forbidden not in text
    cells = read(source_nb(repo, notebook)).cells
    solution_lines = {
        line.strip()
        for cell in cells
        if is_solution(cell)
        for line in _solution_regions(cell.source)
        if len(line.strip()) > 12
    }
    # Lines that also stand outside solution regions (a plot cell, the prose) are not secrets.
    public_lines = {line.strip() for cell in cells for line in _solution_regions(cell.source, inside=False)}
    released = {
        line.strip()
        for c in json.loads(text)["cells"]
        for line in (c["source"] if isinstance(c["source"], str) else "".join(c["source"])).splitlines()
    }
    leaked = sorted((solution_lines - public_lines) & released)
    assert not leaked, f"solution lines in the release: {leaked[:3]}"


def _solution_regions(source, inside=True):
    """The lines inside (or outside) ### BEGIN/END SOLUTION regions."""
    in_region = False
    for line in source.splitlines():
        if "### BEGIN SOLUTION" in line:
            in_region = True
        elif "### END SOLUTION" in line:
            in_region = False
        elif in_region == inside:
            yield line


@pytest.mark.e2e
def test_nbgrader_validate_passes_on_the_source(repo):
    paths = [str(source_nb(repo, nb)) for nb in NOTEBOOKS]
    done = run_nbgrader(repo, "validate", *paths, check=False)
    assert done.returncode == 0, done.stdout
    assert done.stdout.count("Success! Your notebook passes all the tests.") == len(paths), done.stdout


@pytest.mark.e2e
def test_nbgrader_validate_invert_passes_on_the_release(repo):
    paths = [str(repo.release(ASSIGNMENT) / f"{nb}.ipynb") for nb in NOTEBOOKS]
    done = run_nbgrader(repo, "validate", "--invert", *paths, check=False)
    assert done.returncode == 0, done.stdout
    assert done.stdout.count("Success! The notebook does not pass any tests.") == len(paths), done.stdout

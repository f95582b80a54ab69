"""The course's data on tiny files, in milliseconds: manifests, plug-ins, fingerprints, results."""

import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.course import Course, load_manifest
from autograder.grading.fingerprint import grader_fingerprint, submission_fingerprint
from autograder.grading.results import graded_output, read_results, write_json_atomically
from autograder.plugin import load_plugin
from tests.conftest import REPO

SECOND = Path(__file__).with_name("second_assignment")
MANIFEST = """
id = "tiny"
title = "Tiny"
due = 2030-01-01T00:00:00Z
late_policy = "none"
notebooks = ["01_a"]
[contract]
"01_a" = ["area", "area_of"]
[banned_calls]
"np.sum" = "numpy.sum"
[limits]
cpu_seconds = 5
wall_seconds = 10
memory_mb = 256
[hypothesis]
max_examples = 4
[exercises.area]
max_examples = 2
"""


def tiny_course(root: Path) -> Course:
    (root / "assignments").mkdir(parents=True)
    (root / "assignments" / "tiny.toml").write_text(MANIFEST)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'tiny-course'\n"
    )
    return Course(root)


def test_a_manifest_says_the_contract_limits_and_banned_calls(tmp_path):
    manifest = tiny_course(tmp_path).manifest("tiny")
    assert manifest.contract == {"01_a": ("area", "area_of")}
    assert manifest.exercises == ["area", "area_of"]
    assert manifest.banned_calls == {"np.sum": "numpy.sum"}
    assert manifest.limits_for("area").max_examples == 2 and manifest.limits_for("area_of").max_examples == 4
    assert manifest.name_tested_by("area_of_values", "01_a") == "area_of"  # the longest name it starts with
    assert manifest.name_tested_by("area_values", "01_a") == "area"
    assert manifest.name_tested_by("perimeter_values", "01_a") is None


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (("due = 2030-01-01T00:00:00Z", "due = 2030-01-01T00:00:00"), "time zone"),
        (('late_policy = "none"', 'late_policy = "half"'), "late_policy"),
        (('title = "Tiny"\n', ""), "missing key 'title'"),
    ],
)
def test_a_wrong_manifest_is_refused_with_the_reason(tmp_path, change, said):
    path = tmp_path / "tiny.toml"
    path.write_text(MANIFEST.replace(*change))
    with pytest.raises(ValueError, match=said):
        load_manifest(path)


def test_the_course_finds_its_assignments_and_plugins(tmp_path):
    course = tiny_course(tmp_path)
    assert course.assignments() == ["tiny"]
    assert course.plugin("tiny") == tmp_path / "assignments" / "tiny"
    with pytest.raises(FileNotFoundError, match="no judge plug-in"):
        load_plugin(course, "tiny")


def test_a_plugin_is_found_from_the_assignment_id(tmp_path):
    shutil.copytree(SECOND, tmp_path / "course")
    plugin = load_plugin(Course(tmp_path / "course"), "vec01")
    assert sorted(plugin.suites) == ["01_dot", "02_norm"]
    assert [p.grade_id for p in plugin.suite_for("02_norm").properties] == ["norm_values"]
    assert [m.id for m in plugin.suite_for("02_norm").misconceptions] == ["forgets-sqrt"]
    assert plugin.suite_for("03_missing") is None
    assert plugin.given == "" and plugin.demo_students() == []
    assert load_plugin(Course(tmp_path / "course"), "vec01") is plugin  # imported once per process


def test_ch177s_plugin_gives_its_activations_and_demo_class():
    plugin = load_plugin(Course(REPO), "ch177")
    assert "def relu(z)" in plugin.given and len(plugin.demo_students()) == 12
    assert set(plugin.suites) == set(plugin.manifest.notebooks)


def test_the_fingerprint_changes_with_what_decides_a_grade_only(tmp_path):
    course = Course(tmp_path / "course")
    shutil.copytree(SECOND, course.root)
    (course.root / "nbgrader_config.py").write_text("c = get_config()\n")
    first = grader_fingerprint(course, "vec01")
    assert grader_fingerprint(course, "vec01") == first  # the same files, the same fingerprint
    (course.source("vec01") / "README.md").write_text("# the students' README, regenerated\n")
    manifest = course.root / "assignments" / "vec01.toml"
    guides = "".join(
        f'\n[notebook."{nb}"]\nminutes = 20\nobjectives = ["{nb}"]\n' for nb in ("01_dot", "02_norm")
    )
    manifest.write_text(manifest.read_text() + guides)
    assert grader_fingerprint(course, "vec01") == first  # what only the README reads decides nothing
    manifest.write_text(manifest.read_text().replace('late_policy = "none"', 'late_policy = "zero"'))
    assert grader_fingerprint(course, "vec01") != first
    second = grader_fingerprint(course, "vec01")
    suite = course.plugin("vec01") / "suites" / "norm.py"
    suite.write_text(suite.read_text() + "\n# a change\n")
    assert grader_fingerprint(course, "vec01") != second
    folder = course.submitted("ada", "vec01")
    folder.mkdir(parents=True)
    (folder / "01_dot.ipynb").write_text("{}")
    before = submission_fingerprint(course, "ada", "vec01", first)
    (folder / "01_dot.ipynb").write_text("{ }")
    assert submission_fingerprint(course, "ada", "vec01", first) != before


def test_results_are_written_whole_or_not_at_all(tmp_path):
    course = Course(tmp_path)
    path = course.autograded("ada", "vec01") / "results.json"
    assert read_results(course, "vec01", "ada") is None
    write_json_atomically(path, {"score": 1})
    assert read_results(course, "vec01", "ada") == {"score": 1}
    path.write_text('{"score": ')  # a reader must never see this; a broken file reads as none
    assert read_results(course, "vec01", "ada") is None
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]
    path.unlink()  # written by hand: every results.json left under pytest's folders must be valid


def test_a_graded_cell_says_the_judges_verdict_or_what_it_printed():
    judged = {
        "metadata": {"nnla": {"score": 1}},
        "outputs": [
            {"output_type": "stream", "name": "stdout", "text": "dot_values: 1 / 2 points\n"},
            {"output_type": "execute_result", "data": {"text/plain": "1.0"}, "metadata": {}},
        ],
    }
    failed = {"metadata": {}, "outputs": [{"output_type": "error", "ename": "AssertionError", "evalue": ""}]}
    assert graded_output(nbformat.from_dict(judged)) == "dot_values: 1 / 2 points"
    assert graded_output(nbformat.from_dict(failed)) == "AssertionError"
    assert graded_output(nbformat.from_dict({"metadata": {}, "outputs": []})) == "passed"


def test_a_due_date_with_an_offset_is_kept_in_the_gradebook_as_the_same_instant_in_utc():
    import datetime as dt

    from autograder.grading.nbgrader import gradebook_time

    pacific = dt.datetime(2026, 12, 14, 15, 59, tzinfo=dt.timezone(dt.timedelta(hours=-8)))
    assert gradebook_time(pacific) == dt.datetime(2026, 12, 14, 23, 59)
    assert gradebook_time(pacific).tzinfo is None

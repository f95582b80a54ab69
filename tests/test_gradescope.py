"""The Gradescope autograder as Gradescope runs it: `nnla gradescope` builds the zip; it is
unpacked into a stand-in for /autograder, setup.sh installs its pinned requirements into a fresh
venv, then run_autograder grades one submission at a time and writes results/results.json."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from autograder.gradescope.package import build_autograder_zip
from autograder.outputs.feedback import hidden_test_lines
from autograder.submissions import full_solution, write_submission
from tests.conftest import (
    ASSIGNMENT,
    FULL_MARKS,
    MANIFEST,
    REPO,
    ROOT_WITHOUT_NAMESPACES,
    WITHOUT_USER_NAMESPACES,
    assert_valid_results,
    demo_students,
    needs_isolation,
)

pytestmark = pytest.mark.e2e

AUTOGRADED = sum(FULL_MARKS.values())
# The hostile submission solves every notebook but the first, whose answer is right only if
# the attack read the grader's files.
HOSTILE_SCORE = AUTOGRADED - FULL_MARKS["01_param_count"]
MISSING = "03_stored_activations"  # left out of the buggy submission
DUE = "2026-12-14T15:59:00.000000-08:00"  # Gradescope writes times with the course's offset
ON_TIME = "2026-12-10T09:30:12.123456-08:00"
LATE = "2026-12-16T08:00:00.000000-08:00"

# Reads the grader's files where an attacker who knows Gradescope's layout would look, answers
# right only if that worked, and forges the results file.
HOSTILE = """
import glob, json, os
stolen = []
for pattern in ("{root}/source/course/nnla_ref/*.py", "{root}/nnla-work/nnla_ref/*.py",
                "{root}/nnla-work/assignments/*/suites/*.py", "{root}/source/course/**/*.py"):
    for path in glob.glob(pattern, recursive=True):
        try:
            stolen.append(open(path).read())
        except OSError:
            pass
try:
    import nnla_ref
    stolen.append("imported")
except ImportError:
    pass
for target in ("{root}/results/results.json", "/autograder/results/results.json"):
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            json.dump({"score": 1000, "tests": []}, f)
    except OSError:
        pass

def count_params(layer_sizes):
    if stolen:
        return sum(m * (n + 1) for n, m in zip(layer_sizes, layer_sizes[1:]))
    return -1
"""


def metadata(created_at: str = ON_TIME, total_points: str = "34.0") -> dict:
    """submission_metadata.json as Gradescope writes it (the fields nnla reads, and others)."""
    return {
        "id": 123456,
        "created_at": created_at,
        "assignment": {
            "id": 25828,
            "title": "ch177",
            "due_date": DUE,
            "late_due_date": None,
            "total_points": total_points,
        },
        "submission_method": "upload",
        "users": [
            {
                "email": "student@example.com",
                "id": 1234,
                "name": "Student User",
                "assignment": {"due_date": DUE},
            }
        ],
        "previous_submissions": [],
    }


@pytest.fixture(scope="module")
def autograder_zip(repo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    done = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "gradescope", ASSIGNMENT, "--out", str(out)],
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_the_zip_holds_the_scripts_pinned_requirements_and_the_grader_but_nothing_of_students(
    autograder_zip, repo, tmp_path
):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = zf.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        requirements = zf.read("requirements.txt").decode().split()
    for script in ("setup.sh", "run_autograder"):
        assert script in names and modes[script] & stat.S_IXUSR, script
    assert requirements and all(re.fullmatch(r"[\w.-]+(==|<=)[\w.+!-]+", line) for line in requirements)
    pinned = {re.split("==|<=", line)[0].lower() for line in requirements}
    assert {"numpy", "matplotlib", "hypothesis", "nbgrader", "ipykernel"} <= pinned
    for needed in (
        "course/nbgrader_config.py",
        f"course/assignments/{ASSIGNMENT}.toml",
        "course/nnla_ref/__init__.py",
        "course/autograder/gradescope/run.py",
        *(f"course/source/{ASSIGNMENT}/{nb}.ipynb" for nb in MANIFEST.notebooks),
        *(f"course/release/{ASSIGNMENT}/{nb}.ipynb" for nb in MANIFEST.notebooks),
    ):
        assert needed in names, needed
    forbidden = ("gradebook.db", "submitted/", "autograded/", "feedback/", ".venv/", "__pycache__", "tests/")
    assert not [n for n in names if any(part in n for part in forbidden)]
    # The same course gives the same bytes.
    again = build_autograder_zip(repo, ASSIGNMENT, tmp_path / "again.zip")
    assert again.read_bytes() == autograder_zip.read_bytes()


@pytest.fixture(scope="module")
def gradescope_root(autograder_zip):
    """/autograder after Gradescope built the image: the zip in source/, setup.sh run from there
    in a fresh venv, run_autograder copied to the root. Under /tmp and open to all, as /autograder
    is, so that a sandbox's own uid can run Python from the venv."""
    root = Path(tempfile.mkdtemp(prefix="nnla-gradescope-"))
    os.chmod(root, 0o755)
    try:
        with zipfile.ZipFile(autograder_zip) as zf:
            zf.extractall(root / "source")
            for info in zf.infolist():
                os.chmod(root / "source" / info.filename, (info.external_attr >> 16) or 0o644)
        # A Python every uid may run (a sandbox's uid cannot enter root's home, where pyenv lives).
        python = python_for_all()
        done = subprocess.run(
            ["bash", root / "source" / "setup.sh"],
            env={**os.environ, "NNLA_PYTHON": python},  # the root is the folder above source/
            cwd=root / "source",
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def python_for_all() -> str:
    """A Python of at least 3.11 that every uid may run, as /usr/bin/python3 on Gradescope (a
    sandbox's uid cannot enter root's home, where pyenv lives); else this one's base Python."""
    folders = [*os.environ.get("PATH", "").split(os.pathsep), "/usr/local/bin", "/usr/bin"]
    for name in ("python3.13", "python3.12", "python3.11"):
        for folder in folders:
            python = shutil.which(name, path=folder)
            if python and usable_by_all(python):
                return python
    return sys._base_executable


def usable_by_all(python: str) -> bool:
    """Whether any uid may run this Python: every folder up to it can be passed through."""
    path = Path(os.path.realpath(python))
    return all(stat.S_IMODE(p.stat().st_mode) & stat.S_IXOTH for p in [path, *path.parents])


def run_autograder(
    root: Path, files: dict[str, bytes | str], meta: dict | None, prefix=(), script: str = "run_autograder"
) -> tuple[dict, str]:
    """Put a submission where Gradescope does, run run_autograder, return results.json and stdout."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    for name, content in files.items():
        path = root / "submission" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    (root / "submission").mkdir(exist_ok=True)
    meta_file = root / "submission_metadata.json"
    meta_file.unlink(missing_ok=True)
    if meta is not None:
        meta_file.write_text(json.dumps(meta))
    done = subprocess.run(
        [*prefix, str(root / script)],
        cwd=root,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((root / "results" / "results.json").read_text()), done.stdout


def notebooks(answers: dict, folder: str = "", tmp: Path | None = None) -> dict[str, bytes]:
    """Submission files: the release notebooks filled with `answers`, under `folder`."""
    with tempfile.TemporaryDirectory() as scratch:
        write_submission(Path(scratch), REPO / "release" / ASSIGNMENT, REPO / "source" / ASSIGNMENT, answers)
        return {f"{folder}{p.name}": p.read_bytes() for p in sorted(Path(scratch).glob("*.ipynb"))}


def buggy_student():
    return next(s for s in demo_students() if 0 < sum(s.expected.values()) < AUTOGRADED)


def submissions(root: Path) -> dict[str, tuple[dict[str, bytes], dict]]:
    everything = full_solution(REPO / "source" / ASSIGNMENT)
    correct = notebooks(everything, "My Drive/ch177/")
    renamed = "My Drive/ch177/02_batch_forms.ipynb"
    correct["My Drive/ch177/02_batch_forms (1).ipynb"] = correct.pop(renamed)
    buggy = notebooks(buggy_student().answers)  # and notebook 03 missing
    del buggy["03_stored_activations.ipynb"]
    attack = {**everything, "01_param_count": {"count_params_solution": HOSTILE.replace("{root}", str(root))}}
    hostile = notebooks(attack)
    late = notebooks(everything)
    late["timestamp.txt"] = b"2026-12-01 10:00:00 UTC"  # the student's own claim is not trusted
    return {
        "correct": (correct, metadata()),
        "buggy": (buggy, None),
        "hostile": (hostile, metadata(total_points="50")),
        "late": (late, metadata(created_at=LATE)),
    }


@pytest.fixture(scope="module")
def graded(gradescope_root) -> dict[str, tuple[dict, str]]:
    return {
        # Gradescope runs its copy at the root; the zip's own, in source/, finds the same root.
        name: run_autograder(
            gradescope_root,
            files,
            meta,
            script="source/run_autograder" if name == "buggy" else "run_autograder",
        )
        for name, (files, meta) in submissions(gradescope_root).items()
    }


@needs_isolation
def test_every_results_file_is_valid_against_gradescopes_specification(graded):
    for results, _ in graded.values():
        assert_valid_results(results)
        assert results["extra_data"]["isolation"]["level"] == "full"


@needs_isolation
def test_scores_are_those_of_nnla_autograde(graded):
    scores = {name: results["score"] for name, (results, _) in graded.items()}
    assert scores == {
        "correct": AUTOGRADED,
        "buggy": pytest.approx(sum(buggy_student().expected.values()) - buggy_student().expected[MISSING]),
        "hostile": HOSTILE_SCORE,
        "late": 0.0,
    }


@needs_isolation
def test_what_was_wrong_with_a_submission_is_said_where_students_see_it(graded):
    correct = graded["correct"][0]["output"]
    assert f"Autograded: {AUTOGRADED:g} of {AUTOGRADED:g} points" in correct
    assert "found in My Drive/ch177/ and graded from there" in correct
    assert "graded My Drive/ch177/02_batch_forms (1).ipynb in its place" in correct
    missing = graded["buggy"][0]
    assert f"{MISSING}.ipynb: was not submitted" in missing["output"]
    assert all(
        t["output"].startswith(f"{MISSING}.ipynb: was not submitted")
        for t in missing["tests"]
        if t["extra_data"]["notebook"] == MISSING
    )
    late = graded["late"][0]
    assert "late" in late["output"].lower() and "penalty" in late["output"].lower()
    assert late["extra_data"]["late_penalty"] == AUTOGRADED


@needs_isolation
def test_the_instructor_is_told_the_due_date_used_and_whether_the_points_agree(graded):
    stdout = graded["correct"][1]
    assert "Due date: 2026-12-14 23:59 UTC, Gradescope's for this submission." in stdout
    assert "Submitted: 2026-12-10 17:30 UTC." in stdout
    assert "34 points, is the notebooks'" in stdout
    assert "WARNING: Gradescope's total is 50 points" in graded["hostile"][1]


@needs_isolation
def test_without_metadata_the_submission_is_graded_on_time_against_the_manifests_due_date(graded):
    results, stdout = graded["buggy"]
    assert results["extra_data"]["late_penalty"] == 0
    assert "the assignment manifest's (Gradescope gave none)" in stdout
    assert "taken as on time" in stdout


@needs_isolation
def test_written_answers_are_listed_with_their_text_for_gradescopes_manual_questions(graded):
    results = graded["correct"][0]
    written = results["extra_data"]["manually_graded"]
    assert written and all(w["answer"] and w["score"] is None for w in written)
    assert {t["name"] for t in results["tests"]}.isdisjoint(w["name"] for w in written)


@needs_isolation
def test_no_hidden_test_or_reference_text_reaches_any_output(graded, repo):
    secrets = hidden_test_lines(repo, ASSIGNMENT)
    for module in sorted((REPO / "nnla_ref").glob("*.py")) + sorted(repo.plugin(ASSIGNMENT).rglob("*.py")):
        secrets |= {s for line in module.read_text().splitlines() if len(s := line.strip()) > 30}
    released = "\n".join(p.read_text() for p in sorted((REPO / "release" / ASSIGNMENT).glob("*.ipynb")))
    secrets = {s for s in secrets if s not in released}
    assert len(secrets) > 50
    for name, (results, stdout) in graded.items():
        shown = json.dumps(results, ensure_ascii=False) + stdout
        assert not [s for s in secrets if s in shown], name


@needs_isolation
def test_a_hostile_submission_reads_nothing_and_forges_nothing(graded, gradescope_root):
    results, _ = graded["hostile"]
    assert results["score"] == HOSTILE_SCORE
    assert all(t["score"] == 0 for t in results["tests"] if t["extra_data"]["notebook"] == "01_param_count")
    # Each run writes results.json afresh; the forged one never outlives it.
    assert json.loads((gradescope_root / "results" / "results.json").read_text())["score"] != 1000
    for locked in ("source", "results", "submission", "nnla-work"):
        assert stat.S_IMODE((gradescope_root / locked).stat().st_mode) == 0o700, locked


@pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root, as Gradescope runs: a container's root without namespaces"
)
def test_where_the_container_refuses_namespaces_student_code_runs_as_its_own_uid_and_reads_nothing(
    gradescope_root,
):
    if not usable_by_all(str(gradescope_root / "nnla-venv" / "bin" / "python")):
        pytest.skip("no Python here that every uid may run (as /usr/bin/python3 on Gradescope)")
    files, meta = submissions(gradescope_root)["hostile"]
    results, stdout = run_autograder(gradescope_root, files, meta, prefix=ROOT_WITHOUT_NAMESPACES)
    assert_valid_results(results)
    record = results["extra_data"]["isolation"]
    assert record["level"] != "full" and "no network" in record["missing"]
    assert record["protections"]["unprivileged user without capabilities"]
    assert "isolation: resource limits only" in stdout
    # The other notebooks are right: student code ran there, and the attack gained nothing.
    assert results["score"] == HOSTILE_SCORE


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: a container's root that maps no other uid")
def test_where_no_uid_can_be_given_to_student_code_grading_is_refused(gradescope_root):
    """Root in a user namespace that maps root alone and refuses new namespaces (a rootless
    container): student code would run as root, so nothing is graded and no results are written."""
    files, meta = submissions(gradescope_root)["correct"]
    with pytest.raises(AssertionError, match="nnla refuses to grade"):
        run_autograder(gradescope_root, files, meta, prefix=WITHOUT_USER_NAMESPACES)
    assert not (gradescope_root / "results" / "results.json").exists()

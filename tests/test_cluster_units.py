"""What travels between the coordinator and a Dask worker, without a cluster: the course, a
student's submitted folder and the graded files that come back."""

import os

import pytest

from autograder.course import Course
from autograder.grading.cluster import ClusterPool, course_archive, submission_files
from autograder.grading.cluster_worker import unpack, write_submission
from autograder.grading.fingerprint import grader_fingerprint
from autograder.grading.intake import MAX_EXTRA_FILE_BYTES
from tests.conftest import ASSIGNMENT


def test_a_worker_unpacking_the_course_computes_the_coordinators_grader_fingerprint(repo, tmp_path):
    unpack(course_archive(repo, ASSIGNMENT), tmp_path / "course")
    copy = Course(tmp_path / "course")
    assert grader_fingerprint(copy, ASSIGNMENT) == grader_fingerprint(repo, ASSIGNMENT)
    assert copy.manifest(ASSIGNMENT).notebooks == repo.manifest(ASSIGNMENT).notebooks
    assert sorted(p.name for p in copy.release(ASSIGNMENT).iterdir()) == sorted(
        p.name for p in repo.release(ASSIGNMENT).iterdir()
    )
    assert not list((tmp_path / "course").rglob("__pycache__"))
    assert not (tmp_path / "course" / "submitted").exists()  # nobody's work goes to every worker


def test_a_changed_hidden_suite_changes_the_fingerprint_a_worker_computes(repo, tmp_path):
    unpack(course_archive(repo, ASSIGNMENT), tmp_path / "course")
    copy = Course(tmp_path / "course")
    suite = next((copy.plugin(ASSIGNMENT) / "suites").glob("*.py"))
    suite.write_text(suite.read_text() + "\n# changed\n")
    assert grader_fingerprint(copy, ASSIGNMENT) != grader_fingerprint(repo, ASSIGNMENT)


def test_a_submitted_folder_is_rebuilt_on_the_worker_as_it_was(tmp_path):
    submitted = tmp_path / "submitted"
    (submitted / "sub" / "deeper").mkdir(parents=True)
    (submitted / "01_param_count.ipynb").write_bytes(b'{"cells": []}')
    (submitted / "sub" / "deeper" / "data.csv").write_bytes(b"1,2\n")
    (submitted / "timestamp.txt").write_bytes(b"\xef\xbb\xbf2026-11-30 10:00:00\r\n")
    os.symlink("/etc/passwd", submitted / "passwords.ipynb")
    os.symlink("../01_param_count.ipynb", submitted / "sub" / "again.ipynb")
    with open(submitted / "huge.bin", "wb") as f:
        f.truncate(MAX_EXTRA_FILE_BYTES + 1)  # sparse: too large to be graded, not to be sent
    files = submission_files(submitted)
    assert files["huge.bin"] == MAX_EXTRA_FILE_BYTES + 1  # its size only
    rebuilt = tmp_path / "rebuilt"
    write_submission(rebuilt, files)
    for path in submitted.rglob("*"):
        copy = rebuilt / path.relative_to(submitted)
        assert copy.is_symlink() == path.is_symlink(), path
        if path.is_symlink():
            assert os.readlink(copy) == os.readlink(path)
        elif path.is_file():
            assert copy.stat().st_size == path.stat().st_size
            if path.name != "huge.bin":
                assert copy.read_bytes() == path.read_bytes()
    assert sorted(p.relative_to(rebuilt) for p in rebuilt.rglob("*")) == sorted(
        p.relative_to(submitted) for p in submitted.rglob("*")
    )


def test_a_submitted_file_cannot_be_written_outside_its_folder(tmp_path):
    with pytest.raises(ValueError, match="outside its folder"):
        write_submission(tmp_path / "student", {"../escaped.txt": b"x"})
    assert not (tmp_path / "escaped.txt").exists()


def test_the_coordinator_writes_only_the_students_files_and_results_json_last(repo, tmp_path):
    course = Course(tmp_path)
    pool = ClusterPool(course, ASSIGNMENT, "tcp://unused:8786", 1, "0" * 64)
    folder = f"autograded/ann/{ASSIGNMENT}"
    outcome = {
        "reply": {"student": "ann", "ok": True},
        "files": {
            f"{folder}/01_param_count.ipynb": b"{}",
            f"{folder}/results.json": b'{"score": 1}',
            f"logs/{ASSIGNMENT}/ann.log": b"log",
            f"autograded/bob/{ASSIGNMENT}/results.json": b'{"score": 0}',  # another student's
            "nbgrader_config.py": b"c = 1",
        },
        "modes": {},
    }
    outcome["modes"] = dict.fromkeys(outcome["files"], 0o444)
    assert pool._store("ann", outcome) == {"student": "ann", "ok": True}
    assert (tmp_path / folder / "results.json").read_bytes() == b'{"score": 1}'
    assert (tmp_path / folder / "01_param_count.ipynb").stat().st_mode & 0o777 == 0o444
    assert (tmp_path / "logs" / ASSIGNMENT / "ann.log").read_bytes() == b"log"
    assert not (tmp_path / "autograded" / "bob").exists()
    assert not (tmp_path / "nbgrader_config.py").exists()

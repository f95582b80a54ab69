"""Kernels forked from the zygote grade exactly as fresh ones: the demo class, the whole accuracy
corpus and the whole hostile corpus, graded both ways, give the same results.json `tests`."""

import importlib
import shutil

import pytest

from autograder.course import Course
from autograder.demo.run import build_demo_course
from autograder.grading.run import grade_class
from tests.conftest import ASSIGNMENT, REPO, demo_students, needs_isolation
from tests.corpus import MODULES
from tests.hostile import HOSTILE, fill, shorten_limits, submit

pytestmark = [pytest.mark.e2e, needs_isolation]


def accuracy_students() -> dict[str, dict[str, dict]]:
    """The accuracy corpus as students: the k-th entry of every notebook goes to student k."""
    students: dict[str, dict[str, dict]] = {}
    for notebook, module in MODULES.items():
        corpus = importlib.import_module(f"tests.corpus.{module}")
        entries = [*corpus.CORRECT.values(), *(bug.answers for bug in corpus.BUGGY.values())]
        for k, answers in enumerate(entries):
            students.setdefault(f"accuracy-{k:02d}", {})[notebook] = answers
    return students


@pytest.fixture(scope="module")
def graded_twice(repo, tmp_path_factory):
    """One class graded with forked kernels and with fresh ones, each in a course of its own."""
    warm = build_demo_course(repo, tmp_path_factory.mktemp("warm") / "course", ASSIGNMENT)
    shorten_limits(warm)
    hostile = {f"hostile {name}": fill(answers, warm, REPO, 9) for name, answers in HOSTILE.items()}
    corpora = {**accuracy_students(), **hostile}
    for student, answers in corpora.items():
        submit(warm, student, answers)
    fresh = Course(tmp_path_factory.mktemp("fresh") / "course")
    shutil.copytree(warm.root, fresh.root)
    with open(fresh.root / "nbgrader_config.py", "a") as f:
        f.write("\nc.SandboxedKernelManager.warm_start = False\n")
    students = [s.id for s in demo_students()] + list(corpora)
    return {
        name: (course, grade_class(course, ASSIGNMENT, students, jobs=2))
        for name, course in (("warm", warm), ("fresh", fresh))
    }


def test_forked_kernels_give_the_same_scores_outputs_and_tags_as_fresh_ones(graded_twice):
    (_, warm), (_, fresh) = graded_twice["warm"], graded_twice["fresh"]
    assert set(warm) == set(fresh)
    assert len(warm) == len(demo_students()) + len(accuracy_students()) + len(HOSTILE)
    different = [student for student in warm if warm[student]["tests"] != fresh[student]["tests"]]
    assert different == [], "\n".join(
        f"{student} / {w['name']}:\n  forked: {w['output'][-600:]!r}\n  fresh:  {f['output'][-600:]!r}"
        for student in different
        for w, f in zip(warm[student]["tests"], fresh[student]["tests"])
        if w != f
    )
    assert {r["score"] for r in warm.values()} != {0.0}  # the run graded something


def test_the_log_says_which_kernels_graded(graded_twice):
    logs = {
        name: "".join(path.read_text() for path in (course.root / "logs").rglob("*.log"))
        for name, (course, _) in graded_twice.items()
    }
    assert "kernels fork from a warm zygote" in logs["warm"]
    assert "kernels fork from a warm zygote" not in logs["fresh"]

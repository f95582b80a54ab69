"""A term as it runs on a shared machine, every step the real tool, with real Unix users (as root):
the instructor releases ch177 through the course's exchange; four students fetch; ann submits
correct work, ben buggy work, cat twice (the later counts) and dan after the due date; the
instructor collects and autogrades; a grader hand-grades ann's written answer in formgrader, in a
browser; the report, results.json, nbgrader's grades.csv and the feedback all show that score;
each student fetches their own feedback and nothing of anyone else's.
"""

import csv
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from autograder.submissions import write_submission
from tests.conftest import ASSIGNMENT, demo_students, needs_browser, needs_isolation
from tests.test_exchange_as_users import Student, instructor, output, running_exchange

pytestmark = [
    pytest.mark.e2e,
    needs_browser,
    needs_isolation,
    pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users for the students, so runs as root only"),
]

ANN, BEN, CAT, DAN = ("nnla-ex-ann", "nnla-ex-ben", "nnla-ex-cat", "nnla-ex-dan")
NOTEBOOK, ANSWER = "02_batch_forms", "forms_agree_answer"  # a written answer of 2 points
WRITTEN = "(W X^T)^T = X W^T since a transpose reverses a product; b is added to every row. ANN-WROTE-THIS"
SCORE, COMMENT = 1.5, "Right rule; say how b broadcasts over the rows. GRADER-COMMENT"
WAIT = 60_000  # ms, for anything to appear on a slow machine


def answers(demo_id: str) -> dict:
    return next(s.answers for s in demo_students() if s.id == demo_id)


def hand_in(student: Student, course, demo_id: str, written: str = "") -> None:
    """Fill the student's fetched notebooks with a demo student's code (and `written` as the
    written answer of 02), as that student, then submit with plain nbgrader."""
    folder = student.home / ASSIGNMENT
    write_submission(folder, course.release(ASSIGNMENT), course.source(ASSIGNMENT), answers(demo_id))
    path = folder / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == ANSWER:
            cell.source = written or f"My own words, {student.name}."
    nbformat.write(nb, path)
    subprocess.run(["chown", "-R", f"{student.name}:", str(folder)], check=True)
    done = student.nbgrader("submit", ASSIGNMENT)
    assert done.returncode == 0, output(done)


def set_due(course, due: dt.datetime) -> None:
    manifest = course.root / "assignments" / f"{ASSIGNMENT}.toml"
    text = re.sub(r"(?m)^due = .*$", f"due = {due.strftime('%Y-%m-%dT%H:%M:%SZ')}", manifest.read_text())
    manifest.write_text(text)


def nnla(course, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "autograder.cli", *argv], cwd=course.root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def grade_in_formgrader(page, server, student: str) -> None:
    """As a grader: Manage Assignments, the assignment's submissions, the student, the notebook;
    read the rubric under the written answer, type a score and a comment, and leave each field."""
    page.goto(server.address("/formgrader"), wait_until="domcontentloaded")
    page.wait_for_url("**/formgrader/manage_assignments", timeout=WAIT)
    row = page.locator("tr", has=page.locator("td", has_text=re.compile(f"^{ASSIGNMENT}$")))
    row.locator("td.num-submissions a").click(timeout=WAIT)
    page.wait_for_url(f"**/formgrader/manage_submissions/{ASSIGNMENT}", timeout=WAIT)
    row = page.locator("tr", has=page.locator("td", has_text=re.compile(f"^{student}$")))
    row.get_by_role("link").first.click(timeout=WAIT)
    page.wait_for_url(f"**/formgrader/manage_students/{student}/{ASSIGNMENT}", timeout=WAIT)
    page.get_by_role("link", name=NOTEBOOK, exact=True).click(timeout=WAIT)
    page.wait_for_url(re.compile(r"/formgrader/submissions/[^/]+/?$"), timeout=WAIT)
    page.wait_for_function(
        "() => window.formgrader?.grades?.loaded && window.formgrader?.comments?.loaded", timeout=WAIT
    )
    page.get_by_text("ANN-WROTE-THIS").wait_for(timeout=WAIT)
    page.get_by_role("heading", name="For graders: model answer and rubric").wait_for(timeout=WAIT)
    assert page.get_by_text("Rubric (2 points).").count() >= 1
    for field, value, kind in (
        (page.locator(f"input.score#{ANSWER}"), str(SCORE), "grade"),
        (page.locator(f"textarea.comment#{ANSWER}-comment"), COMMENT, "comment"),
    ):
        with page.expect_response(
            lambda r, kind=kind: r.request.method == "PUT" and f"/formgrader/api/{kind}/" in r.url,
            timeout=WAIT,
        ) as put:
            field.fill(value)
            field.press("Tab")  # formgrader saves a field when it is left
        assert put.value.ok


def test_a_term_through_the_exchange_formgrader_and_feedback(repo, jupyter_server, browser):
    top = Path(tempfile.mkdtemp(prefix="nnla-term-"))  # pytest's own folders are closed to others
    with running_exchange(repo, top, [ANN, BEN, CAT, DAN]) as (course, students, _):
        ann, ben, cat, dan = (students[s] for s in (ANN, BEN, CAT, DAN))
        assert instructor(course, "release_assignment", ASSIGNMENT).returncode == 0
        for student in students.values():
            done = student.nbgrader("fetch_assignment", ASSIGNMENT, "--course", "nnla")
            assert done.returncode == 0, output(done)

        hand_in(ann, course, "alice", WRITTEN)  # correct
        hand_in(ben, course, "dave")  # counts weights only: loses 01's 3 points
        hand_in(cat, course, "erin")  # the row form without its transpose ...
        (cat.home / ASSIGNMENT / "timestamp.txt").write_text("2000-01-01 00:00:00.000000 UTC")
        hand_in(cat, course, "kim")  # ... then correct, and this one counts; the backdating is ignored
        refused = cat.nbgrader("submit", ASSIGNMENT, "--student", ANN)
        assert refused.returncode != 0 and "cannot act as" in output(refused)

        due = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=1)
        time.sleep((due - dt.datetime.now(dt.UTC)).total_seconds() + 0.5)
        hand_in(dan, course, "alice")  # correct, but after the due date: the late policy is "zero"
        set_due(course, due)

        assert instructor(course, "collect", ASSIGNMENT).returncode == 0
        nnla(course, "autograde", ASSIGNMENT, "--jobs", "2")

        server = jupyter_server(course.root)
        page = server.new_page(browser)
        grade_in_formgrader(page, server, ANN)
        page.context.close()

        nnla(course, "report", ASSIGNMENT)
        nnla(course, "feedback", ASSIGNMENT)
        results = {
            s: json.loads((course.root / "autograded" / s / ASSIGNMENT / "results.json").read_text())
            for s in students
        }
        autograded = {s: sum(t["score"] for t in r["tests"]) for s, r in results.items()}
        assert autograded == {ANN: 27, BEN: 24, CAT: 27, DAN: 27}, autograded
        manual = results[ANN]["extra_data"]["manually_graded"]
        written = next(m for m in manual if ANSWER in json.dumps(m))
        assert (written["score"], written["comment"]) == (SCORE, COMMENT)
        assert results[ANN]["score"] == 27 + SCORE
        assert results[DAN]["score"] == 0  # late: zero

        exported = course.root.parent / "grades.csv"
        assert instructor(course, "export", "--to", str(exported)).returncode == 0
        with open(exported, newline="", encoding="utf-8") as f:
            rows = {r["student_id"]: r for r in csv.DictReader(f)}
        assert float(rows[ANN]["score"]) == results[ANN]["score"] == 28.5
        assert float(rows[DAN]["score"]) == 0.0
        report = (course.root / "reports" / ASSIGNMENT / "report.html").read_text(encoding="utf-8")
        assert "28.5" in report

        assert instructor(course, "release_feedback", ASSIGNMENT).returncode == 0
        for name, student in students.items():
            done = student.nbgrader("fetch_feedback", ASSIGNMENT, "--course", "nnla")
            assert done.returncode == 0, output(done)
            pages = list((student.home / ASSIGNMENT / "feedback").rglob("*.html"))
            assert {p.name for p in pages} >= {"summary.html", f"{NOTEBOOK}.html"}
            text = "".join(p.read_text(encoding="utf-8") for p in pages)
            assert all(other not in text for other in students if other != name)
            assert ("GRADER-COMMENT" in text) == (name == ANN)
            assert ("after the due date" in text) == (name == DAN)  # the late policy, in words
    shutil.rmtree(top, ignore_errors=True)

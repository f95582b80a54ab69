"""The instructor's pages in a real browser, on a class of two graded by `nnla autograde`:
hand-grading a written answer in nbgrader's formgrader, and the report of `nnla report`.

Screenshots of both are left for a developer to look at in
`/tmp/pytest-of-$USER/pytest-current/screenshots/` (pytest's own scratch folder, kept for the
last three runs).
"""

import re
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.grading.nbgrader import gradebook_url
from autograder.submissions import write_submission
from tests.browser import watch
from tests.conftest import ASSIGNMENT, copy_course, demo_students, needs_browser, needs_isolation

pytestmark = [pytest.mark.e2e, needs_browser, needs_isolation]

NOTEBOOK = "02_batch_forms"
ANSWER = "forms_agree_answer"  # the written answer of 02_batch_forms, 2 points
GRADED = "erin"  # the row form without its transpose: loses the autograded points of 02 only
STUDENTS = ("alice", GRADED)
# erin's written answer: her own words, nothing of the model answer or the rubric.
WRITTEN = "Transposing a product reverses it, so (W X^T)^T is X W^T; b is added to every row. ERIN-WROTE-THIS"
SCORE, COMMENT = "1.5", "Right rule, but say how b broadcasts over the B rows. GRADER-COMMENT"
GRADER_NOTES = "For graders: model answer and rubric"  # a read-only cell after each written answer
RUBRIC = "Rubric (2 points)."  # from the solution region of the answer cell in source/
WAIT = 60_000  # ms; generous, for slow machines: every wait is for something to appear


@pytest.fixture(scope="module")
def graded(repo, tmp_path_factory):
    """A course with alice (full solutions) and erin graded by `nnla autograde`."""
    course = copy_course(repo, tmp_path_factory.mktemp("pages") / "course")
    answers = {s.id: s.answers for s in demo_students() if s.id in STUDENTS}
    for student in STUDENTS:
        folder = course.submitted(student, ASSIGNMENT)
        write_submission(folder, course.release(ASSIGNMENT), course.source(ASSIGNMENT), answers[student])
        path = folder / f"{NOTEBOOK}.ipynb"
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == ANSWER:
                cell.source = WRITTEN  # a demo answer is the whole source cell, rubric included
        nbformat.write(nb, path)
    nnla(course, "autograde", ASSIGNMENT, "--jobs", "2")
    return course


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    return tmp_path_factory.mktemp("screenshots", numbered=False)


def nnla(course, *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "autograder.cli", *argv], cwd=course.root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def stored_grade(course):
    """erin's manual score and comment for the written answer, as nbgrader's gradebook has them."""
    with Gradebook(gradebook_url(course), course_id="nnla") as gb:
        grade = gb.find_grade(ANSWER, NOTEBOOK, ASSIGNMENT, GRADED)
        comment = gb.find_comment(ANSWER, NOTEBOOK, ASSIGNMENT, GRADED)
        return grade.manual_score, comment.manual_comment, grade.max_score


def saved(page, kind: str):
    """Wait for formgrader's PUT of one grade or comment (`kind`: "grade" or "comment")."""
    return page.expect_response(
        lambda r: r.request.method == "PUT" and f"/formgrader/api/{kind}/" in r.url, timeout=WAIT
    )


class Problems:
    """What went wrong on a page: failed requests and console errors, each with its address, and
    split into the server's own and the rest (the internet, which these machines cannot reach)."""

    def __init__(self, page, local: str):
        self.local, self.failed, self.console = local, [], []
        page.on("requestfailed", lambda r: self.failed.append((r.url, r.failure)))
        page.on("response", lambda r: r.status >= 400 and self.failed.append((r.url, r.status)))
        page.on("pageerror", lambda e: self.console.append(("", f"uncaught: {e}")))
        page.on(
            "console",
            lambda m: m.type == "error" and self.console.append((m.location.get("url", ""), m.text)),
        )

    def _is_local(self, url: str) -> bool:
        return url.startswith(self.local) or not url.startswith(("http:", "https:"))

    def here(self) -> list:
        """Failures of the server's own requests, and console errors other than a remote file that
        did not load (those are in `elsewhere`)."""
        external_load = {u for u, _ in self.failed if not self._is_local(u)}
        mathjax_missing = any("mathjax" in u.lower() for u in external_load)
        console = [
            (u, t)
            for u, t in self.console
            if not (t.startswith("Failed to load resource") and external_load)
            and not (mathjax_missing and "MathJax is not defined" in t)
        ]
        return [f for f in self.failed if self._is_local(f[0])] + console

    def elsewhere(self) -> list:
        return [f for f in self.failed if not self._is_local(f[0])]


def wait_for_formgrader(page):
    """The grading view's inputs are bound to the gradebook once it has loaded grades and comments
    (formgrader.init() starts that on the window's load event, so `grades` may not exist yet)."""
    page.wait_for_function(
        "() => window.formgrader?.grades?.loaded && window.formgrader?.comments?.loaded", timeout=WAIT
    )


@pytest.fixture(scope="module")
def formgrader_page(graded, jupyter_server, browser, screenshots):
    """erin's 02_batch_forms in formgrader's grading view, reached as a grader reaches it, after a
    score and a comment have been typed in and saved. Yields the page and what went wrong on it."""
    server = jupyter_server(graded.root)
    page = server.new_page(browser)
    # Whatever the machine: the page gets nothing from the internet, so every run is the same.
    page.context.route(
        re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda r: r.abort("internetdisconnected")
    )
    visit = watch(page)
    problems = Problems(page, server.url)

    page.goto(server.address("/formgrader"), wait_until="domcontentloaded")
    page.wait_for_url("**/formgrader/manage_assignments", timeout=WAIT)  # formgrader's first page
    page.locator("li.active", has_text="Manage Assignments").wait_for(timeout=WAIT)
    row = page.locator("tr", has=page.locator("td", has_text=re.compile(f"^{ASSIGNMENT}$")))
    # The number of submissions links to the assignment's submissions once the table has loaded.
    row.locator("td.num-submissions a", has_text=str(len(STUDENTS))).click(timeout=WAIT)
    page.wait_for_url(f"**/formgrader/manage_submissions/{ASSIGNMENT}", timeout=WAIT)
    row = page.locator("tr", has=page.locator("td", has_text=re.compile(f"^{GRADED}$")))
    row.get_by_role("link").first.click(timeout=WAIT)  # the student's name
    page.wait_for_url(f"**/formgrader/manage_students/{GRADED}/{ASSIGNMENT}", timeout=WAIT)
    page.get_by_role("link", name=NOTEBOOK, exact=True).click(timeout=WAIT)
    page.wait_for_url(re.compile(r"/formgrader/submissions/[^/]+/?$"), timeout=WAIT)

    wait_for_formgrader(page)
    page.get_by_text("ERIN-WROTE-THIS").wait_for(timeout=WAIT)
    score = page.locator(f"input.score#{ANSWER}")
    comment = page.locator(f"textarea.comment#{ANSWER}-comment")
    with saved(page, "grade") as grade_put:
        score.fill(SCORE)
        score.press("Tab")  # formgrader saves when an input changes, on leaving it
    with saved(page, "comment") as comment_put:
        comment.fill(COMMENT)
        comment.press("Tab")
    assert grade_put.value.ok and comment_put.value.ok
    page.screenshot(path=screenshots / "formgrader.png", full_page=True)
    yield page, visit, problems
    page.context.close()


def test_a_manual_score_and_comment_typed_in_formgrader_reach_the_gradebook(graded, formgrader_page):
    page, visit, problems = formgrader_page
    score, comment, max_score = stored_grade(graded)
    assert (score, comment, max_score) == (float(SCORE), COMMENT, 2)
    assert not problems.here(), problems.here()
    assert not visit.dialogs, visit.dialogs


def test_a_reload_shows_the_saved_score_and_comment(formgrader_page):
    page, _, _ = formgrader_page
    page.reload(wait_until="domcontentloaded")
    wait_for_formgrader(page)
    assert page.locator(f"input.score#{ANSWER}").input_value() == SCORE
    assert page.locator(f"textarea.comment#{ANSWER}-comment").input_value() == COMMENT


@pytest.mark.xfail(
    raises=AssertionError,
    strict=False,
    reason="nbgrader's grading view loads MathJax from cdnjs.cloudflare.com (nbconvert's default "
    "mathjax_url): offline, math stays raw TeX and formgrader.init() throws before its keyboard shortcuts",
)
def test_formgrader_needs_nothing_from_the_internet(formgrader_page):
    page, _, problems = formgrader_page
    assert not problems.elsewhere(), problems.elsewhere()
    # Without MathJax, formgrader.init() stops at `MathJax.loaded = false`, before its keyboard
    # shortcuts (tab, escape to save, ctrl-. for the next submission) are registered.
    assert page.evaluate("() => formgrader.loaded === true")


def test_formgrader_shows_the_model_answer_and_rubric_after_the_answer(formgrader_page):
    page, _, _ = formgrader_page
    heading = page.get_by_role("heading", name=GRADER_NOTES)
    heading.wait_for(timeout=WAIT)
    assert heading.count() == 1  # 02_batch_forms has one written answer
    answer = page.get_by_text("ERIN-WROTE-THIS").element_handle()
    follows = "(h, answer) => !!(answer.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_FOLLOWING)"
    assert heading.evaluate(follows, answer)
    for text in ("Model answer.", RUBRIC):
        assert page.get_by_text(text).first.is_visible(), text


def test_the_feedback_shows_the_graders_comment_and_not_the_rubric(graded, formgrader_page, browser):
    nnla(graded, "feedback", ASSIGNMENT, "--student", GRADED)
    feedback = graded.root / "feedback" / GRADED / ASSIGNMENT / f"{NOTEBOOK}.html"
    page = browser.new_page()
    page.route(re.compile(r"^https?://"), lambda r: r.abort("internetdisconnected"))  # MathJax's CDN
    visit = watch(page)
    page.goto(feedback.as_uri(), wait_until="load")
    page.get_by_text("ERIN-WROTE-THIS").wait_for(timeout=WAIT)
    assert page.get_by_text("GRADER-COMMENT").first.is_visible()
    body = page.inner_text("body")
    for secret in ("For graders", "Model answer.", RUBRIC):
        assert secret not in body
    assert not visit.dialogs, visit.dialogs
    page.context.close()


# --- report ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(graded):
    nnla(graded, "report", ASSIGNMENT)
    return graded.root / "reports" / ASSIGNMENT / "report.html"


def test_the_report_loads_cleanly_and_every_plot_decodes(report, browser, screenshots):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    visit = watch(page)
    problems = Problems(page, report.as_uri())
    page.goto(report.as_uri(), wait_until="load")
    page.get_by_role("heading", name=f"Report: {ASSIGNMENT}").wait_for(timeout=WAIT)
    images = page.evaluate(
        """() => Promise.all([...document.images].map(img => img.decode().then(
            () => ({alt: img.alt, width: img.naturalWidth, height: img.naturalHeight}),
            () => ({alt: img.alt, width: 0, height: 0}))))"""
    )
    page.screenshot(path=screenshots / "report.png", full_page=True)
    assert not problems.failed and not problems.console, (problems.failed, problems.console)
    assert not visit.dialogs, visit.dialogs
    # Self-contained: the page asks for nothing but itself (and its inline images).
    assert {url.split(":")[0] for url in visit.requests} <= {"file", "data"}, visit.requests
    assert len(images) == 4, images
    for image in images:
        assert image["alt"] and image["width"] > 0 and image["height"] > 0, image
    body = page.inner_text("body")
    assert "2 students graded" in body
    for student in STUDENTS:
        assert page.locator("td", has_text=re.compile(f"^{student}$")).count() == 1
    # Nothing wider than the window: no sideways scrolling to read it.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.context.close()

"""No student content runs as script on any page an instructor or a student opens, in a real
browser: formgrader's grading and student pages, JupyterLab's formgrader and the released
feedback."""

import json
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_raw_cell

from autograder.grading.nbgrader import open_gradebook
from autograder.submissions import full_solution, write_submission
from tests.browser import MARKER, inspect, watch
from tests.conftest import ASSIGNMENT, copy_course, needs_browser, needs_isolation

pytestmark = [pytest.mark.e2e, needs_browser, needs_isolation]

STUDENT = "mallory"
READABLE = "the two forms agree because (W X^T)^T = X W^T, ANSWER-TEXT-SURVIVES"
WRITTEN = f"""{READABLE}

<script>window.{MARKER}='script'; alert('script')</script>

<img src=x onerror="window.{MARKER}='img'; alert('img')">

<svg onload="window.{MARKER}='svg'; alert('svg')"></svg>

[a link to click](javascript:window.{MARKER}='link';alert('link'))

<a href="jav&#x61;script:alert('entity')">entity link</a>

$\\href{{javascript:alert('math')}}{{math link}}$
"""
OUTPUTS = """
from IPython.display import HTML, Javascript, Markdown, SVG, display
display(HTML('<b>OUTPUT-TEXT-SURVIVES</b><img src=x onerror="window.MARKER=1; alert(1)">'))
display(Javascript('window.MARKER=2; alert(2)'))
display(Markdown('<img src=x onerror="window.MARKER=3; alert(3)">'))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg" onload="window.MARKER=4"><script>1</script></svg>'))
display({"image/png": '"><script>window.MARKER=5</script>', "text/plain": "png"}, raw=True)
""".replace("MARKER", MARKER)
RAW = f"<script>window.{MARKER}='raw'; alert('raw')</script>"


@pytest.fixture(scope="module")
def graded(repo, tmp_path_factory):
    """A course where mallory's written answers and outputs attack whoever opens them."""
    course = copy_course(repo, tmp_path_factory.mktemp("xss") / "course")
    folder = course.submitted(STUDENT, ASSIGNMENT)
    write_submission(
        folder,
        course.release(ASSIGNMENT),
        course.source(ASSIGNMENT),
        full_solution(course.source(ASSIGNMENT)),
    )
    for notebook, answer_id in (
        ("02_batch_forms", "forms_agree_answer"),
        ("04_tanh_vs_relu", "zero_centred_answer"),
    ):
        path = folder / f"{notebook}.ipynb"
        nb = nbformat.read(path, as_version=4)
        answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == answer_id)
        answer.source = WRITTEN
        nb.cells.insert(nb.cells.index(answer) + 1, new_code_cell(OUTPUTS))
        nb.cells.insert(nb.cells.index(answer) + 2, new_raw_cell(RAW))
        nbformat.write(nb, path)
    for command in (["autograde", ASSIGNMENT], ["feedback", ASSIGNMENT]):
        done = subprocess.run(
            [sys.executable, "-m", "autograder.cli", *command],
            cwd=course.root,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    with open_gradebook(course) as gb:
        submission = gb.find_submission_notebook("02_batch_forms", ASSIGNMENT, STUDENT).id
    return course, submission


def test_the_autograded_copy_keeps_the_answer_and_drops_the_attacks(graded):
    course, _ = graded
    nb = nbformat.read(course.autograded(STUDENT, ASSIGNMENT) / "02_batch_forms.ipynb", 4)
    # What pages render as HTML: markdown, raw cells and outputs (code is shown as text).
    shown = json.dumps(
        [c.source for c in nb.cells if c.cell_type != "code"] + [c.get("outputs", []) for c in nb.cells]
    )
    assert "ANSWER-TEXT-SURVIVES" in shown and "OUTPUT-TEXT-SURVIVES" in shown
    for attack in ("<script", "onerror=", "onload=", 'href=\\"javascript', "application/javascript", MARKER):
        assert attack not in shown


@pytest.mark.parametrize(
    "page_path",
    [
        "/formgrader/submissions/{submission}/",
        f"/formgrader/manage_students/{STUDENT}/{ASSIGNMENT}",
        f"/formgrader/manage_submissions/{ASSIGNMENT}",
        f"/formgrader/gradebook/{ASSIGNMENT}/02_batch_forms",
    ],
)
def test_formgrader_pages_run_nothing_of_the_students(graded, jupyter_server, browser, page_path):
    course, submission = graded
    server = jupyter_server(course.root)
    page = server.new_page(browser)
    visit = watch(page)
    page.goto(server.address(page_path.format(submission=submission)), wait_until="networkidle")
    if page_path.startswith("/formgrader/submissions/"):
        shown = ["ANSWER-TEXT-SURVIVES", "OUTPUT-TEXT-SURVIVES"]
    elif page_path.startswith("/formgrader/gradebook/"):  # names hidden while grading
        shown = ["Submission #1"]
    else:  # lists filled in by the page's own scripts from the gradebook
        shown = [STUDENT]
    for text in shown:
        page.get_by_text(text).first.wait_for(timeout=30_000)
    inspect(page, visit)
    assert not visit.anything_ran, visit
    page.context.close()


def test_jupyterlab_formgrader_runs_nothing_of_the_students(graded, jupyter_server, browser):
    course, submission = graded
    server = jupyter_server(course.root)
    page = server.new_page(browser)
    visit = watch(page)
    page.goto(server.address("/lab"), wait_until="load")
    page.get_by_role("menuitem", name="Nbgrader").click(timeout=60_000)
    page.get_by_role("menuitem", name="Formgrader").click()
    frame_element = page.wait_for_selector("iframe[src*='formgrader']", timeout=60_000)
    frame = frame_element.content_frame()
    frame.goto(server.address(f"/formgrader/submissions/{submission}/"), wait_until="load")
    inspect(frame, visit)
    inspect(page, visit)
    assert not visit.anything_ran, visit
    assert "ANSWER-TEXT-SURVIVES" in frame.inner_text("body")
    page.context.close()


@pytest.mark.parametrize("notebook", ["02_batch_forms", "04_tanh_vs_relu"])
def test_released_feedback_opened_from_disk_runs_nothing_of_the_students(graded, browser, notebook):
    course, _ = graded
    feedback = course.root / "feedback" / STUDENT / ASSIGNMENT / f"{notebook}.html"
    page = browser.new_page()
    visit = watch(page)
    page.goto(feedback.as_uri(), wait_until="load")
    inspect(page, visit)
    assert not visit.anything_ran, visit
    assert "ANSWER-TEXT-SURVIVES" in page.inner_text("body")
    page.context.close()

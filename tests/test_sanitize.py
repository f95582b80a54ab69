"""The sanitizer on tiny notebooks: attacks go, the text a grader reads stays, twice is once."""

import base64

import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from autograder.grading.sanitize import clean_html, markdown_as_html, sanitize_notebook, sanitize_output

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)></svg>",
    "[link](javascript:alert(1))",
    "<a href='jav&#x61;script:alert(1)'>x</a>",
    "<iframe src='https://example.org'></iframe>",
    "<details open ontoggle=alert(1)><summary>s</summary></details>",
    "<form action=https://example.org><input></form>",
    "<style>body{display:none}</style>",
    "<a href='data:text/html,<script>alert(1)</script>'>x</a>",
    "<img src='https://example.org/track.png'>",
    "<div style='position:fixed;top:0'>x</div>",
]
DANGEROUS = (
    "<script",
    "onerror",
    "onload",
    "ontoggle",
    "javascript:",
    "<iframe",
    "<form",
    "<style",
    "style=",
    "https://example.org/track",
    "data:text",
)


@pytest.mark.parametrize("attack", ATTACKS)
def test_markdown_attacks_are_gone_and_the_text_stays(attack):
    html = markdown_as_html(f"My answer: W_eff = W_2 W_1.\n\n{attack}\n")
    assert "My answer: W_eff = W_2 W_1." in html
    assert not any(bad in html.lower() for bad in DANGEROUS), html


@pytest.mark.parametrize(
    "source", ["plain *text*", "```\na < b\n\n\nc\n```", "$$\\href{javascript:x}{y}$$", *ATTACKS]
)
def test_cleaning_twice_is_cleaning_once_and_formgrader_renders_it_as_it_is(source):
    once = markdown_as_html(source)
    assert markdown_as_html(once) == once
    assert markdown2html_mistune(once).strip() == once  # one block of HTML: markdown leaves it alone


def test_math_that_would_make_a_link_is_shown_as_text():
    assert "\\href" not in clean_html("$\\href{javascript:alert(1)}{x}$").replace("\\backslash{}href", "")


def test_inline_images_from_attachments_stay():
    png = base64.b64encode(b"\x89PNG fake").decode()
    html = markdown_as_html("![proof](attachment:proof.png)", {"proof.png": {"image/png": png}})
    assert f"data:image/png;base64,{png}" in html


def test_outputs_keep_text_and_images_and_lose_script():
    out = new_output(
        "display_data",
        data={
            "text/html": "<b>table</b><img src=x onerror=alert(1)>",
            "application/javascript": "alert(1)",
            "image/png": '"><script>alert(1)</script>',
            "image/svg+xml": "<svg onload=alert(1)></svg>",
            "application/vnd.jupyter.widget-view+json": {"model_id": "x"},
        },
        metadata={"image/png": {"width": "1 onerror=alert(1)"}},
    )
    sanitize_output(out)
    assert set(out.data) == {"text/html", "text/plain"}
    assert out.data["text/html"] == "<b>table</b><img>"
    assert "application/javascript" in out.data["text/plain"]
    assert out.metadata == {}


def test_the_instructors_cells_keep_their_markdown_and_the_students_are_cleaned():
    given = new_markdown_cell(
        "<b>Read this</b>", metadata={"nbgrader": {"grade_id": "intro", "locked": True}}
    )
    answer = new_markdown_cell(
        "<script>x</script>Mine", metadata={"nbgrader": {"grade_id": "a", "solution": True}}
    )
    added = new_markdown_cell("<img src=x onerror=alert(1)>", metadata={"tags": ['"><script>', "ok-tag"]})
    raw = new_raw_cell("<script>alert(1)</script>raw text")
    code = new_code_cell("print('<script>')")
    nb = new_notebook(
        cells=[given, answer, added, raw, code],
        metadata={"title": "<script>", "language_info": {"name": "python"}},
    )
    sanitize_notebook(nb)
    assert given.source == "<b>Read this</b>"
    assert answer.source == "<div>Mine</div>"
    assert added.source == "<div><img></div>" and added.metadata.tags == ["ok-tag"]
    assert raw.source == "raw text"
    assert code.source == "print('<script>')"  # shown as code, escaped by every page
    assert set(nb.metadata) == {"language_info"}


@pytest.mark.parametrize(
    ("value", "kept"), [(4, True), ("<script>4</script>", False), (True, False), ([4], False)]
)
def test_where_the_kernel_stopped_is_kept_only_as_a_number(value, kept):
    nb = new_notebook(cells=[new_code_cell("1")], metadata={"nnla_kernel_stopped_in": value, "x": 1})
    sanitize_notebook(nb)
    assert nb.metadata == ({"nnla_kernel_stopped_in": 4} if kept else {})

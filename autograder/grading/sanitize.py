"""Student content made inert for every page that shows it.

nbgrader's formgrader and feedback pages render a notebook's markdown and outputs as HTML
without sanitizing them, in the Jupyter server's own origin: a written answer holding
`<script>` would run as the instructor. So the autograded copy, which formgrader and the
feedback render, is cleaned when it is written (`SanitizeStudentContent`, last in
`Autograde.autograde_preprocessors`, and again before feedback), whatever page renders it later:

- markdown the student wrote (answer cells, cells they added) becomes the HTML it renders to,
  cleaned by an allow-list sanitizer (nh3): text, formatting, tables, links and inline images
  stay; scripts, event handlers, styles, forms, frames, images fetched from elsewhere and
  `javascript:` links go; math that could make a link (`\\href`) is shown as text;
- outputs keep plain text and images; HTML is cleaned the same way, Markdown and SVG become
  cleaned HTML, JavaScript and widgets are replaced by a note;
- raw cells, cell tags, output metadata and notebook metadata that templates insert into pages
  are cleaned or dropped.

Cells the instructor locked (given code, tests, instructions; nbgrader restores their source
from the gradebook) keep their markdown as written. Cleaning is idempotent.
"""

from __future__ import annotations

import base64
import re

import nh3
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.judge.kernel import STOPPED_KEY

URL_SCHEMES = {"http", "https", "mailto", "data"}
SAFE_IMAGES = ("image/png", "image/jpeg", "image/gif")
BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
SAFE_TAG = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# MathJax renders these as links or with styles of the author's choosing.
MATH_COMMANDS = re.compile(r"\\(href|url|class|cssId|style)(?![A-Za-z])")
NOTEBOOK_METADATA = ("kernelspec", "language_info", "nbgrader")


def clean_html(html: str) -> str:
    """`html` with only allow-listed tags and attributes, links of safe schemes and inline
    images; math commands that make links shown as text."""
    cleaned = nh3.clean(html, url_schemes=URL_SCHEMES, attribute_filter=_only_image_data)
    return MATH_COMMANDS.sub(r"\\mathtt{\\backslash{}\1}", cleaned)


def _only_image_data(tag: str, attribute: str, value: str) -> str | None:
    """Images only from the page itself (an image URL would make the grader's browser fetch
    it on opening the page); data URLs only as images."""
    inline_image = value.strip().lower().startswith("data:image/")
    if tag == "img" and attribute == "src":
        return value if inline_image else None
    return None if value.strip().lower().startswith("data:") else value


def markdown_as_html(source: str, attachments: dict | None = None) -> str:
    """Markdown rendered as formgrader renders it (images from the cell's attachments inline),
    cleaned, and written so that rendering it as markdown again leaves it as it is: one line
    (newlines as character references) that starts a block of HTML."""
    renderer = IPythonRenderer(escape=False, attachments=attachments or {})
    html = clean_html(MarkdownWithMath(renderer=renderer).render(source)).strip()
    if not html.startswith("<div>"):
        html = f"<div>{html}</div>"
    return html.replace("\r", "").replace("\n", "&#10;")


def is_instructors(cell: NotebookNode) -> bool:
    """A cell whose source nbgrader restores from the gradebook: locked, known, no answer."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("locked")) and not meta.get("solution") and "grade_id" in meta


def sanitize_notebook(nb: NotebookNode) -> NotebookNode:
    """Clean, in place, everything of `nb` a page renders that the student could have written."""
    stopped_in = nb.metadata.get(STOPPED_KEY)
    nb.metadata = NotebookNode({k: v for k, v in nb.metadata.items() if k in NOTEBOOK_METADATA})
    if type(stopped_in) is int:  # the grader's record of where the kernel stopped: a number, inert
        nb.metadata[STOPPED_KEY] = stopped_in
    for cell in nb.cells:
        _clean_tags(cell)
        if not is_instructors(cell):
            if cell.cell_type == "markdown":
                cell.source = markdown_as_html(cell.source, _attachments(cell))
                cell.pop("attachments", None)
            elif cell.cell_type == "raw":
                cell.source = clean_html(cell.source)
        for output in cell.get("outputs", []):
            sanitize_output(output)
    return nb


def _attachments(cell: NotebookNode) -> dict:
    attachments = cell.get("attachments") or {}
    return {
        name: {mime: value for mime, value in bundle.items() if mime.startswith("image/")}
        for name, bundle in attachments.items()
        if isinstance(bundle, dict)
    }


def _clean_tags(cell: NotebookNode) -> None:
    tags = cell.get("metadata", {}).get("tags")
    if tags is not None:
        cell.metadata["tags"] = [t for t in tags if isinstance(t, str) and SAFE_TAG.fullmatch(t)]


def sanitize_output(output: NotebookNode) -> None:
    """Keep what an output can show safely; say what was taken out."""
    if output.get("output_type") not in ("display_data", "execute_result"):
        return
    kept, removed = {}, []
    for mime, value in output.get("data", {}).items():
        text = value if isinstance(value, str) else "".join(value) if isinstance(value, list) else None
        if text is None:
            removed.append(mime)
        elif mime == "text/plain":
            kept[mime] = text
        elif mime in SAFE_IMAGES and BASE64.fullmatch(text):
            kept[mime] = text
        elif mime == "text/html":
            kept[mime] = clean_html(text)
        elif mime == "text/markdown":
            kept.setdefault("text/html", markdown_as_html(text))
        elif mime == "image/svg+xml":
            image = base64.b64encode(text.encode()).decode()
            kept.setdefault("text/html", f'<img src="data:image/svg+xml;base64,{image}" alt="SVG image">')
        elif mime == "text/latex":
            kept[mime] = MATH_COMMANDS.sub(r"\\mathtt{\\backslash{}\1}", text)
        else:
            removed.append(mime)
    if removed and "text/plain" not in kept:
        kept["text/plain"] = f"[{', '.join(removed)} output removed by the grader]"
    output.data = NotebookNode(kept)
    sizes = {
        mime: {k: v for k, v in given.items() if k in ("width", "height") and isinstance(v, int | float)}
        for mime, given in output.get("metadata", {}).items()
        if mime in SAFE_IMAGES and isinstance(given, dict)
    }
    output.metadata = NotebookNode({mime: size for mime, size in sizes.items() if size})


class SanitizeStudentContent(NbGraderPreprocessor):
    """Make everything the student wrote or their code displayed inert on any page."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        return sanitize_notebook(nb), resources

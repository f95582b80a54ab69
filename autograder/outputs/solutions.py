"""`nnla solutions`: the solution notebooks students get after the due date.

Made from the instructor's notebooks, `source/<assignment>/*.ipynb`, one plain notebook each
(`solutions/<assignment>/` unless told otherwise):

- solution code is kept: the `### BEGIN SOLUTION` and `### END SOLUTION` lines go, what is
  between them stays (a solution cell without markers is kept whole);
- hidden tests go: each `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` block, markers
  included, exactly as nbgrader's release removes it (so the visible tests are the release's);
  so do nbgrader's mark schemes (`BEGIN MARK SCHEME` ... `END MARK SCHEME`);
- written answers keep their prompt. Their solution region holds what the instructor wrote
  for the graders, in sections that each start at a label (a line opening with bold text or a
  heading). Only the sections labelled as a model answer (`**Model answer.**`, or `Sample`/
  `Example answer`, `Model solution`/`proof`) are kept; unlabelled text and every other section
  (`**Rubric (2 points).**`, grading notes, anything else) are the graders'. So a model answer
  opens its own paragraphs with italics (`*Base case*`), not bold. Without a model answer the
  region becomes nbgrader's stub, `YOUR ANSWER HERE`, as in the release;
- outputs, execution counts and nbgrader's metadata go (a plain notebook, nothing to submit),
  and a first cell says whose solutions these are and that they come after the due date.

Before anything is written, each notebook is checked apart from the filtering: it must show
no hidden-test, mark-scheme or solution marker, no line found only in the sources' hidden tests
or mark schemes (read again for the check) or among the lines taken out for graders, no
grader-only label (`Rubric`, `Grading`, `Grader`, `Marking`, `Mark scheme`, `Scoring`,
`Instructor`, `Notes for graders`) in a written answer, no import of a reference (the manifest's
`references`, the plug-in's modules, `assignments`), no output and no nbgrader metadata, and it
must be valid nbformat; otherwise nothing is written. Before the manifest's due date it refuses
unless forced.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.course import Course, Manifest
from autograder.notebooks import is_solution

BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
BEGIN_MARK_SCHEME, END_MARK_SCHEME = "BEGIN MARK SCHEME", "END MARK SCHEME"
TEXT_STUB = "YOUR ANSWER HERE"  # nbgrader's ClearSolutions.text_stub
HEADER_ID = "nnla-solutions"

# A label: a line that starts with bold text or a heading.
_LABEL = r"^\s*(?:#{1,6}\s+(?:\*\*|__)?|\*\*|__)\s*"
FOR_STUDENTS = re.compile(_LABEL + r"(?:model|sample|example)\s+(?:answer|solution|proof)\b", re.I)
ANY_LABEL = re.compile(r"^\s*(?:#{1,6}\s+\S|(?:\*\*|__)\S)")
GRADER_ONLY = re.compile(
    _LABEL
    + r"(?:rubric|mark(?:ing)?\s*scheme|marking|grading|grader|scoring|instructor"
    + r"|notes?\s+(?:for|to)\s+(?:the\s+)?(?:graders?|instructors?|markers?|tas?)\b)",
    re.I,
)


class SolutionsRefused(Exception):
    """Nothing was written; the message (one line) says why."""


@dataclass
class _Notebook:
    """One solution notebook being made, with what was taken out of its source."""

    name: str
    nb: NotebookNode
    removed: list[str] = field(default_factory=list)  # grader-only lines (hidden tests, rubrics)
    answers: list[NotebookNode] = field(default_factory=list)  # cells made from written answers


def write_solutions(
    course: Course,
    assignment: str,
    out: Path | None = None,
    *,
    force: bool = False,
    now: dt.datetime | None = None,
) -> list[Path]:
    """Write the assignment's solution notebooks into `out` (default `solutions/<assignment>/`)
    and return their paths. Raise SolutionsRefused before the due date (unless `force`), or
    when a notebook would show anything meant for graders only."""
    manifest = course.manifest(assignment)
    now = now or dt.datetime.now(dt.UTC)
    if now < manifest.due and not force:
        raise SolutionsRefused(
            f"{assignment} is due {when(manifest.due)}: its solutions are released after that "
            "(--force writes them now)"
        )
    sources = sorted(course.source(assignment).glob("*.ipynb"))
    if not sources:
        raise SolutionsRefused(f"no notebooks in {course.source(assignment)}")
    made = [solution_notebook(path, manifest) for path in sources]
    secrets = grader_only_lines(sources)
    forbidden = reference_modules(course, manifest)
    for notebook in made:
        shown = "\n".join(cell.source for cell in notebook.nb.cells)
        rubrics = {line for line in _lines(notebook.removed) if not _occurs(line, shown)}
        refuse_leaks(notebook, secrets | rubrics, forbidden)
    folder = out or course.root / "solutions" / assignment
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in made:
        path = folder / f"{notebook.name}.ipynb"
        nbformat.write(notebook.nb, path)
        written.append(path)
    return written


def when(due: dt.datetime) -> str:
    return due.strftime("%Y-%m-%d %H:%M %Z").strip()


def solution_notebook(path: Path, manifest: Manifest) -> _Notebook:
    """The student-facing solution of one source notebook (not yet checked)."""
    nb = nbformat.read(path, as_version=4)
    made = _Notebook(path.stem, nb)
    cells = []
    for cell in nb.cells:
        try:
            text, removed = _solution_text(cell)
        except ValueError as bad:
            raise SolutionsRefused(f"{path.name}: {bad}") from None
        made.removed += removed
        if cell.cell_type != "code" and (is_solution(cell) or BEGIN_SOLUTION in cell.source):
            made.answers.append(cell)
        if removed and not text.strip():
            continue  # a cell that held only grader-only text
        cell.source = text
        cell.metadata.pop("nbgrader", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if "attachments" in cell:  # keep only the images the kept text shows
            shown = {name for name in cell.attachments if f"attachment:{name}" in text}
            cell.attachments = {name: data for name, data in cell.attachments.items() if name in shown}
            if not cell.attachments:
                del cell["attachments"]
        cells.append(cell)
    header = nbformat.v4.new_markdown_cell(
        f"**Solutions** of *{manifest.title}* (assignment `{manifest.id}`, notebook `{path.stem}`), "
        f"released after the due date ({when(manifest.due)}).\n\n"
        "This is not an assignment: nothing here is submitted or graded. The hidden tests and the "
        "graders' rubrics are not included."
    )
    ids, header.id = {cell.get("id") for cell in cells}, HEADER_ID
    while header.id in ids:
        header.id += "-"
    nb.cells = [header, *cells]
    for key in ("nbgrader", "celltoolbar"):
        nb.metadata.pop(key, None)
    return made


def _solution_text(cell: NotebookNode) -> tuple[str, list[str]]:
    """A cell's source as the solutions show it, and the lines taken out for graders only."""
    lines = cell.source.split("\n")
    kept, removed = [], []
    region: list[str] | None = None  # the solution region being read
    removing = None  # the end marker of the grader-only block being read
    for line in lines:
        if removing:
            if removing in line:
                removing = None
            elif BEGIN_HIDDEN in line or BEGIN_MARK_SCHEME in line:
                raise ValueError(f"nested {line.strip()!r}")
            else:
                removed.append(line)
        elif BEGIN_HIDDEN in line or BEGIN_MARK_SCHEME in line:
            removing = END_HIDDEN if BEGIN_HIDDEN in line else END_MARK_SCHEME
        elif END_HIDDEN in line or END_MARK_SCHEME in line:
            raise ValueError(f"{line.strip()!r} without its beginning")
        elif BEGIN_SOLUTION in line:
            if region is not None:
                raise ValueError("nested BEGIN SOLUTION")
            region, indent = [], re.match(r"\s*", line).group(0)
        elif END_SOLUTION in line:
            if region is None:
                raise ValueError("END SOLUTION without its beginning")
            if cell.cell_type == "code":
                kept += region
            else:
                shown, hidden = _written_answer(region)
                kept += shown or [indent + TEXT_STUB]
                removed += hidden
            region = None
        else:
            (kept if region is None else region).append(line)
    if removing or region is not None:
        raise ValueError(f"no {removing or END_SOLUTION} after its beginning")
    if is_solution(cell) and cell.cell_type != "code" and not any(BEGIN_SOLUTION in ln for ln in lines):
        shown, hidden = _written_answer(kept)  # the whole cell is the answer, as nbgrader reads it
        kept, removed = shown or [TEXT_STUB], removed + hidden
    return "\n".join(kept), removed


def _written_answer(region: list[str]) -> tuple[list[str], list[str]]:
    """(the sections of a written answer's solution region meant for students, the rest).

    A section starts at a label: a line opening with bold text or a heading. Only those labelled
    as a model answer are kept; unlabelled text and every other label are taken to be the
    graders'. (So a model answer uses italics, not bold, to open its own paragraphs.)"""
    shown, hidden = [], []
    for_students = False  # text before any label is the graders'
    for line in region:
        if FOR_STUDENTS.match(line):
            for_students = True
        elif ANY_LABEL.match(line):
            for_students = False
        (shown if for_students else hidden).append(line)
    while shown and not shown[-1].strip():
        hidden.append(shown.pop())
    return shown, hidden


def grader_only_lines(sources: list[Path]) -> set[str]:
    """Lines found only inside the sources' hidden-test and mark-scheme blocks (read again here,
    apart from the filtering, for the check)."""
    hidden, public = [], []
    for path in sources:
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.split("\n"):
                if any(marker in line for marker in (BEGIN_HIDDEN, BEGIN_MARK_SCHEME)):
                    inside = True
                elif any(marker in line for marker in (END_HIDDEN, END_MARK_SCHEME)):
                    inside = False
                else:
                    (hidden if inside else public).append(line)
    public_text = "\n".join(public)
    return {
        line for line in _lines(hidden) - _lines(public, everything=True) if not _occurs(line, public_text)
    }


def _occurs(line: str, text: str) -> bool:
    """Whether `line` is in `text`, not as part of a longer name or number."""
    return line in text and re.search(rf"(?<!\w){re.escape(line)}(?!\w)", text) is not None


def _lines(lines: list[str], everything: bool = False) -> set[str]:
    """Stripped lines that say something (at least one letter or digit, unless `everything`)."""
    return {s for line in lines if (s := line.strip()) and (everything or re.search(r"\w", s))}


def reference_modules(course: Course, manifest: Manifest) -> set[str]:
    """Top-level modules a solution must not import: the manifest's reference packages, the
    plug-in's own modules (its reference among them) and the folder it is imported from."""
    names = {name.split(".")[0] for name in manifest.references} | {"assignments"}
    plugin = course.plugin(manifest.id)
    if plugin.is_dir():
        names |= {p.stem for p in plugin.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
    names.discard("__init__")
    return names


def imported_modules(source: str) -> set[str]:
    """Top-level modules a cell imports: import statements, importlib.import_module and
    __import__ with a literal name; lines alone where the cell is not plain Python."""
    found = set()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = None
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value)
    for line in source.split("\n"):  # markdown, magics, anything ast did not read
        if m := re.match(r"\s*from\s+([\w.]+)\s+import\b", line):
            found.add(m.group(1))
        elif m := re.match(r"\s*import\s+([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)", line):
            found |= {part.split()[0] for part in m.group(1).split(",")}
        found |= set(re.findall(r"(?:import_module|__import__)\(\s*['\"]([\w.]+)", line))
    return {name.split(".")[0] for name in found}


def refuse_leaks(notebook: _Notebook, secrets: set[str], forbidden: set[str]) -> None:
    """Raise SolutionsRefused if the notebook shows something meant for graders only."""
    name = f"{notebook.name}.ipynb"
    for cell in notebook.nb.cells:
        text = cell.source
        for marker in (
            BEGIN_HIDDEN,
            END_HIDDEN,
            BEGIN_MARK_SCHEME,
            END_MARK_SCHEME,
            BEGIN_SOLUTION,
            END_SOLUTION,
        ):
            if marker in text:
                raise SolutionsRefused(f"{name} would show the marker {marker!r}")
        for line in text.split("\n"):
            if line.strip() in secrets or (
                GRADER_ONLY.match(line) and any(cell is a for a in notebook.answers)
            ):
                raise SolutionsRefused(f"{name} would show grader-only text: {line.strip()!r}")
        if leaked := next((s for s in sorted(secrets) if len(s) > 15 and _occurs(s, text)), None):
            raise SolutionsRefused(f"{name} would show grader-only text: {leaked!r}")
        if imports := sorted(imported_modules(text) & forbidden):
            raise SolutionsRefused(f"{name} would import the reference {imports[0]!r}")
        if cell.get("outputs") or cell.get("execution_count") or "nbgrader" in cell.metadata:
            raise SolutionsRefused(f"{name}: a cell kept its outputs or nbgrader metadata")
    try:
        nbformat.validate(notebook.nb)
    except nbformat.ValidationError as bad:
        raise SolutionsRefused(f"{name} is not a valid notebook: {bad.message}") from None

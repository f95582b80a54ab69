"""`nnla readme`: the students' README.md of an assignment, made from its manifest and notebooks.

Everything in it comes from somewhere that grading reads too, so it cannot go stale unnoticed
(a test compares the committed files with what this module makes):

- title, due date, late policy, notebooks and their order, and the time estimate, learning
  objectives and complete written answers of each notebook: the manifest,
  `assignments/<id>.toml` (`[notebook."<name>"]` tables, optional);
- points: the nbgrader metadata of the source notebooks' grade cells, autograded test cells
  apart from hand-graded ones, autograded points per contract name as the self-check shows them;
- each notebook's title: its first heading, from a cell that is not a solution;
- the course id for `nbgrader submit`: the course's nbgrader_config.py.

Nothing is read from inside a solution cell, so no model answer, rubric or hidden test can reach
the README. It is written into `source/<id>/README.md`, which `nbgrader generate_assignment`
copies into the release like every other extra file, and into `release/<id>/README.md` when the
release exists, so the two agree without a new release.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Course, Manifest
from autograder.notebooks import is_autograded_test, is_solution, nbgrader_meta, read

README = "README.md"
SELFCHECK = "selfcheck.py"  # the self-check engine, released with the notebooks when the assignment has one
SELFCHECK_CELL = "selfcheck"  # grade_id of a notebook's cell that runs the self-check on that notebook


@dataclass(frozen=True)
class HandGraded:
    """A cell a person grades: a written answer (or another manually graded cell or task)."""

    grade_id: str
    points: float


@dataclass(frozen=True)
class NotebookFacts:
    """What the source notebook's nbgrader metadata says, for the README."""

    name: str
    title: str | None  # its first heading
    autograded: dict[str, float]  # contract name (or grade_id) -> autograded points, in order
    hand_graded: tuple[HandGraded, ...]
    runs_selfcheck: bool  # has a cell that runs the self-check on it

    @property
    def autograded_points(self) -> float:
        return sum(self.autograded.values())

    @property
    def written_points(self) -> float:
        return sum(item.points for item in self.hand_graded)


def notebook_facts(path: Path, manifest: Manifest) -> NotebookFacts:
    """Points per contract name and hand-graded cells of one source notebook, and its title."""
    title, autograded, hand_graded, runs_selfcheck = None, {}, [], False
    for cell in read(path).cells:
        meta = nbgrader_meta(cell)
        if title is None and cell.cell_type == "markdown" and not is_solution(cell):
            headings = [line[2:].strip() for line in cell.source.splitlines() if line.startswith("# ")]
            title = headings[0] if headings else None
        if meta.get("grade_id") == SELFCHECK_CELL and cell.cell_type == "code":
            runs_selfcheck = True
        if is_autograded_test(cell):
            name = manifest.name_tested_by(meta["grade_id"], path.stem) or meta["grade_id"]
            autograded[name] = autograded.get(name, 0.0) + float(meta.get("points", 0) or 0)
        elif meta.get("grade") or meta.get("task"):
            hand_graded.append(HandGraded(meta["grade_id"], float(meta.get("points", 0) or 0)))
    return NotebookFacts(path.stem, title, autograded, tuple(hand_graded), runs_selfcheck)


def assignment_facts(course: Course, manifest: Manifest) -> list[NotebookFacts]:
    """The facts of every notebook of the manifest, in its order; ValueError when the manifest's
    complete answers do not match the notebooks' hand-graded cells."""
    facts = []
    for notebook in manifest.notebooks:
        path = course.source(manifest.id) / f"{notebook}.ipynb"
        if not path.is_file():
            raise ValueError(f"the manifest lists {notebook}, but there is no {path}")
        facts.append(notebook_facts(path, manifest))
    check_complete_answers(manifest, facts)
    return facts


def check_complete_answers(manifest: Manifest, facts: list[NotebookFacts]) -> None:
    """With guides in the manifest, every hand-graded cell has a complete_answer list, and every
    list belongs to a hand-graded cell of its notebook."""
    if not manifest.guides:
        return
    toml = f"assignments/{manifest.id}.toml"
    for nb in facts:
        listed = manifest.guides[nb.name].complete_answers
        cells = [item.grade_id for item in nb.hand_graded]
        for item in nb.hand_graded:
            if item.grade_id not in listed:
                raise ValueError(
                    f"source/{manifest.id}/{nb.name}.ipynb: the hand-graded cell {item.grade_id!r} "
                    f"({item.points:g} points) has no complete_answer in {toml}: add "
                    f'{item.grade_id} = [...] under [notebook."{nb.name}".complete_answer]'
                )
        for grade_id in listed:
            if grade_id not in cells:
                raise ValueError(
                    f'{toml}: [notebook."{nb.name}".complete_answer] names {grade_id!r}, which is no '
                    f"hand-graded cell of {nb.name}.ipynb (its hand-graded cells: {cells or 'none'})"
                )


# ---------------------------------------------------------------------------------- the text


def markdown_text(text: str) -> str:
    """Manifest or notebook text for one line of the README: Markdown and math stay, but
    whitespace runs (newlines too) become one space, so it cannot start a block of its own, and a
    `<` that could open an HTML tag, comment or autolink is written as `&lt;`."""
    text = " ".join(text.split())
    text = re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)
    return "\\" + text if text.startswith("#") else text


def points(value: float) -> str:
    return f"{value:g}"


def duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def due_text(due: dt.datetime) -> str:
    """`Monday 14 December 2026, 23:59 UTC`: the due date in UTC, weekday and month spelled out."""
    utc = due.astimezone(dt.UTC)
    return f"{utc:%A} {utc.day} {utc:%B %Y, %H:%M} UTC"


def late_policy_text(manifest: Manifest) -> list[str]:
    if manifest.late_policy == "zero":
        return [
            "**Late work scores zero: a submission made after the due date gets 0 points.** The time "
            "that counts is the time of your submission, recorded when you submit. If you submit again "
            "after the due date, that late copy is normally the one graded, so do not resubmit late.",
        ]
    return ["**Late submissions are graded like the others: there is no late penalty.**"]


def student_readme(course: Course, assignment: str) -> str:
    """The README.md of `assignment` for students, as Markdown."""
    manifest = course.manifest(assignment)
    facts = assignment_facts(course, manifest)
    guides = manifest.guides
    has_selfcheck = (course.source(assignment) / SELFCHECK).is_file()
    any_written = any(nb.hand_graded for nb in facts)
    auto_total = sum(nb.autograded_points for nb in facts)
    written_total = sum(nb.written_points for nb in facts)
    aid = assignment

    lines = [
        f"<!-- Generated by `nnla readme {aid}` from assignments/{aid}.toml and the nbgrader metadata "
        f"of source/{aid}/*.ipynb; edit those and run it again instead of editing this file. -->",
        "",
        f"# {markdown_text(manifest.title)} (`{aid}`)",
        "",
        f"This folder holds the {len(facts)} notebooks of the assignment. Work through them in order: "
        "open each one in Jupyter, replace every `raise NotImplementedError()` with your code and run "
        "the visible tests under each exercise"
        + (
            ", and write your written answers in the cells marked *YOUR ANSWER HERE*." if any_written else "."
        ),
        "",
        "## Due date",
        "",
        f"**{due_text(manifest.due)}** (`{manifest.due.astimezone(dt.UTC):%Y-%m-%dT%H:%MZ}`). "
        "The time is in UTC: convert it to your own time zone.",
        "",
        *late_policy_text(manifest),
        "",
        "## Points",
        "",
    ]
    header = (
        "| notebook |"
        + (" time estimate |" if guides else "")
        + " autograded | written (graded by hand) | total |"
    )
    lines += [header, "|" + " --- |" * (header.count("|") - 1)]
    for nb in facts:
        time = f" {duration(guides[nb.name].minutes)} |" if guides else ""
        total = nb.autograded_points + nb.written_points
        lines.append(
            f"| `{nb.name}.ipynb` |{time} {points(nb.autograded_points)} | {points(nb.written_points)} "
            f"| {points(total)} |"
        )
    total_time = f" **{duration(sum(g.minutes for g in guides.values()))}** |" if guides else ""
    lines += [
        f"| **total** |{total_time} **{points(auto_total)}** | **{points(written_total)}** "
        f"| **{points(auto_total + written_total)}** |",
        "",
        "Autograded points are decided after you submit, by hidden tests of the functions you write; "
        "they check more than the visible tests in the notebooks do."
        + (" Written answers are graded by hand." if any_written else ""),
        "",
        "## The notebooks",
    ]
    for number, nb in enumerate(facts, start=1):
        lines += [
            "",
            f"### {number}. `{nb.name}.ipynb`" + (f": {markdown_text(nb.title)}" if nb.title else ""),
            "",
        ]
        summary = f"{points(nb.autograded_points + nb.written_points)} points"
        if nb.hand_graded:
            summary += f" ({points(nb.autograded_points)} autograded, {points(nb.written_points)} written)"
        if nb.name in guides:
            summary = f"About {duration(guides[nb.name].minutes)}; " + summary
        lines.append(summary + ".")
        if nb.name in guides:
            lines += ["", "You will learn to:", ""]
            lines += [f"- {markdown_text(item)}" for item in guides[nb.name].objectives]
        if nb.autograded:
            each = ", ".join(f"`{name}` {points(value)}" for name, value in nb.autograded.items())
            lines += ["", f"Autograded points per function: {each}."]
        for index, item in enumerate(nb.hand_graded, start=1):
            label = "Written answer" + (
                f" {index} of {len(nb.hand_graded)}" if len(nb.hand_graded) > 1 else ""
            )
            heading = f"**{label}** ({points(item.points)} points, graded by hand)."
            if nb.name in guides:
                parts = guides[nb.name].complete_answers[item.grade_id]
                lines += ["", f"{heading} A complete answer contains:", ""]
                lines += [f"- {markdown_text(part)}" for part in parts]
            else:
                lines += ["", f"{heading} The question in the notebook says what it asks for."]
    if has_selfcheck:
        lines += selfcheck_section(facts)
    lines += submit_section(course, manifest, has_selfcheck)
    return "\n".join(lines) + "\n"


def one_notebook_argument(notebook: str) -> str:
    """How `python selfcheck.py ARG` names one notebook: the number its name starts with (01 for
    01_param_count), else its file name."""
    digits = re.match(r"\d+", notebook)
    return digits[0] if digits else f"{notebook}.ipynb"


def selfcheck_section(facts: list[NotebookFacts]) -> list[str]:
    example = one_notebook_argument(facts[0].name)
    width = len(f"python {SELFCHECK} {example}")
    lines = [
        "",
        "## Check your work before you submit",
        "",
        "Save every notebook first (*File → Save*): the self-check reads the saved files, not what is on "
        "your screen. Then, in a terminal in this folder:",
        "",
        "```sh",
        f"{f'python {SELFCHECK}':<{width}}   # every notebook",
        f"python {SELFCHECK} {example}   # one notebook, {facts[0].name}.ipynb",
        "```",
        "",
        "A notebook is named by its number, its name or its file name; name several to check several.",
        "",
    ]
    if all(nb.runs_selfcheck for nb in facts):
        lines += ["The *Self-check* cell at the end of each notebook runs it on that notebook.", ""]
    lines += [
        "It runs your code in a separate process, with a time limit, and checks each function you write "
        "with public checks: properties that any correct answer has. It prints a table with one row per "
        "function: the notebook, the function, its status and the points at stake (the autograded "
        "points of that function's tests). The statuses:",
        "",
        "- `pass`: every public check of the function holds;",
        "- `fail`: a check found a wrong result; below the table you get the smallest failing input it "
        "found and a hint;",
        "- `not attempted`: the function still raises `NotImplementedError`;",
        "- `error`: the function raised an exception, or is not defined (did its cell run without errors?);",
        "- `timed out`: it did not finish within the time limit (an endless loop, or very slow code; "
        f"`python {SELFCHECK} --timeout 10` allows 10 seconds per function).",
        "",
        "The exit code is 0 only when every check passes. **Passing the self-check is a good sign, not a "
        "grade**: the hidden tests that decide your autograded points check more, and the self-check "
        "does not look at written answers. It needs Python 3.11 or newer with numpy, matplotlib, "
        "hypothesis and nbformat (Jupyter installs nbformat).",
    ]
    return lines


def submit_section(course: Course, manifest: Manifest, has_selfcheck: bool) -> list[str]:
    from autograder.grading.nbgrader import course_id  # reads nbgrader_config.py with nbgrader's loader

    aid = manifest.id
    course_option = f" --course {cid}" if (cid := course_id(course)) and re.fullmatch(r"[\w.-]+", cid) else ""
    steps = [
        "Save every notebook (*File → Save*). Keep the notebooks' names, and leave the read-only cells "
        "and the tests as they are.",
    ]
    if has_selfcheck:
        steps.append(f"Run `python {SELFCHECK}` once more.")
    steps += [
        f"Submit from the **Assignments** tab (nbgrader's Assignment List): in JupyterLab, menu "
        f"*Nbgrader → Assignment List*; in Jupyter Notebook, the *Assignments* tab of the file browser. "
        f"Find `{aid}` under *Downloaded assignments* and click **Submit**. From a terminal, "
        f"`nbgrader submit {aid}{course_option}` in the folder that holds the `{aid}` folder does the "
        "same. If your course has no Assignments tab, hand in the notebooks as your instructor says.",
        "You can submit as many times as you like before the due date; your most recent submission "
        "is normally the one graded.",
    ]
    return ["", "## Submit", "", *(f"{n}. {step}" for n, step in enumerate(steps, start=1))]


def readme_paths(course: Course, assignment: str) -> list[Path]:
    """Where `nnla readme` writes: the source, and the release when there is one."""
    paths = [course.source(assignment) / README]
    if course.release(assignment).is_dir():
        paths.append(course.release(assignment) / README)
    return paths


def write_student_readme(course: Course, assignment: str) -> list[Path]:
    """Write the README into source/<id>/ and, if it exists, release/<id>/; returns the paths."""
    text = student_readme(course, assignment)
    paths = readme_paths(course, assignment)
    for path in paths:
        path.write_text(text, encoding="utf-8")
    return paths

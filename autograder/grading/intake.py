"""Take in one submission: a staged copy that nbgrader can always grade, and what was wrong with it.

nbgrader gives up on a student's whole assignment when one notebook cannot be read or executed,
so every submission passes through here first. Each assignment notebook is staged as the
student's readable notebook with its grading cells reconciled against the release, or, when
it is missing or unreadable, as the blank release notebook headed by a note saying why. Every
repair yields a message for the log, results.json and the feedback: a student loses the points
of what was actually missing and nothing else.
"""

from __future__ import annotations

import codecs
import difflib
import json
import re
import shutil
from collections.abc import Iterable
from datetime import tzinfo
from pathlib import Path

import dateutil.parser
import dateutil.tz
import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell
from nbgrader.utils import parse_utc

from autograder.notebooks import nbgrader_meta

CHECKPOINTS = ".ipynb_checkpoints"
MAX_OUTPUT_BYTES = 1_000_000  # saved outputs above this are dropped: execution recomputes them
MAX_EXTRA_FILE_BYTES = 20_000_000
MAX_NOTEBOOK_BYTES = 250_000_000
MAX_NESTING = 64  # real notebooks nest about 8 levels; deeper data only breaks the tools that read it
NOTE_TAG = "nnla-intake-note"
TIMESTAMP = "timestamp.txt"
CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")  # nbformat's rule for cell ids
# Characters that would make a student id markup on a page (formgrader shows ids unescaped),
# and whitespace that nbgrader strips from ids.
UNSAFE_ID = re.compile(r"[<>&\"'`\x00-\x1f\x7f]|^\s|\s$")


class Unreadable(Exception):
    """A notebook file nbgrader could not read; the message says why in a student's words."""


def stage_submission(submitted: Path, release: Path, staged: Path, notebooks: Iterable[str]) -> list[str]:
    """Write a gradable copy of `submitted` to `staged`; return the messages, in a fixed order."""
    if staged.exists():
        shutil.rmtree(staged)
    staged.mkdir(parents=True)
    notebooks = list(notebooks)
    files = _submitted_files(submitted)
    messages = []
    if not files:
        what = "is empty" if submitted.is_dir() else "does not exist"
        messages.append(f"The submission folder {what}: every notebook is graded as blank.")

    located = _locate(notebooks, submitted, files)
    extra_notebooks = [f for f in files if f.suffix == ".ipynb" and f not in located.values()]
    for path in files:
        if path.relative_to(submitted) == Path(TIMESTAMP):
            messages += stage_timestamp(path, staged / TIMESTAMP)
        elif path.suffix != ".ipynb":
            messages += _copy_extra_file(submitted, path, staged)

    renamed = _match_renamed([n for n in notebooks if n not in located], extra_notebooks, release)
    messages += _subfolder_notes(located, notebooks, submitted)
    for name in notebooks:
        blank = nbformat.read(release / f"{name}.ipynb", as_version=4)
        path = located.get(name, submitted / f"{name}.ipynb")
        if name in renamed:
            path = renamed[name]
            where = path.relative_to(submitted)
            messages.append(f"{name}.ipynb: not found; graded {where} in its place (renamed?).")
        try:
            if path.is_symlink():
                raise Unreadable("is a symbolic link, not a notebook file")
            if not path.is_file():
                raise Unreadable("was not submitted")
            nb, notes = read_submitted_notebook(path)
            notes += reconcile(nb, blank)
            settle_cell_ids(nb)
            nbformat.write(nb, staged / f"{name}.ipynb")
        except Exception as e:  # noqa: BLE001 - whatever is wrong with one notebook costs only its points
            problem = e if isinstance(e, Unreadable) else f"could not be read ({type(e).__name__})"
            nb = nbformat.read(release / f"{name}.ipynb", as_version=4)
            notes = [f"{problem}; it is graded as the blank notebook"]
            nb.cells.insert(0, _note_cell(f"`{name}.ipynb` {problem}: this is the blank notebook, graded 0."))
            settle_cell_ids(nb)
            nbformat.write(nb, staged / f"{name}.ipynb")
        messages += [f"{name}.ipynb: {note}" for note in notes]

    for path in extra_notebooks:
        if path in renamed.values():
            continue
        if path.stem in located:
            graded = located[path.stem].relative_to(submitted)
            messages.append(f"{path.relative_to(submitted)}: another copy of {graded}, not graded.")
        else:
            messages.append(f"{path.relative_to(submitted)}: not part of the assignment, not graded.")
    links = sorted(p for p in submitted.rglob("*") if p.is_symlink()) if submitted.is_dir() else []
    for link in links:
        if link.suffix != ".ipynb" or link.stem not in notebooks:
            messages.append(f"{link.relative_to(submitted)}: a symbolic link, left out of grading.")
    return messages


def _submitted_files(submitted: Path) -> list[Path]:
    if not submitted.is_dir():
        return []
    # A symbolic link could point at anything the grader may read; only plain files go along.
    return sorted(
        p
        for p in submitted.rglob("*")
        if p.is_file() and not p.is_symlink() and CHECKPOINTS not in p.relative_to(submitted).parts
    )


def _copy_extra_file(submitted: Path, path: Path, staged: Path) -> list[str]:
    """Non-notebook files go along (a notebook may read its data files); huge ones stay behind."""
    relative = path.relative_to(submitted)
    if path.stat().st_size > MAX_EXTRA_FILE_BYTES:
        return [f"{relative}: larger than {MAX_EXTRA_FILE_BYTES // 1_000_000} MB, left out of grading."]
    (staged / relative).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, staged / relative)
    return []


def read_submitted_notebook(path: Path) -> tuple[NotebookNode, list[str]]:
    """The notebook as nbformat 4, and notes on what had to change; raise Unreadable if it cannot be."""
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise Unreadable(f"is larger than {MAX_NOTEBOOK_BYTES // 1_000_000} MB")
    data = path.read_bytes()
    if not data.strip():
        raise Unreadable("is empty (0 bytes of notebook)")
    text = _decode(data)
    if text is None:
        raise Unreadable("is not a notebook but binary data")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as bad:
        # Cut off: the error is at the very end, or in a string that runs to the end (a notebook
        # writes every string on one line).
        in_last_string = bad.msg.startswith("Unterminated string") and "\n" not in text[bad.pos :].rstrip()
        if bad.pos >= len(text.rstrip()) - 1 or in_last_string:
            raise Unreadable(f"is cut off after {len(data):,} bytes (was it saved completely?)") from None
        raise Unreadable(f"is not valid JSON ({bad.msg} at line {bad.lineno}, column {bad.colno})") from None
    except RecursionError:
        raise Unreadable(f"nests its data more than {MAX_NESTING} levels deep") from None
    if not isinstance(raw, dict) or not ("cells" in raw or "worksheets" in raw):
        raise Unreadable("is JSON but not a notebook")
    if nesting(raw) > MAX_NESTING:
        raise Unreadable(f"nests its data more than {MAX_NESTING} levels deep")
    notes = []
    if raw.get("nbformat") == 4 and isinstance(raw.get("cells"), list):
        settle_cell_ids(raw)  # before nbformat reads it: it would replace duplicates with random ids
        text = json.dumps(raw)
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as bad:  # noqa: BLE001 - nbformat raises many kinds for malformed notebooks
        raise Unreadable(f"is not a notebook nbformat can read ({type(bad).__name__})") from None
    if raw.get("nbformat") != 4:
        notes.append(f"saved as nbformat {raw.get('nbformat')}; converted to nbformat 4 for grading")
        for cell in nb.cells:
            cell.pop("id", None)  # the conversion draws random ids; settle_cell_ids gives stable ones
    size = sum(len(json.dumps(c.get("outputs", []))) for c in nb.cells)
    if size > MAX_OUTPUT_BYTES:
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        notes.append(f"its saved outputs ({size / 1e6:.1f} MB) were dropped; grading runs it afresh")
    return nb, notes


def _decode(data: bytes) -> str | None:
    """Text of a notebook saved as UTF-8 (with or without a byte-order mark, as Windows tools
    write it) or UTF-16 with one; None for anything else."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in data[:4096]:
        return None
    else:
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def nesting(data: object) -> int:
    """How deeply lists and dicts nest in `data`, found without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_NESTING:
                stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def stage_timestamp(path: Path, staged: Path) -> list[str]:
    """Stage the submission's time as nbgrader reads it, read leniently: a byte-order mark,
    Windows line ends and the common ways of writing a date; one that cannot be read is left
    out with a message (the submission then counts as on time), never a failure."""
    data = path.read_bytes()[:1000] if path.stat().st_size <= 1000 else b""
    text = (_decode(data) or "").strip().strip("\ufeff").strip()
    if not text:
        return [f"{TIMESTAMP} is empty or unreadable; the submission is taken as on time."]
    try:
        # Zone names as nbgrader writes them ("UTC", "EST") and numeric offsets ("+0100").
        when = dateutil.parser.parse(text, tzinfos=_zone)
    except (ValueError, OverflowError):
        shown = text[:60].encode("unicode_escape").decode()
        return [f"{TIMESTAMP} holds {shown!r}, which is not a date; the submission is taken as on time."]
    staged.write_text(parse_utc(when).isoformat(sep=" ") + "\n")
    return []


def _zone(name: str | None, offset: int | None) -> tzinfo | None:
    return dateutil.tz.gettz(name) if name else dateutil.tz.tzoffset(None, offset or 0)


def refused_student_id(student: str) -> str | None:
    """Why a student id cannot be graded, or None. Any folder name can, except one that holds
    characters a page would read as markup (it would reach formgrader unescaped), control
    characters, or spaces at either end (nbgrader strips them)."""
    if UNSAFE_ID.search(student):
        return (
            f"student id {student!r} is refused: it holds HTML's special characters (< > & \" ' `), "
            "control characters or spaces at either end; rename the folder submitted/<id>/ and grade again"
        )
    return None


def reconcile(nb: NotebookNode, blank: NotebookNode) -> list[str]:
    """Make `nb`'s grading cells those of the release `blank`, keeping the student's answers.

    Locked cells (given code, tests) and all grading metadata come from the release; a
    solution cell keeps the student's source. Cells that went missing come back where they
    were; a solution whose metadata was deleted is recognised by its place.
    """
    notes = _kernel_notes(nb, blank)
    released = {nbgrader_meta(c)["grade_id"]: c for c in blank.cells if "grade_id" in nbgrader_meta(c)}
    order = list(released)
    notes += _drop_foreign_and_duplicate_ids(nb, released)
    present = {nbgrader_meta(c)["grade_id"]: c for c in nb.cells if "grade_id" in nbgrader_meta(c)}

    for grade_id, original in released.items():
        cell = present.get(grade_id)
        if cell is None:
            continue
        meta_changed = nbgrader_meta(cell) != nbgrader_meta(original)
        if nbgrader_meta(original).get("solution") and cell.cell_type == original.cell_type:
            cell.metadata["nbgrader"] = dict(nbgrader_meta(original))
            if meta_changed:
                notes.append(f"the grading metadata of cell {grade_id!r} had been edited; restored")
            continue
        if cell.source != original.source or cell.cell_type != original.cell_type or meta_changed:
            notes.append(f"cell {grade_id!r} had been edited; the original was restored")
        nb.cells[_index(nb, cell)] = _copy(original)

    for position, grade_id in enumerate(order):
        if grade_id in present:
            continue
        previous = next((g for g in reversed(order[:position]) if _find(nb, g) is not None), None)
        following = next((g for g in order[position + 1 :] if _find(nb, g) is not None), None)
        start = _find(nb, previous) + 1 if previous else 0
        stop = _find(nb, following) if following else len(nb.cells)
        original = released[grade_id]
        adopted = _adoptable(nb.cells[start:stop], original)
        if adopted is not None:
            adopted.metadata["nbgrader"] = dict(nbgrader_meta(original))
            notes.append(f"cell {grade_id!r} had lost its grading metadata; restored")
            continue
        nb.cells.insert(start, _copy(original))
        what = "solution cell" if nbgrader_meta(original).get("solution") else "cell"
        consequence = "; it is graded as blank" if what == "solution cell" else "; restored"
        notes.append(f"{what} {grade_id!r} had been deleted{consequence}")
    return notes


def settle_cell_ids(nb: dict) -> None:
    """Give every cell a unique id, the same on every run (nbformat would draw random ones)."""
    nb["nbformat_minor"] = max(nb.get("nbformat_minor", 0), 5)
    seen: set[str] = set()
    for index, cell in enumerate(nb["cells"]):
        cell_id = cell.get("id") if isinstance(cell.get("id"), str) and CELL_ID.match(cell["id"]) else None
        cell_id = cell_id or f"cell-{index}"
        while cell_id in seen:
            cell_id = f"{cell_id}-{index}"
        cell["id"] = cell_id
        seen.add(cell_id)


def _kernel_notes(nb: NotebookNode, blank: NotebookNode) -> list[str]:
    wanted = blank.metadata.get("kernelspec", {})
    asked = nb.metadata.get("kernelspec", {})
    nb.metadata["kernelspec"] = dict(wanted)
    nb.metadata["language_info"] = dict(blank.metadata.get("language_info", {}))
    if asked.get("name") == wanted.get("name"):
        return []
    return [f"asked for kernel {asked.get('name')!r}; graded with {wanted.get('display_name')}"]


def _drop_foreign_and_duplicate_ids(nb: NotebookNode, released: dict[str, NotebookNode]) -> list[str]:
    """Plain cells from grading cells the release does not know, and from all but the last copy."""
    notes, last = [], {}
    for cell in nb.cells:
        if "nbgrader" in cell.metadata:
            last[nbgrader_meta(cell).get("grade_id")] = cell
    counts: dict[str, int] = {}
    for cell in nb.cells:
        if "nbgrader" not in cell.metadata:
            continue
        grade_id = nbgrader_meta(cell).get("grade_id")
        counts[grade_id] = counts.get(grade_id, 0) + 1
        if grade_id not in released or last[grade_id] is not cell:
            del cell.metadata["nbgrader"]
    for grade_id, count in counts.items():
        if grade_id not in released:
            notes.append(f"cell {grade_id!r} is not part of the assignment; run as an ordinary cell")
        elif count > 1:
            notes.append(f"cell {grade_id!r} appears {count} times; the last copy is graded")
    return notes


def _adoptable(cells: list[NotebookNode], original: NotebookNode) -> NotebookNode | None:
    """The one plain cell standing where a solution cell was, which is that cell stripped of metadata."""
    if not nbgrader_meta(original).get("solution"):
        return None
    plain = [c for c in cells if c.cell_type == original.cell_type and "nbgrader" not in c.metadata]
    return plain[0] if len(plain) == 1 else None


def _find(nb: NotebookNode, grade_id: str) -> int | None:
    return next((i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == grade_id), None)


def _index(nb: NotebookNode, cell: NotebookNode) -> int:
    return next(i for i, c in enumerate(nb.cells) if c is cell)


def _copy(cell: NotebookNode) -> NotebookNode:
    return nbformat.from_dict(json.loads(json.dumps(cell)))


def _note_cell(text: str) -> NotebookNode:
    return new_markdown_cell(f"**Note from the grader.** {text}", metadata={"tags": [NOTE_TAG]})


def _locate(notebooks: list[str], submitted: Path, files: list[Path]) -> dict[str, Path]:
    """Assignment notebook -> the submitted file of that name: at the top of the submission, else
    the shallowest one in a subfolder (an upload of the whole assignment folder, say)."""
    located = {}
    for name in notebooks:
        copies = [f for f in files if f.name == f"{name}.ipynb"]
        if copies:
            located[name] = min(copies, key=lambda f: (len(f.relative_to(submitted).parts), f))
    return located


def _subfolder_notes(located: dict[str, Path], notebooks: list[str], submitted: Path) -> list[str]:
    """One note per subfolder that notebooks were graded from."""
    by_folder: dict[Path, list[str]] = {}
    for name in notebooks:
        if name in located and located[name].parent != submitted:
            by_folder.setdefault(located[name].parent.relative_to(submitted), []).append(f"{name}.ipynb")
    notes = []
    for folder, names in by_folder.items():
        which = "Every notebook was" if len(names) == len(notebooks) else f"{', '.join(names)}:"
        notes.append(f"{which} found in {folder.as_posix()}/ and graded from there.")
    return notes


def _match_renamed(missing: list[str], extra: list[Path], release: Path) -> dict[str, Path]:
    """Missing assignment notebook -> the extra notebook that is evidently it under another name.

    A match needs a close name ("01_param_count (1).ipynb", "01_param_count-Copy1.ipynb") and,
    when the extra notebook still has grading cells, the missing notebook's grade ids.
    """
    found: dict[str, Path] = {}
    for path in extra:
        candidates = [n for n in missing if n not in found and path.stem.startswith(n)]
        candidates = candidates or difflib.get_close_matches(
            path.stem, [n for n in missing if n not in found], 1
        )
        if len(candidates) == 1 and _ids_agree(path, release / f"{candidates[0]}.ipynb"):
            found[candidates[0]] = path
    return found


def _ids_agree(path: Path, released: Path) -> bool:
    try:
        nb, _ = read_submitted_notebook(path)
    except Unreadable:
        return True  # reported as unreadable under the assignment's name
    ids = {nbgrader_meta(c).get("grade_id") for c in nb.cells} - {None}
    wanted = {nbgrader_meta(c).get("grade_id") for c in nbformat.read(released, as_version=4).cells} - {None}
    return not ids or bool(ids & wanted)

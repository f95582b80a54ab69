"""Intake on tiny files: what it reads leniently, what it refuses, and that nothing is fatal."""

import codecs
import json

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from autograder.grading.intake import (
    MAX_NESTING,
    Unreadable,
    nesting,
    read_submitted_notebook,
    refused_student_id,
    settle_cell_ids,
    stage_submission,
    stage_timestamp,
)


def notebook_bytes(**metadata) -> bytes:
    nb = new_notebook(cells=[new_markdown_cell("hello")], metadata=metadata)
    return nbformat.writes(nb).encode()


@pytest.mark.parametrize(
    "written",
    [
        b"2026-12-10 14:00:00",
        codecs.BOM_UTF8 + b"2026-12-10 14:00:00\r\n",  # Windows Notepad
        "2026-12-10 14:00:00\n".encode("utf-16"),
        b"  2026-12-10T14:00:00Z  \n\n",
        b"2026-12-10 15:00:00 +0100",
        b"2026-12-10 09:00:00 EST",  # nbgrader's own way with a zone name
        b"Dec 10, 2026 3:00 PM +0100",
        b"10 December 2026 14:00",
    ],
)
def test_a_timestamp_is_read_however_it_was_written(tmp_path, written):
    (tmp_path / "timestamp.txt").write_bytes(written)
    messages = stage_timestamp(tmp_path / "timestamp.txt", tmp_path / "staged.txt")
    assert messages == []
    assert (tmp_path / "staged.txt").read_text().startswith("2026-12-10 14:00:00")


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (b"handed in on Tuesday", "which is not a date"),
        (b"", "is empty or unreadable"),
        (b"\x00\x01\x02binary", "is empty or unreadable"),
        (b"2026-13-45 99:99", "which is not a date"),
        (b"9" * 5000, "is empty or unreadable"),
    ],
)
def test_a_timestamp_that_cannot_be_read_is_left_out_with_a_message(tmp_path, written, said):
    (tmp_path / "timestamp.txt").write_bytes(written)
    messages = stage_timestamp(tmp_path / "timestamp.txt", tmp_path / "staged.txt")
    assert len(messages) == 1 and said in messages[0] and "taken as on time" in messages[0]
    assert not (tmp_path / "staged.txt").exists()


def test_a_notebook_saved_with_a_byte_order_mark_or_as_utf16_is_read(tmp_path):
    for data in (codecs.BOM_UTF8 + notebook_bytes(), notebook_bytes().decode().encode("utf-16")):
        (tmp_path / "nb.ipynb").write_bytes(data)
        nb, _ = read_submitted_notebook(tmp_path / "nb.ipynb")
        assert nb.cells[0].source == "hello"


def test_a_notebook_cut_off_anywhere_is_said_to_be_cut_off(tmp_path):
    """Wherever the file ends (inside a string, between values, after a comma), the student is
    told it was cut off, not that it is invalid JSON somewhere."""
    data = nbformat.writes(new_notebook(cells=[new_markdown_cell("a cell of some length " * 5)])).encode()
    for end in range(20, len(data) - 2, 7):
        (tmp_path / "nb.ipynb").write_bytes(data[:end])
        with pytest.raises(Unreadable, match="is cut off"):
            read_submitted_notebook(tmp_path / "nb.ipynb")
    (tmp_path / "nb.ipynb").write_bytes(data.replace(b'"cells"', b'"cells" "x",', 1))
    with pytest.raises(Unreadable, match="is not valid JSON"):
        read_submitted_notebook(tmp_path / "nb.ipynb")


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 10_000])
def test_a_notebook_nested_too_deeply_is_unreadable_with_a_reason(tmp_path, depth):
    text = notebook_bytes(deep="DEEP").decode().replace('"DEEP"', '{"a": ' * depth + "1" + "}" * depth)
    (tmp_path / "nb.ipynb").write_text(text)
    with pytest.raises(Unreadable, match="levels deep"):
        read_submitted_notebook(tmp_path / "nb.ipynb")


def test_nesting_is_measured_without_recursion():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert nesting(deep) > MAX_NESTING
    assert nesting({"a": [1, {"b": 2}]}) == 3


def test_cell_ids_that_a_page_would_read_as_markup_are_replaced():
    nb = json.loads(nbformat.writes(new_notebook(cells=[new_markdown_cell("a"), new_markdown_cell("b")])))
    nb["cells"][0]["id"] = '"><script>alert(1)</script>'
    nb["cells"][1]["id"] = "fine-id_1"
    settle_cell_ids(nb)
    assert [c["id"] for c in nb["cells"]] == ["cell-0", "fine-id_1"]


@pytest.mark.parametrize("student", ["kim[2]", "a*b?", "Ana María López", "李 雷", "x.y_z-1"])
def test_any_folder_name_without_markup_is_a_student_id(student):
    assert refused_student_id(student) is None


@pytest.mark.parametrize(
    "student",
    ["<img src=x onerror=alert(1)>", "Tom & Jerry", 'say "hi"', "o'brien", "tab\there", " padded", "x "],
)
def test_an_id_a_page_would_read_as_markup_is_refused_with_the_fix(student):
    assert "rename the folder" in refused_student_id(student)


def _release(folder, names):
    folder.mkdir()
    for name in names:
        nbformat.write(new_notebook(cells=[new_markdown_cell(f"blank {name}")]), folder / f"{name}.ipynb")


def _submit(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=[new_markdown_cell(text)]), path)


def test_notebooks_in_subfolders_are_found_at_any_depth_the_shallowest_first(tmp_path):
    """An uploaded folder (Gradescope, an unzipped archive) is graded as if its notebooks were at
    the top; a renamed one in a subfolder is matched too; a second copy is named, not graded."""
    _release(tmp_path / "release", ["a", "b", "c"])
    sub = tmp_path / "sub"
    _submit(sub / "hw" / "deeper" / "a.ipynb", "deep a")
    _submit(sub / "hw" / "a.ipynb", "my a")
    _submit(sub / "hw" / "b (1).ipynb", "my b")
    _submit(sub / "c.ipynb", "top c")
    _submit(sub / "x" / "c.ipynb", "nested c")
    messages = stage_submission(sub, tmp_path / "release", tmp_path / "staged", ["a", "b", "c"])
    staged = {
        n: nbformat.read(tmp_path / "staged" / f"{n}.ipynb", as_version=4).cells[0].source for n in "abc"
    }
    assert staged == {"a": "my a", "b": "my b", "c": "top c"}
    assert "a.ipynb: found in hw/ and graded from there." in messages
    assert not any("c.ipynb" in m for m in messages if "found in" in m)
    assert "b.ipynb: not found; graded hw/b (1).ipynb in its place (renamed?)." in messages
    assert "hw/deeper/a.ipynb: another copy of hw/a.ipynb, not graded." in messages
    assert "x/c.ipynb: another copy of c.ipynb, not graded." in messages

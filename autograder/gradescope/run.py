"""Grade one Gradescope submission: what run_autograder runs, as root, in Gradescope's container.

Gradescope gives the student's files in /autograder/submission (any layout: intake finds the
notebooks), the submission's metadata in /autograder/submission_metadata.json, and reads the
verdict from /autograder/results/results.json. This builds a one-student course from the zip's
copy, stages the submission with its time, grades it with `grade_class` (the same path as
`nnla autograde`) and writes that student's results.json where Gradescope reads it.

Student code never runs as root and never reaches the grader's files: where the container allows
namespaces they are absent from its view; where it refuses them, it runs as a uid of its own,
and everything of the grader's (the zip's course, the working course, the results folder, the
metadata) is readable by root only. The level reached is in the results (`extra_data.isolation`).
Without namespaces and without root that has other uids to give (a container that maps root
alone) there is no such uid: grading is refused.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import sys
from pathlib import Path

import dateutil.parser

from autograder.course import Course, load_manifest
from autograder.grading.intake import TIMESTAMP
from autograder.grading.results import write_json_atomically
from autograder.grading.run import grade_class
from autograder.judge.isolation.sandbox import ISOLATION_WAIVER, isolation

STUDENT = "submission"
WORK = "nnla-work"  # the one-student course, under the root
LOCKED = 0o700


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_autograder", description=__doc__)
    parser.add_argument("assignment")
    parser.add_argument("--root", default="/autograder", help="Gradescope's folder (default: %(default)s)")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    results_file = root / "results" / "results.json"
    lock_grader_files(root)
    results_file.unlink(missing_ok=True)

    metadata, notes = read_metadata(root / "submission_metadata.json")
    course = build_course(root, args.assignment)
    due, due_note = due_date(metadata, course.manifest(args.assignment).due)
    set_due(course, args.assignment, due)
    notes += [due_note, *stage_submission(root / "submission", course, args.assignment, metadata)]
    os.chdir(course.root)  # what the sandbox hides is measured from the course folder

    found = isolation()
    if not found.full:
        if not found.protections["unprivileged user without capabilities"]:
            print(found.refusal())
            print("run_autograder gives student code a uid of its own where namespaces are refused,")
            print("which needs root with uids to give (Gradescope's container has both): none here.")
            return 1
        # Gradescope's container refused namespaces: student code still runs as a uid of its own,
        # which cannot read the grader's files locked above. What is missing is recorded.
        os.environ[ISOLATION_WAIVER] = "1"
    print(found.summary())

    results = grade_class(course, args.assignment, [STUDENT], jobs=1, force=True)[STUDENT]
    results = for_gradescope(results, metadata, notes)
    write_json_atomically(results_file, results)
    print(results["output"])
    print("\n".join(notes))
    if results["extra_data"].get("fingerprint") is None:
        log = course.log(STUDENT, args.assignment)
        print(f"Grading failed. nbgrader's log:\n{log.read_text() if log.is_file() else '(none)'}")
    return 0


def lock_grader_files(root: Path) -> None:
    """Make what the grader reads and writes readable by root only; the venv stays readable, as
    student code runs Python from it."""
    (root / "results").mkdir(parents=True, exist_ok=True)
    for path in (root / "source", root / "results", root / "submission", root / "submission_metadata.json"):
        if path.exists():
            os.chmod(path, LOCKED if path.is_dir() else 0o600)


def build_course(root: Path, assignment: str) -> Course:
    """A fresh one-student course from the zip's copy (root/source/course)."""
    work = root / WORK
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(root / "source" / "course", work, symlinks=True)
    os.chmod(work, LOCKED)
    course = Course(work)
    course.manifest(assignment)  # fails early, and plainly, on a zip made for another assignment
    return course


def read_metadata(path: Path) -> tuple[dict, list[str]]:
    """Gradescope's submission metadata, or {} with a note when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return {}, [
            f"{path.name} could not be read ({type(e).__name__}): the submission is taken as on time."
        ]
    return (data, []) if isinstance(data, dict) else ({}, [f"{path.name} is not a JSON object."])


def _when(text: object) -> dt.datetime | None:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        when = dateutil.parser.isoparse(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def due_date(metadata: dict, manifest_due: dt.datetime) -> tuple[dt.datetime, str]:
    """The due date for this submission: the latest of its users' own (extensions given on
    Gradescope), else the assignment's on Gradescope, else the manifest's; and a note saying which."""
    users = metadata.get("users") if isinstance(metadata.get("users"), list) else []
    own = [_when((u.get("assignment") or {}).get("due_date")) for u in users if isinstance(u, dict)]
    own = [d for d in own if d]
    if own:
        return max(own), f"Due date: {_utc(max(own))}, Gradescope's for this submission."
    assignment = metadata.get("assignment") if isinstance(metadata.get("assignment"), dict) else {}
    if due := _when(assignment.get("due_date")):
        return due, f"Due date: {_utc(due)}, Gradescope's for this assignment."
    return manifest_due, f"Due date: {_utc(manifest_due)}, the assignment manifest's (Gradescope gave none)."


def _utc(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def set_due(course: Course, assignment: str, due: dt.datetime) -> None:
    """Write `due` into the working course's manifest, which the grading run reads."""
    path = course.root / "assignments" / f"{assignment}.toml"
    stamp = due.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    text, count = re.subn(r"(?m)^due\s*=.*$", f"due = {stamp}", path.read_text(encoding="utf-8"), count=1)
    path.write_text(text, encoding="utf-8")
    if count != 1 or load_manifest(path).due != due.replace(microsecond=0):
        raise RuntimeError(f"could not set the due date in {path}")


def stage_submission(submission: Path, course: Course, assignment: str, metadata: dict) -> list[str]:
    """Copy Gradescope's submission into the course, its time from the metadata (a student's own
    timestamp.txt is not trusted); return notes for the instructor."""
    target = course.submitted(STUDENT, assignment)
    if submission.is_dir():
        shutil.copytree(submission, target, symlinks=True)  # links stay links: intake refuses them
    else:
        target.mkdir(parents=True)
    (target / TIMESTAMP).unlink(missing_ok=True)
    if (created := _when(metadata.get("created_at"))) is None:
        return ["Gradescope gave no submission time (created_at): the submission is taken as on time."]
    (target / TIMESTAMP).write_text(created.isoformat() + "\n", encoding="utf-8")
    return [f"Submitted: {_utc(created)}."]


def for_gradescope(results: dict, metadata: dict, notes: list[str]) -> dict:
    """The student's results.json as Gradescope takes it: written answers are Gradescope's own
    manual questions, so the score is the autograded part; the instructor's notes (the due
    date used, Gradescope's total against the notebooks') go to stdout and extra_data."""
    manual = results["extra_data"].get("manually_graded", [])
    autograded = sum(t["max_score"] for t in results["tests"])
    written = sum(m["max_score"] for m in manual)
    notes.append(_points_note(metadata, autograded, written))
    results["extra_data"]["gradescope"] = {
        "submission_id": metadata.get("id"),
        "notes": notes,
    }
    head = f"Autograded: {_points(results['score'])} of {_points(autograded)} points."
    if written:
        head += f" The written answers ({_points(written)} points) are graded by hand."
    results["output"] = "\n".join(part for part in (head, results.get("output", "")) if part)
    return results


def _points_note(metadata: dict, autograded: float, written: float) -> str:
    """Whether Gradescope's total points agree with the notebooks'."""
    assignment = metadata.get("assignment") if isinstance(metadata.get("assignment"), dict) else {}
    try:
        total = float(assignment["total_points"])
    except (KeyError, TypeError, ValueError):
        return "Gradescope gave no total points to check against the notebooks'."
    if abs(total - (autograded + written)) < 1e-9:
        return (
            f"Gradescope's total, {_points(total)} points, is the notebooks': {_points(autograded)} "
            f"autograded + {_points(written)} written (add manual questions worth {_points(written)})."
        )
    if abs(total - autograded) < 1e-9:
        return (
            f"Gradescope's total, {_points(total)} points, is the autograded part: "
            "the written answers count for nothing there."
        )
    return (
        f"WARNING: Gradescope's total is {_points(total)} points, but the notebooks give "
        f"{_points(autograded)} autograded + {_points(written)} written = "
        f"{_points(autograded + written)}. Set the autograder's points to {_points(autograded)} "
        f"and the manual questions' to {_points(written)}."
    )


def _points(value: float) -> str:
    return f"{value:g}"


if __name__ == "__main__":
    sys.exit(main())

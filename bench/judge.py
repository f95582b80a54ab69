"""How fast is the judge? Hidden suites for a class of 10 submissions, run in-process.

Prints, for each submission, the judge's time for all six notebooks, and then the median per
submission, the examples hypothesis ran per property (median and range), and the share of the
judge's time spent starting sandboxed workers (a fork of the judge's fork server; the first
submission's also starts the server: Python, numpy, matplotlib).

    .venv/bin/python bench/judge.py [--students N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.course import Course  # noqa: E402
from autograder.judge import preprocessor  # noqa: E402
from autograder.plugin import load_plugin  # noqa: E402
from autograder.submissions import fill_notebook  # noqa: E402

ASSIGNMENT = "ch177"


def judge_submission(course: Course, student) -> tuple[float, float, list[int], float]:
    """Seconds for the whole submission, seconds starting workers, examples per property, score."""
    started = time.monotonic()
    examples, score = [], 0.0
    for notebook in course.manifest(ASSIGNMENT).notebooks:
        nb = fill_notebook(
            course.release(ASSIGNMENT) / f"{notebook}.ipynb",
            course.source(ASSIGNMENT) / f"{notebook}.ipynb",
            student.answers.get(notebook, {}),
        )
        verdicts = preprocessor.judge(nb, notebook, ASSIGNMENT, student.id, course)
        for verdict in verdicts.values():
            score += verdict.score
            examples += [r.examples for r in verdict.results]
    process = preprocessor._current[1]
    startup = sum(process.start_seconds)
    preprocessor.close_student_process()
    return time.monotonic() - started, startup, examples, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10)
    args = parser.parse_args()
    course = Course(REPO)
    students = [s for s in load_plugin(course, ASSIGNMENT).demo_students() if s.id != "bob"][: args.students]
    rows = []
    print(f"{'submission':<12} {'seconds':>8} {'start-up':>9} {'score':>6}")
    for student in students:
        seconds, startup, examples, score = judge_submission(course, student)
        rows.append((seconds, startup, examples))
        print(f"{student.id:<12} {seconds:>8.2f} {startup:>9.2f} {score:>6g}")
    per_submission = [r[0] for r in rows]
    all_examples = [e for r in rows for e in r[2]]
    print()
    print(
        f"judge time per full submission: median {statistics.median(per_submission):.2f} s "
        f"(min {min(per_submission):.2f}, max {max(per_submission):.2f}) over {len(rows)} submissions"
    )
    print(
        f"examples per property: median {statistics.median(all_examples):g} "
        f"(min {min(all_examples)}, max {max(all_examples)}) over {len(all_examples)} property runs"
    )
    print(f"share of judge time in worker start-up: {sum(r[1] for r in rows) / sum(per_submission):.0%}")


if __name__ == "__main__":
    main()

"""Progress of a grading run: tqdm's bar on a terminal, one log line per student otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

BAR = "{bar} {n}/{total}  {rate_fmt}  {remaining} left"


class Progress:
    """Reports each graded student; `total` is the number of students this run grades.

    On a terminal the bar stays at the bottom and only what a student's grading had to say (its
    messages, a failure) is printed above it; in a log every student gets a line.
    """

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30):
        self.total = total
        self.stream = stream or sys.stderr
        self.done = 0
        self.bar = tqdm(
            total=total,
            file=self.stream,
            unit="student",
            bar_format=BAR,
            ncols=width + 50,
            ascii=" #",
            smoothing=0,
            mininterval=0,  # one redraw per student: they are few and far between
            disable=not (self.stream.isatty() and total),
        )

    def student_done(self, reply: dict) -> None:
        self.done += 1
        score = f"{reply['score']:g}/{reply['max_score']:g}" if "score" in reply else "not graded"
        line = f"[{self.done}/{self.total}] {reply['student']}: {score} in {reply['seconds']:.1f} s"
        notes = [f"    {m}" for m in reply.get("messages", [])]
        if not reply.get("ok", False):
            notes.append(f"    grading failed: {_last_line(reply.get('error', ''))}")
        if self.bar.disable:
            print("\n".join([line, *notes]), file=self.stream, flush=True)
            return
        if notes:
            self.bar.write("\n".join([line, *notes]), file=self.stream)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "see the log"

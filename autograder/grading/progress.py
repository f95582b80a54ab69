"""Progress of a grading run: a bar with rate and time left on a terminal, log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Reports each graded student; `total` is the number of students this run grades."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 30):
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.width = width
        self.done = 0
        self.started = time.monotonic()
        if self.tty and total:
            self._draw_bar()

    def student_done(self, reply: dict) -> None:
        self.done += 1
        score = f"{reply['score']:g}/{reply['max_score']:g}" if "score" in reply else "not graded"
        line = f"[{self.done}/{self.total}] {reply['student']}: {score} in {reply['seconds']:.1f} s"
        notes = [f"    {m}" for m in reply.get("messages", [])]
        if not reply.get("ok", False):
            notes.append(f"    grading failed: {_last_line(reply.get('error', ''))}")
        if self.tty:
            self._print_above_bar([line, *notes] if notes else [])
            self._draw_bar()
        else:
            print("\n".join([line, *notes]), file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and self.total:
            print(file=self.stream, flush=True)

    def _print_above_bar(self, lines: list[str]) -> None:
        for line in lines:
            print(f"\r\x1b[2K{line}", file=self.stream)

    def _draw_bar(self) -> None:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate else 0.0
        filled = round(self.width * self.done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(
            f"\r\x1b[2K[{bar}] {self.done}/{self.total}  {60 * rate:.1f} students/min  {_clock(left)} left"
        )
        self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}" if minutes >= 60 else f"{minutes}:{secs:02d}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "see the log"

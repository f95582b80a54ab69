"""The progress display: a bar with rate and time left on a terminal, plain lines in a log."""

import io

from autograder.grading.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def reply(student: str, score: float, messages=(), ok=True) -> dict:
    return {
        "student": student,
        "ok": ok,
        "seconds": 2.5,
        "score": score,
        "max_score": 27,
        "messages": list(messages),
    }


def test_a_log_gets_one_line_per_student_then_its_messages():
    log = io.StringIO()
    progress = Progress(2, stream=log)
    progress.student_done(reply("alice", 27))
    progress.student_done(reply("bob", 20, ["03_stored_activations.ipynb: was not submitted"]))
    progress.close()
    assert log.getvalue().splitlines() == [
        "[1/2] alice: 27/27 in 2.5 s",
        "[2/2] bob: 20/27 in 2.5 s",
        "    03_stored_activations.ipynb: was not submitted",
    ]


def test_a_terminal_gets_a_bar_with_rate_and_time_left():
    screen = Terminal()
    progress = Progress(4, stream=screen, width=8)
    progress.student_done(reply("alice", 27))
    last = screen.getvalue().split("\r")[-1]
    assert " 1/4 " in last and "#" in last
    assert "student" in last and "left" in last
    assert "[1/4] alice" not in screen.getvalue(), "on a terminal the bar says it; no line per student"


def test_a_terminal_shows_a_students_messages_above_the_bar():
    screen = Terminal()
    progress = Progress(2, stream=screen)
    progress.student_done(reply("bob", 20, ["03_stored_activations.ipynb: was not submitted"]))
    progress.close()
    said = "[1/2] bob: 20/27 in 2.5 s\n    03_stored_activations.ipynb: was not submitted"
    assert said in screen.getvalue()


def test_a_failed_student_shows_the_last_line_of_the_error():
    log = io.StringIO()
    Progress(1, stream=log).student_done(
        reply("carol", 0, ok=False) | {"error": "Traceback\n  ...\nOSError: disk full\n"}
    )
    assert "grading failed: OSError: disk full" in log.getvalue()

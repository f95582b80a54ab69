"""The exchange's settings as the course's nbgrader_config.py gives them, and the config that
students' nbgrader needs to reach it."""

from __future__ import annotations

import getpass
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader


def exchange_settings(course_root: Path) -> dict[str, str]:
    """socket_path and course_id from the course's nbgrader_config.py."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
    socket_path = config.NnlaExchange.get("socket_path")
    if not socket_path:
        raise SystemExit(f"{course_root / 'nbgrader_config.py'} sets no NnlaExchange.socket_path")
    return {"socket_path": socket_path, "course_id": config.CourseDirectory.get("course_id", "")}


def student_config(socket_path: Path, course_id: str, instructor: str | None = None) -> str:
    """An nbgrader_config.py for students (~/.jupyter/ or /etc/jupyter/): the exchange's classes,
    its socket and the user it must run as, so that a socket put there by anyone else is not
    used."""
    return (
        f"# nbgrader config for the students of {course_id}: the course's exchange.\n"
        "# Save as ~/.jupyter/nbgrader_config.py (one student) or /etc/jupyter/nbgrader_config.py (all).\n"
        "from autograder.exchange.client import configure\n\n"
        f"configure(get_config(), socket_path={str(socket_path)!r}, "
        f"instructor={instructor or getpass.getuser()!r}, course_id={course_id!r})  # noqa: F821\n"
    )

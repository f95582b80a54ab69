"""nbgrader's exchange operations, done by asking the course's exchange server (`server.py`).

Chosen in an nbgrader config with `configure(c, socket_path, instructor)`, so plain `nbgrader
release_assignment / fetch_assignment / submit / list / collect / release_feedback /
fetch_feedback` use them. Standard library and nbgrader only: this is what runs in a student's
Python.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import shutil
import socket
import stat
import struct
import tempfile
from pathlib import Path

from nbgrader.exchange import abc
from nbgrader.utils import ignore_patterns
from traitlets import Unicode

from autograder.exchange import protocol
from autograder.exchange.protocol import ArchiveLimits, ProtocolError

CLASSES = {
    "fetch_assignment": "FetchAssignment",
    "fetch_feedback": "FetchFeedback",
    "release_assignment": "ReleaseAssignment",
    "release_feedback": "ReleaseFeedback",
    "list": "List",
    "submit": "Submit",
    "collect": "Collect",
}
# What this side accepts from the server: released assignments and feedback are the instructor's,
# a collected submission was checked against the server's (smaller) limits when it was submitted.
RECEIVED = ArchiveLimits(files=2000, unpacked_bytes=1024 * 1024 * 1024)
MAX_RECEIVED = 1024 * 1024 * 1024


def configure(c, socket_path: str, instructor: str = "", course_id: str | None = None) -> None:
    """Point an nbgrader config `c` at the exchange on `socket_path`. `instructor` (a user name),
    when given, is the only user this client accepts as the server; students' configs name it."""
    for trait, cls in CLASSES.items():
        setattr(c.ExchangeFactory, trait, f"{__name__}.{cls}")
    c.NnlaExchange.socket_path = socket_path
    c.NnlaExchange.instructor = instructor
    if course_id:
        c.CourseDirectory.course_id = course_id


class NnlaExchange(abc.Exchange):
    socket_path = Unicode("", help="The Unix socket of the course's exchange server.").tag(config=True)
    instructor = Unicode(
        "",
        help="User name the exchange server must run as. Empty: whoever owns the socket's folder.",
    ).tag(config=True)

    def init_src(self) -> None:
        pass

    def init_dest(self) -> None:
        pass

    def copy_files(self) -> None:
        pass

    def request(self, header: dict, payload: bytes = b"") -> tuple[dict, bytes]:
        """Send one request, return the answer; a refusal ends the command with its reason."""
        if not self.socket_path:
            self.fail("No exchange socket configured (NnlaExchange.socket_path); ask your instructor.")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(300)
            try:
                conn.connect(self.socket_path)
            except OSError as why:
                self.fail(f"The course exchange is not running ({self.socket_path}: {why.strerror}).")
            self._check_server(conn)
            try:
                protocol.send(conn, header, payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused before reading all of it: the answer says why
            try:
                answer, body = protocol.receive(conn, MAX_RECEIVED)
            except (ProtocolError, OSError) as broken:
                self.fail(f"The course exchange did not answer properly: {broken}")
        if not answer.get("ok"):
            self.fail(f"Refused by the course exchange: {answer.get('error', 'no reason given')}")
        return answer, body

    def _check_server(self, conn: socket.socket) -> None:
        """Talk only to the real server: the process on the other end must run as the instructor
        (or, with no instructor configured, as the owner of the socket's folder, which must be
        writable by that owner alone). Otherwise a student could put a socket of their own there
        and receive everyone's submissions."""
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        server_uid = struct.unpack("3i", creds)[1]
        if self.instructor:
            try:
                expected = pwd.getpwnam(self.instructor).pw_uid
            except KeyError:
                self.fail(f"No user {self.instructor!r} (NnlaExchange.instructor) on this machine.")
        else:
            folder = os.stat(os.path.dirname(os.path.abspath(self.socket_path)))
            if folder.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                self.fail(f"The exchange socket's folder is writable by others: {self.socket_path}")
            expected = folder.st_uid
        if server_uid != expected:
            self.fail(f"{self.socket_path} is served by uid {server_uid}, not the instructor; not using it.")

    def course(self) -> str:
        if not self.coursedir.course_id:
            self.fail("No course id specified. Re-run with --course flag.")
        return self.coursedir.course_id

    def local_folder(self, assignment: str) -> Path:
        """Where a student keeps an assignment: nbgrader's layout, course folder optional."""
        parts = [self.course(), assignment] if getattr(self, "path_includes_course", False) else [assignment]
        return Path(self.assignment_dir, *parts).resolve()

    def named_student(self) -> str | None:
        """The --student given on the command line (nbgrader's default is '*', meaning none)."""
        student = self.coursedir.student_id
        return None if student in ("", "*") else student

    def display_time(self, iso: str) -> str:
        """A server timestamp in nbgrader's timestamp format (what timestamp.txt holds)."""
        return dt.datetime.fromisoformat(iso).strftime(self.timestamp_format)


class ReleaseAssignment(NnlaExchange, abc.ExchangeReleaseAssignment):
    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        src = Path(self.coursedir.format_path(self.coursedir.release_directory, ".", assignment))
        if not src.is_dir():
            self.fail(
                f"Assignment not found at {src}; run `nbgrader generate_assignment {assignment}` first."
            )
        self.request(
            {"op": "release_assignment", "assignment": assignment, "force": self.force},
            protocol.pack(src, shutil.ignore_patterns(*self.coursedir.ignore)),
        )
        self.log.info("Released as: %s %s", self.course(), assignment)


class FetchAssignment(NnlaExchange, abc.ExchangeFetchAssignment):
    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        dest = self.local_folder(assignment)
        if dest.exists() and not self.replace_missing_files:
            self.fail(f"You already have a copy of the assignment in this directory: {assignment}")
        _, archive = self.request({"op": "fetch_assignment", "assignment": assignment})
        with tempfile.TemporaryDirectory() as tmp:
            protocol.unpack(archive, Path(tmp), RECEIVED)
            for path in sorted(Path(tmp).rglob("*")):
                target = dest / path.relative_to(tmp)
                if path.is_file() and not target.exists():  # never overwrite the student's work
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
        self.log.info("Fetched as: %s %s", self.course(), assignment)


class Submit(NnlaExchange, abc.ExchangeSubmit):
    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        src = self.local_folder(assignment)
        if not src.is_dir():
            self.fail(f"Assignment not found at: {src}")
        self._compare_with_release(assignment, src)
        skip = ignore_patterns(
            exclude=self.coursedir.ignore,
            include=self.coursedir.include,
            max_file_size=self.coursedir.max_file_size,
            log=self.log,
        )
        answer, _ = self.request(
            # The server stamps the time; a student id is sent only when one was named, for the
            # server to refuse unless it is the caller's own.
            {"op": "submit", "assignment": assignment, "student": self.named_student()},
            protocol.pack(src, skip),
        )
        self.log.info(
            "Submitted as: %s %s %s (%s)",
            self.course(),
            assignment,
            self.display_time(answer["timestamp"]),
            answer["student"],
        )

    def _compare_with_release(self, assignment: str, src: Path) -> None:
        answer, _ = self.request({"op": "list_assignments"})
        released = next((a["notebooks"] for a in answer["assignments"] if a["assignment"] == assignment), [])
        mine = sorted(p.stem for p in src.glob("*.ipynb"))
        missing = sorted(set(released) - set(mine))
        if missing and self.strict:
            self.fail(f"Assignment {assignment} not submitted: notebooks missing: {', '.join(missing)}")
        if missing or set(mine) - set(released):
            self.log.warning("Released notebooks: %s; submitted: %s", ", ".join(released), ", ".join(mine))


class Collect(NnlaExchange, abc.ExchangeCollect):
    def copy_files(self) -> None:
        assignment = self.coursedir.assignment_id
        if self.before_duedate:
            self.log.warning("--before-duedate is not supported by this exchange: collecting the latest")
        answer, _ = self.request(
            {"op": "list_inbound", "assignment": assignment, "student": self.named_student()}
        )
        students = sorted({s["student"] for s in answer["submissions"]})
        if not students:
            self.log.warning("No submissions of '%s' for course '%s' to collect", assignment, self.course())
        for student in students:
            dest = Path(self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment))
            if dest.exists() and not self.update:
                self.log.info("Submission already exists, use --update to update: %s %s", student, assignment)
                continue
            header, archive = self.request({"op": "collect", "assignment": assignment, "student": student})
            stamp = dt.datetime.fromisoformat(header["timestamp"])
            if dest.exists() and (old := self.coursedir.get_existing_timestamp(str(dest))) is not None:
                if old.replace(tzinfo=dt.UTC) >= stamp:
                    self.log.info("No newer submission to collect: %s %s", student, assignment)
                    continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
                fresh = Path(tmp) / "submission"
                protocol.unpack(archive, fresh, RECEIVED)
                # The time the server stamped, replacing any timestamp.txt the student sent.
                (fresh / "timestamp.txt").write_text(self.display_time(header["timestamp"]))
                if dest.exists():
                    shutil.rmtree(dest)
                fresh.rename(dest)
            self.log.info("Collected submission: %s %s %s", student, assignment, header["timestamp"])


class ReleaseFeedback(NnlaExchange, abc.ExchangeReleaseFeedback):
    def copy_files(self) -> None:
        """Every file of feedback/<student>/<assignment>/ (notebook pages and summary.html), each
        student's sent apart so that the server files it under that student alone."""
        assignment = self.coursedir.assignment_id
        excluded = set(filter(None, self.coursedir.student_id_exclude.split(",")))
        everyone = Path(self.coursedir.root, self.coursedir.feedback_directory)
        named = self.named_student()
        students = (
            [named] if named else sorted(p.name for p in everyone.iterdir()) if everyone.is_dir() else []
        )
        released = 0
        for who in students:
            folder = Path(self.coursedir.format_path(self.coursedir.feedback_directory, who, assignment))
            if who in excluded or not folder.is_dir():
                continue
            stamp_file = folder / "timestamp.txt"
            timestamp = stamp_file.read_text().strip() if stamp_file.exists() else ""
            skip = shutil.ignore_patterns("submission_secret.txt", "timestamp.txt")
            self.request(
                {
                    "op": "release_feedback",
                    "assignment": assignment,
                    "student": who,
                    "timestamp": timestamp or self.timestamp,
                },
                protocol.pack(folder, skip),
            )
            released += 1
            self.log.info("Released feedback for %s on %s", who, assignment)
        if not released:
            self.log.warning("No feedback found under %s/<student>/%s", everyone, assignment)


class FetchFeedback(NnlaExchange, abc.ExchangeFetchFeedback):
    def copy_files(self) -> None:
        """Into <assignment>/feedback/<timestamp>/, as nbgrader's own exchange does."""
        assignment = self.coursedir.assignment_id
        header, archive = self.request(
            {"op": "fetch_feedback", "assignment": assignment, "student": self.named_student()}
        )
        dest = self.local_folder(assignment) / "feedback" / header["timestamp"]
        for path in protocol.unpack(archive, dest, RECEIVED):
            self.log.info("Fetched feedback: %s", path)


class List(NnlaExchange, abc.ExchangeList):
    def list_files(self) -> list[dict]:
        if self.inbound or self.cached:
            return self._submissions()
        answer, _ = self.request({"op": "list_assignments"})
        found = []
        self.log.info("Released assignments:")
        wanted = self.coursedir.assignment_id
        for item in answer["assignments"]:
            if wanted and item["assignment"] != wanted:
                continue
            local = self.local_folder(item["assignment"])
            fetched = local.is_dir()
            self.log.info(
                "%s %s%s", self.course(), item["assignment"], " (already downloaded)" if fetched else ""
            )
            found.append(
                {
                    "course_id": self.course(),
                    "assignment_id": item["assignment"],
                    "status": "fetched" if fetched else "released",
                    "path": str(local),
                    "notebooks": [
                        {"notebook_id": nb, "path": str(local / f"{nb}.ipynb")} for nb in item["notebooks"]
                    ],
                }
            )
        return found

    def _submissions(self) -> list[dict]:
        answer, _ = self.request(
            {
                "op": "list_inbound" if self.inbound else "list_submissions",
                "assignment": self.coursedir.assignment_id or None,
                "student": self.named_student(),
            }
        )
        grouped: dict[tuple[str, str], list[dict]] = {}
        self.log.info("Submitted assignments:")
        for sub in answer["submissions"]:
            info = {
                "course_id": self.course(),
                "student_id": sub["student"],
                "assignment_id": sub["assignment"],
                "timestamp": self.display_time(sub["timestamp"]),
                "status": "submitted",
                "path": "",
                "notebooks": [],
                "has_exchange_feedback": sub["feedback"] is not None,
                "has_local_feedback": False,
                "feedback_updated": False,
                "local_feedback_path": None,
            }
            feedback = " (feedback ready to be fetched)" if sub["feedback"] else " (no feedback available)"
            self.log.info(
                "%s %s %s %s%s", self.course(), sub["student"], sub["assignment"], info["timestamp"], feedback
            )
            grouped.setdefault((sub["student"], sub["assignment"]), []).append(info)
        return [
            {
                "course_id": self.course(),
                "student_id": student,
                "assignment_id": assignment,
                "status": "submitted",
                "submissions": subs,
            }
            for (student, assignment), subs in sorted(grouped.items())
        ]

    def remove_files(self) -> list[dict]:
        if self.inbound or self.cached:
            self.fail("Submissions cannot be removed through this exchange.")
        found = self.list_files()
        for item in found:
            self.request({"op": "remove_assignment", "assignment": item["assignment_id"]})
            self.log.info("Removed %s %s", self.course(), item["assignment_id"])
        return found

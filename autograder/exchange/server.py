"""`nnla exchange serve`: the course's exchange, a daemon the instructor runs.

Students reach it only through a Unix socket. Who is calling is what the kernel says
(SO_PEERCRED: the uid of the process at the other end, which no one can forge), and the caller's
user name is their student id: nothing the client sends about itself is believed. Everything
lives in a folder only the instructor can open (0700), so a student who knows where it is can
read, change or delete nothing there; the only way in is the operations below:

| op | who | what |
| --- | --- | --- |
| `release_assignment`, `remove_assignment` | instructor | publish or withdraw an assignment |
| `list_assignments`, `fetch_assignment` | anyone | the released assignments |
| `submit` | anyone, as themselves | store a submission stamped with the server's clock |
| `list_submissions` | anyone, their own only | submission times |
| `list_inbound` | instructor | everyone's submission times |
| `collect` | instructor | a student's latest submission and its time |
| `release_feedback` | instructor | a student's feedback pages (every file of the folder) |
| `fetch_feedback` | anyone, their own only | those pages |

The instructor is the user who started the server.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import pwd
import socket
import stat
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autograder.exchange import protocol
from autograder.exchange.protocol import ArchiveLimits, ProtocolError, valid_id

log = logging.getLogger("nnla.exchange")
STAMP = "%Y%m%dT%H%M%S.%fZ"  # a submission's file name: its time, sortable


class Refused(Exception):
    """An operation the caller may not do, or asked wrongly; the message goes back to them."""


@dataclass(frozen=True)
class Limits:
    """What one student can make the server store or do, so that no one can fill its disk or
    tie up its threads."""

    submission: ArchiveLimits = ArchiveLimits(files=200, unpacked_bytes=100 * 1024 * 1024)
    submission_bytes: int = 50 * 1024 * 1024  # the zip as sent
    submissions_kept: int = 5  # per student and assignment: older ones are deleted
    release: ArchiveLimits = ArchiveLimits(files=2000, unpacked_bytes=1024 * 1024 * 1024)
    release_bytes: int = 1024 * 1024 * 1024  # what the instructor may send (assignments, feedback)
    connections: int = 32  # served at once; more are turned away
    timeout: float = 60.0  # seconds a connection may take to send its request or read the answer


@dataclass(frozen=True)
class Caller:
    uid: int
    name: str  # the student id
    instructor: bool


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket, as the kernel recorded it."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def user_name(uid: int) -> str:
    return pwd.getpwuid(uid).pw_name


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class ExchangeServer:
    store: Path
    socket_path: Path
    limits: Limits = field(default_factory=Limits)
    instructor_uids: frozenset[int] = field(default_factory=lambda: frozenset({os.geteuid()}))
    # How a caller is identified; tests replace these only to play a second user where the
    # machine has none.
    peer_uid: Callable[[socket.socket], int] = peer_uid
    user_name: Callable[[int], str] = user_name
    clock: Callable[[], dt.datetime] = now_utc

    def __post_init__(self) -> None:
        self.store = Path(self.store)
        self.socket_path = Path(self.socket_path)
        self._lock = threading.Lock()  # one change to the store at a time
        self._slots = threading.BoundedSemaphore(self.limits.connections)
        self._stopping = threading.Event()
        self._listener: socket.socket | None = None

    # -- setting up -------------------------------------------------------------------------

    def bind(self) -> None:
        """Create the store (0700) and the socket, after checking that no one else could swap the
        socket for their own: its folder must be the server's and writable by it alone."""
        self.store.mkdir(parents=True, exist_ok=True)
        os.chmod(self.store, 0o700)
        for sub in ("outbound", "inbound", "feedback"):
            (self.store / sub).mkdir(exist_ok=True)
        folder = self.socket_path.parent
        info = folder.stat()
        if info.st_uid != os.geteuid():
            raise SystemExit(f"{folder} must belong to you (it belongs to uid {info.st_uid})")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise SystemExit(f"{folder} must be writable by you alone (chmod go-w {folder})")
        if info.st_mode & 0o011 != 0o011:
            log.warning("%s is not searchable by everyone: students cannot reach the socket", folder)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(self.socket_path.lstat().st_mode):
                self.socket_path.unlink()  # left by a previous server
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.socket_path))
        # Anyone may connect: who may do what is decided per request from the peer's uid.
        os.chmod(self.socket_path, 0o666)
        listener.listen(64)
        listener.settimeout(0.2)  # so that serve_forever notices shutdown()
        self._listener = listener

    def serve_forever(self) -> None:
        if self._listener is None:
            self.bind()
        log.info("nnla exchange serving on %s, store %s", self.socket_path, self.store)
        try:
            while not self._stopping.is_set():
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                if not self._slots.acquire(blocking=False):
                    self._answer_and_close(conn, {"ok": False, "error": "exchange busy, try again shortly"})
                    continue
                threading.Thread(target=self._serve_one, args=(conn,), daemon=True).start()
        finally:
            self._listener.close()
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()

    def shutdown(self) -> None:
        self._stopping.set()

    # -- one connection ----------------------------------------------------------------------

    def _answer_and_close(self, conn: socket.socket, header: dict, payload: bytes = b"") -> None:
        with contextlib.suppress(OSError):
            protocol.send(conn, header, payload)
        conn.close()

    def _serve_one(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(self.limits.timeout)
            header, payload = {"ok": False, "error": "internal error"}, b""
            try:
                caller = self.identify(conn)
                request, size = protocol.receive_header(conn)
                header, payload = self.handle(caller, request, size, conn)
            except (Refused, ProtocolError) as refused:
                log.warning("refused: %s", refused)
                header = {"ok": False, "error": str(refused)}
            except OSError as broken:  # the client went away or timed out: no one to answer
                log.info("connection dropped: %s", broken)
                conn.close()
                return
            except Exception:
                log.exception("request failed")
            self._answer_and_close(conn, header, payload)
        finally:
            self._slots.release()

    def identify(self, conn: socket.socket) -> Caller:
        uid = self.peer_uid(conn)
        try:
            name = self.user_name(uid)
        except KeyError:
            raise Refused(f"uid {uid} has no user name, so no student id") from None
        if not valid_id(name):
            raise Refused(f"user name {name!r} cannot be a student id here")
        return Caller(uid, name, uid in self.instructor_uids)

    def handle(self, caller: Caller, request: dict, size: int, conn: socket.socket) -> tuple[dict, bytes]:
        """Check the request against the caller's rights, then read its payload (only then, and
        only up to the operation's limit) and run it."""
        op = request.get("op")
        if op not in OPERATIONS:
            raise Refused(f"unknown operation {op!r}")
        instructor_only, max_payload = OPERATIONS[op]
        if instructor_only and not caller.instructor:
            raise Refused(f"{op} is for the instructor only")
        limit = {"submission": self.limits.submission_bytes, "release": self.limits.release_bytes}.get(
            max_payload, 0
        )
        if size > limit:
            raise Refused(f"{op}: {size} bytes sent, the limit is {limit}")
        payload = protocol.read_payload(conn, size)
        log.info("%s (uid %d): %s %s", caller.name, caller.uid, op, _arguments(request))
        answer = getattr(self, f"op_{op}")(caller, request, payload)
        return answer if isinstance(answer, tuple) else (answer, b"")

    # -- the operations ----------------------------------------------------------------------

    def op_release_assignment(self, caller: Caller, req: dict, payload: bytes) -> dict:
        assignment = _id(req, "assignment")
        protocol.check_archive(payload, self.limits.release)
        target = self.store / "outbound" / f"{assignment}.zip"
        with self._lock:
            if target.exists() and not req.get("force"):
                raise Refused(f"{assignment} is already released; add --force to replace it")
            _write_atomically(target, payload)
        return {"ok": True}

    def op_remove_assignment(self, caller: Caller, req: dict, payload: bytes) -> dict:
        target = self.store / "outbound" / f"{_id(req, 'assignment')}.zip"
        with self._lock:
            target.unlink(missing_ok=True)
        return {"ok": True}

    def op_list_assignments(self, caller: Caller, req: dict, payload: bytes) -> dict:
        found = []
        for path in sorted((self.store / "outbound").glob("*.zip")):
            entries = protocol.check_archive(path.read_bytes(), self.limits.release)
            notebooks = sorted(e.filename[: -len(".ipynb")] for e in entries if _top_notebook(e.filename))
            found.append({"assignment": path.stem, "notebooks": notebooks})
        return {"ok": True, "assignments": found}

    def op_fetch_assignment(self, caller: Caller, req: dict, payload: bytes) -> tuple[dict, bytes]:
        return {"ok": True}, self._released(_id(req, "assignment")).read_bytes()

    def op_submit(self, caller: Caller, req: dict, payload: bytes) -> dict:
        student = self._student(caller, req, own_only=True)
        assignment = _id(req, "assignment")
        self._released(assignment)
        protocol.check_archive(payload, self.limits.submission)
        folder = self.store / "inbound" / student / assignment
        with self._lock:
            folder.mkdir(parents=True, exist_ok=True)
            stamp = self.clock().astimezone(dt.UTC)
            while (folder / f"{stamp.strftime(STAMP)}.zip").exists():  # two in one microsecond
                stamp += dt.timedelta(microseconds=1)
            _write_atomically(folder / f"{stamp.strftime(STAMP)}.zip", payload)
            for old in sorted(folder.glob("*.zip"))[: -self.limits.submissions_kept]:
                old.unlink()
        return {"ok": True, "student": student, "timestamp": stamp.isoformat()}

    def op_list_submissions(self, caller: Caller, req: dict, payload: bytes) -> dict:
        """The caller's own submissions (`nbgrader list --cached`)."""
        student = self._student(caller, req, own_only=True)
        return {"ok": True, "submissions": self._submissions([student], req.get("assignment"))}

    def op_list_inbound(self, caller: Caller, req: dict, payload: bytes) -> dict:
        """Everyone's submissions, or one student's (`nbgrader list --inbound`, collect)."""
        student = self._student(caller, req, own_only=False, default_all=True)
        students = [student] if student else sorted(p.name for p in (self.store / "inbound").iterdir())
        return {"ok": True, "submissions": self._submissions(students, req.get("assignment"))}

    def _submissions(self, students: list[str], assignment: object) -> list[dict]:
        if assignment and not valid_id(assignment):
            raise Refused(f"not an assignment id: {assignment!r}")
        found = []
        for who in students:
            for folder in sorted((self.store / "inbound" / who).glob(assignment or "*")):
                feedback = self._feedback_meta(who, folder.name)
                for path in sorted(folder.glob("*.zip")):
                    found.append(
                        {
                            "student": who,
                            "assignment": folder.name,
                            "timestamp": _stamp_of(path).isoformat(),
                            "feedback": feedback.get("timestamp") if feedback else None,
                        }
                    )
        return found

    def op_collect(self, caller: Caller, req: dict, payload: bytes) -> tuple[dict, bytes]:
        student, assignment = _id(req, "student"), _id(req, "assignment")
        submissions = sorted((self.store / "inbound" / student / assignment).glob("*.zip"))
        if not submissions:
            raise Refused(f"no submission of {assignment} by {student}")
        latest = submissions[-1]
        return {"ok": True, "timestamp": _stamp_of(latest).isoformat()}, latest.read_bytes()

    def op_release_feedback(self, caller: Caller, req: dict, payload: bytes) -> dict:
        student, assignment = _id(req, "student"), _id(req, "assignment")
        protocol.check_archive(payload, self.limits.release)
        timestamp = req.get("timestamp")
        # It names the student's feedback folder (nbgrader's layout), so it must be one name.
        if not isinstance(timestamp, str) or len(timestamp) > 64 or not valid_folder_name(timestamp):
            raise Refused("release_feedback needs the submission's timestamp")
        folder = self.store / "feedback" / student
        with self._lock:
            folder.mkdir(exist_ok=True)
            _write_atomically(folder / f"{assignment}.zip", payload)
            _write_atomically(folder / f"{assignment}.json", json.dumps({"timestamp": timestamp}).encode())
        return {"ok": True}

    def op_fetch_feedback(self, caller: Caller, req: dict, payload: bytes) -> tuple[dict, bytes]:
        student = self._student(caller, req, own_only=True)
        assignment = _id(req, "assignment")
        meta = self._feedback_meta(student, assignment)
        if meta is None:
            raise Refused(f"no feedback released for {assignment} yet")
        pages = (self.store / "feedback" / student / f"{assignment}.zip").read_bytes()
        return {"ok": True, "timestamp": meta["timestamp"]}, pages

    # -- helpers -----------------------------------------------------------------------------

    def _student(self, caller: Caller, req: dict, own_only: bool, default_all: bool = False) -> str | None:
        """The student a request is about: the caller, unless the instructor names someone.
        Naming anyone else is refused outright rather than ignored, so that a student who tries
        learns it does not work."""
        named = req.get("student") or None
        if named is None:
            return None if default_all else caller.name
        if not valid_id(named):
            raise Refused(f"not a student id: {named!r}")
        if own_only and named != caller.name:
            raise Refused(f"you are {caller.name}; you cannot act as {named}")
        return named

    def _released(self, assignment: str) -> Path:
        path = self.store / "outbound" / f"{assignment}.zip"
        if not path.exists():
            raise Refused(f"{assignment} is not released")
        return path

    def _feedback_meta(self, student: str, assignment: str) -> dict | None:
        path = self.store / "feedback" / student / f"{assignment}.json"
        return json.loads(path.read_text()) if path.exists() else None


# op -> (instructor only, which payload limit applies: None means no payload)
OPERATIONS: dict[str, tuple[bool, str | None]] = {
    "release_assignment": (True, "release"),
    "remove_assignment": (True, None),
    "list_assignments": (False, None),
    "fetch_assignment": (False, None),
    "submit": (False, "submission"),
    "list_submissions": (False, None),
    "list_inbound": (True, None),
    "collect": (True, None),
    "release_feedback": (True, "release"),
    "fetch_feedback": (False, None),
}


def valid_folder_name(name: str) -> bool:
    return name not in ("", ".", "..") and not any(c in name for c in "/\\\0")


def _id(req: dict, key: str) -> str:
    value = req.get(key)
    if not valid_id(value):
        raise Refused(f"not a valid {key} id: {value!r}")
    return value


def _arguments(req: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(req.items()) if k != "op")


def _top_notebook(name: str) -> bool:
    return "/" not in name and name.endswith(".ipynb")


def _stamp_of(path: Path) -> dt.datetime:
    return dt.datetime.strptime(path.stem, STAMP).replace(tzinfo=dt.UTC)


def _write_atomically(target: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one (a crash leaves a .tmp)."""
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)


def serve(store: Path, socket_path: Path, limits: Limits | None = None) -> None:
    """Run the exchange until interrupted (Ctrl-C or SIGTERM)."""
    import signal

    server = ExchangeServer(store, socket_path, limits or Limits())
    server.bind()
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.shutdown()

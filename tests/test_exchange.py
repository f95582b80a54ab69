"""The exchange's wire format, archive rules and the server's identity and permission rules.

The server runs in a thread on a socket in tmp_path. Who calls is what SO_PEERCRED says; where
these tests play several students from one process, they replace only that lookup (`acting`),
and one test checks the real lookup. tests/test_exchange_as_users.py does it all with real users.
"""

import datetime as dt
import io
import os
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from autograder.exchange import protocol
from autograder.exchange.protocol import ArchiveLimits, ProtocolError
from autograder.exchange.server import ExchangeServer, Limits, peer_uid
from autograder.exchange.settings import student_config

INSTRUCTOR = os.geteuid()
USERS = {INSTRUCTOR: "teacher", 5001: "alice", 5002: "bob", 5003: "nameless"}


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class Exchange:
    """A server in a thread, and `call(user, header, payload)` to talk to it as `user`."""

    def __init__(self, tmp_path: Path, limits: Limits):
        self.acting = INSTRUCTOR
        self.now = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)

        def name(uid: int) -> str:
            if USERS.get(uid, "nameless") == "nameless":
                raise KeyError(uid)
            return USERS[uid]

        self.server = ExchangeServer(
            tmp_path / "store",
            tmp_path / "sock" / "exchange.sock",
            limits,
            peer_uid=lambda conn: self.acting,
            user_name=name,
            clock=lambda: self.now,
        )
        (tmp_path / "sock").mkdir(mode=0o755)
        self.server.bind()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def call(self, user: str, header: dict, payload: bytes = b"") -> tuple[dict, bytes]:
        self.acting = next(uid for uid, name in USERS.items() if name == user)
        with socket.socket(socket.AF_UNIX) as conn:
            conn.connect(str(self.server.socket_path))
            try:
                protocol.send(conn, header, payload)
            except BrokenPipeError:
                pass
            return protocol.receive(conn, 1 << 30)

    def ok(self, user: str, header: dict, payload: bytes = b"") -> tuple[dict, bytes]:
        answer, body = self.call(user, header, payload)
        assert answer["ok"], answer
        return answer, body

    def refused(self, user: str, header: dict, payload: bytes = b"") -> str:
        answer, body = self.call(user, header, payload)
        assert not answer["ok"] and body == b"", answer
        return answer["error"]


@pytest.fixture
def exchange(tmp_path):
    ex = Exchange(tmp_path, Limits(submissions_kept=2, submission_bytes=10_000))
    ex.ok("teacher", {"op": "release_assignment", "assignment": "ch177"}, zipped({"01.ipynb": b"{}"}))
    yield ex
    ex.server.shutdown()
    ex.thread.join(5)


# -- the wire format and archives -------------------------------------------------------------


def test_a_frame_round_trips_and_a_foreign_or_oversized_one_is_refused():
    left, right = socket.socketpair()
    with left, right:
        protocol.send(left, {"op": "x", "n": [1, 2]}, b"payload")
        assert protocol.receive(right, 100) == ({"op": "x", "n": [1, 2]}, b"payload")
        protocol.send(left, {"op": "x"}, b"0123456789")
        with pytest.raises(ProtocolError, match="exceeds the limit"):
            protocol.receive(right, 5)
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"GET / HTTP/1.1\r\n\r\n")
        with pytest.raises(ProtocolError, match="not an nnla exchange frame"):
            protocol.receive(right, 100)


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd", "a/../../b", "a\\..\\b", "./x"])
def test_archives_with_names_that_leave_the_folder_are_refused(name, tmp_path):
    with pytest.raises(ProtocolError, match="unsafe file name"):
        protocol.unpack(zipped({name: b"x"}), tmp_path / "dest", ArchiveLimits())
    assert not (tmp_path / "dest").exists() and not (tmp_path / "escape.txt").exists()


def test_archives_over_the_file_or_size_limit_are_refused():
    with pytest.raises(ProtocolError, match="3 files"):
        protocol.check_archive(zipped({f"{i}": b"" for i in range(3)}), ArchiveLimits(files=2))
    bomb = zipped({"big": b"\0" * 100_000})  # compresses to a few hundred bytes
    assert len(bomb) < 1000
    with pytest.raises(ProtocolError, match="once unpacked"):
        protocol.check_archive(bomb, ArchiveLimits(unpacked_bytes=50_000))


def test_pack_leaves_out_links_and_ignored_names(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.ipynb").write_text("{}")
    (tmp_path / "secret").symlink_to("/etc/hostname")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "x").write_text("")
    archive = protocol.pack(tmp_path, lambda d, names: [n for n in names if n.startswith(".")])
    assert zipfile.ZipFile(io.BytesIO(archive)).namelist() == ["sub/a.ipynb"]


def test_the_kernel_reports_the_peer_uid():
    left, right = socket.socketpair()
    with left, right:
        assert peer_uid(left) == os.getuid()


# -- identity and permissions -----------------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        {"op": "release_assignment", "assignment": "ch177", "force": True},
        {"op": "remove_assignment", "assignment": "ch177"},
        {"op": "list_inbound", "assignment": "ch177"},
        {"op": "collect", "assignment": "ch177", "student": "bob"},
        {"op": "release_feedback", "assignment": "ch177", "student": "bob", "timestamp": "t"},
    ],
    ids=lambda r: r["op"],
)
def test_instructor_operations_are_refused_to_students(exchange, request_):
    assert "instructor only" in exchange.refused("alice", request_, zipped({"01.ipynb": b"x"}))


def test_a_student_submits_only_as_themselves(exchange):
    submission = zipped({"01.ipynb": b"alice"})
    error = exchange.refused("alice", {"op": "submit", "assignment": "ch177", "student": "bob"}, submission)
    assert "you are alice; you cannot act as bob" in error
    answer, _ = exchange.ok("alice", {"op": "submit", "assignment": "ch177", "student": "alice"}, submission)
    assert answer["student"] == "alice"
    listed, _ = exchange.ok("teacher", {"op": "list_inbound"})
    assert [s["student"] for s in listed["submissions"]] == ["alice"]


def test_the_server_stamps_the_time_and_a_students_timestamp_is_only_a_file(exchange):
    backdated = zipped({"01.ipynb": b"x", "timestamp.txt": b"2000-01-01 00:00:00 UTC"})
    answer, _ = exchange.ok("alice", {"op": "submit", "assignment": "ch177", "timestamp": "2000"}, backdated)
    assert answer["timestamp"] == "2026-11-30T12:00:00+00:00"
    collected, _ = exchange.ok("teacher", {"op": "collect", "assignment": "ch177", "student": "alice"})
    assert collected["timestamp"] == "2026-11-30T12:00:00+00:00"


def test_the_latest_submission_is_collected_and_only_the_last_few_are_kept(exchange):
    for minute in range(3):
        exchange.now = exchange.now.replace(minute=minute)
        exchange.ok("bob", {"op": "submit", "assignment": "ch177"}, zipped({"01.ipynb": b"v%d" % minute}))
    listed, _ = exchange.ok("bob", {"op": "list_submissions"})
    assert [s["timestamp"][11:16] for s in listed["submissions"]] == ["12:01", "12:02"]  # kept: 2
    answer, archive = exchange.ok("teacher", {"op": "collect", "assignment": "ch177", "student": "bob"})
    assert answer["timestamp"].startswith("2026-11-30T12:02")
    assert zipfile.ZipFile(io.BytesIO(archive)).read("01.ipynb") == b"v2"


def test_oversized_or_unsafe_submissions_and_unreleased_assignments_are_refused(exchange):
    error = exchange.refused("bob", {"op": "submit", "assignment": "ch177"}, b"\0" * 20_000)
    assert "limit is 10000" in error
    error = exchange.refused("bob", {"op": "submit", "assignment": "ch177"}, zipped({"../x": b""}))
    assert "unsafe file name" in error
    error = exchange.refused("bob", {"op": "submit", "assignment": "ch999"}, zipped({"a": b""}))
    assert "not released" in error
    assert "not a valid assignment id" in exchange.refused("bob", {"op": "submit", "assignment": "../x"})
    assert "unknown operation" in exchange.refused("bob", {"op": "delete_everything"})
    listed, _ = exchange.ok("teacher", {"op": "list_inbound"})
    assert listed["submissions"] == []


def test_students_see_only_their_own_submissions_and_feedback(exchange):
    for who in ("alice", "bob"):
        exchange.ok(who, {"op": "submit", "assignment": "ch177"}, zipped({"01.ipynb": who.encode()}))
    pages = zipped({"01.html": b"<p>alice's page</p>", "summary.html": b"<p>alice 3/3</p>"})
    release = {"op": "release_feedback", "assignment": "ch177", "student": "alice", "timestamp": "t1"}
    exchange.ok("teacher", release, pages)

    answer, body = exchange.ok("alice", {"op": "fetch_feedback", "assignment": "ch177"})
    assert answer["timestamp"] == "t1"
    assert sorted(zipfile.ZipFile(io.BytesIO(body)).namelist()) == ["01.html", "summary.html"]
    assert "no feedback released" in exchange.refused("bob", {"op": "fetch_feedback", "assignment": "ch177"})
    ask_for_alice = {"op": "fetch_feedback", "assignment": "ch177", "student": "alice"}
    assert "cannot act as alice" in exchange.refused("bob", ask_for_alice)
    assert "cannot act as alice" in exchange.refused("bob", {"op": "list_submissions", "student": "alice"})
    listed, _ = exchange.ok("bob", {"op": "list_submissions"})
    assert {s["student"] for s in listed["submissions"]} == {"bob"}
    bad = {**release, "timestamp": ".."}
    assert "timestamp" in exchange.refused("teacher", bad, pages)


def test_a_uid_without_a_user_name_is_refused(exchange):
    assert "no user name" in exchange.refused("nameless", {"op": "list_assignments"})


def test_the_store_is_the_instructors_alone(exchange):
    store = exchange.server.store
    assert store.stat().st_mode & 0o777 == 0o700 and store.stat().st_uid == INSTRUCTOR
    assert exchange.server.socket_path.stat().st_mode & 0o777 == 0o666  # rights are per request


def test_the_server_refuses_a_socket_folder_others_can_write(tmp_path):
    (tmp_path / "open").mkdir()
    os.chmod(tmp_path / "open", 0o777)
    server = ExchangeServer(tmp_path / "store", tmp_path / "open" / "exchange.sock")
    with pytest.raises(SystemExit, match="writable by you alone"):
        server.bind()


# -- the nbgrader side ------------------------------------------------------------------------


def test_a_student_client_refuses_a_server_not_run_by_the_instructor(exchange, tmp_path):
    """A socket served by anyone but the configured instructor is not used: a student who put
    one where the course's should be would otherwise receive everyone's submissions."""
    home = tmp_path / "home"
    home.mkdir()
    config = student_config(exchange.server.socket_path, "nnla", instructor="nobody")
    (home / "nbgrader_config.py").write_text(config)
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", "fetch_assignment", "ch177"],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "not the instructor; not using it" in done.stdout + done.stderr
    assert not (home / "ch177").exists()

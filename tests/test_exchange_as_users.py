"""The exchange end to end with real Unix users (as root): the instructor (root) releases ch177,
three students fetch and submit with plain nbgrader, one of them tries what a student should not
be able to do, the instructor collects and releases feedback, and each student fetches their own.

Students run nbgrader with the course venv's packages through a Python they may execute (the
venv's own interpreter may sit in /root, closed to them): a venv of the system's Python 3 whose
site-packages are the course venv's.
"""

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest

from autograder.exchange.settings import student_config
from tests.conftest import copy_course

STUDENTS = ["nnla-ex-ann", "nnla-ex-ben", "nnla-ex-cat"]
ANN, BEN, CAT = STUDENTS
VENV_BIN = Path(sys.executable).parent

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="creates Unix users for the students, so runs as root only"),
]


def student_python(folder: Path) -> Path:
    """A Python the students may run, seeing the course venv's packages (nbgrader, nnla)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path="/usr/bin:/usr/local/bin:/bin")
    if system is None:
        pytest.skip(f"no {version} outside /root for the students to run")
    subprocess.run([system, "-m", "venv", "--without-pip", str(folder)], check=True)
    site = folder / "lib" / version / "site-packages"
    # `import site; site.addsitedir(...)` so that the course venv's .pth files (nnla's editable
    # install among them) are read as well.
    (site / "course-venv.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n"
    )
    return folder / "bin" / "python"


class Student:
    def __init__(self, name: str, python: Path, socket_path: Path):
        self.name = name
        if subprocess.run(["id", name], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
        self.home = Path(
            subprocess.run(["getent", "passwd", name], capture_output=True, text=True).stdout.split(":")[5]
        )
        for leftover in ("ch177", ".jupyter", ".local/share/jupyter"):  # from an earlier run
            shutil.rmtree(self.home / leftover, ignore_errors=True)
        (self.home / ".jupyter").mkdir()
        config = student_config(socket_path, "nnla", instructor="root")
        (self.home / ".jupyter" / "nbgrader_config.py").write_text(config)
        subprocess.run(["chown", "-R", f"{name}:", str(self.home / ".jupyter")], check=True)
        self.python = python

    def run(self, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        env = ["env", "-i", f"HOME={self.home}", "LANG=C.UTF-8", "PATH=/usr/bin:/bin"]
        return subprocess.run(
            ["runuser", "-u", self.name, "--", *env, *argv],
            cwd=cwd or self.home,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def nbgrader(self, *args: str) -> subprocess.CompletedProcess:
        return self.run(str(self.python), "-m", "nbgrader", *args)

    def python_code(self, code: str) -> subprocess.CompletedProcess:
        return self.run(str(self.python), "-c", code)


def output(done: subprocess.CompletedProcess) -> str:
    return done.stdout + done.stderr


@contextlib.contextmanager
def running_exchange(repo, top: Path, names: list[str]):
    """A copy of the course in `top` with the exchange served by root, and a Student per name."""
    os.chmod(top, 0o755)  # students may pass through; the store inside must still keep them out
    course = copy_course(repo, top / "course")
    os.chmod(course.root, 0o755)
    sockets = top / "sockets"
    sockets.mkdir(mode=0o755)
    socket_path = sockets / "exchange.sock"
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write(f"\nc.NnlaExchange.socket_path = {str(socket_path)!r}\n")
    python = student_python(top / "student-venv")
    server = subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", "exchange", "serve"],
        cwd=course.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not socket_path.exists():
            assert server.poll() is None and time.monotonic() < deadline, server.stdout.read()
            time.sleep(0.1)
        yield course, {name: Student(name, python, socket_path) for name in names}, server
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="module")
def setup(repo):
    top = Path(tempfile.mkdtemp(prefix="nnla-exchange-"))
    with running_exchange(repo, top, STUDENTS) as (course, students, server):
        yield course, students, server
    shutil.rmtree(top, ignore_errors=True)


def instructor(course, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    return subprocess.run(
        [str(VENV_BIN / "nbgrader"), *args],
        cwd=course.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_release_fetch_submit_collect_and_feedback_with_real_users(setup):
    course, students, server = setup
    ann, ben, cat = (students[s] for s in STUDENTS)
    started = dt.datetime.now(dt.UTC)

    done = instructor(course, "release_assignment", "ch177")
    assert done.returncode == 0, output(done)
    store = course.root / ".nnla" / "exchange"
    assert (store.stat().st_mode & 0o777, store.stat().st_uid) == (0o700, 0)

    # Every student sees the release and fetches it.
    listed = cat.nbgrader("list")
    assert listed.returncode == 0 and "nnla ch177" in output(listed), output(listed)
    for student in students.values():
        done = student.nbgrader("fetch_assignment", "ch177", "--course", "nnla")
        assert done.returncode == 0, output(done)
        assert (student.home / "ch177" / "01_param_count.ipynb").is_file()

    def mark(student: Student, text: str) -> None:
        """Write `text` into the student's first notebook's metadata, to recognise it collected."""
        code = (
            "import json, pathlib; p = pathlib.Path('ch177/01_param_count.ipynb');"
            f" nb = json.loads(p.read_text()); nb['metadata']['mark'] = {text!r};"
            " p.write_text(json.dumps(nb))"
        )
        assert student.python_code(code).returncode == 0

    # ann submits once; ben twice (the later counts).
    mark(ann, "ann's only")
    done = ann.nbgrader("submit", "ch177")
    assert done.returncode == 0 and "Submitted as: nnla ch177" in output(done), output(done)
    mark(ben, "ben's first")
    assert ben.nbgrader("submit", "ch177").returncode == 0
    mark(ben, "ben's second")
    assert ben.nbgrader("submit", "ch177").returncode == 0

    # cat tries to act as ann through the exchange: every way is refused.
    mark(cat, "cat as ann")
    cat.run("mkdir", "release")
    assert cat.run("cp", "-r", "ch177", "release/ch177").returncode == 0  # to release as the instructor
    done = cat.nbgrader("submit", "ch177", "--student", ANN)
    assert done.returncode != 0 and f"you are {CAT}; you cannot act as {ANN}" in output(done), output(done)
    for attempt in (
        ["fetch_feedback", "ch177", "--student", ANN],
        ["list", "--inbound", "--student", ANN],
        ["collect", "ch177"],  # would read everyone's
        ["release_assignment", "ch177", "--force"],  # would replace the assignment
        ["list", "--remove", "ch177"],  # would withdraw it
    ):
        done = cat.nbgrader(*attempt, "--course", "nnla")
        assert done.returncode != 0 and "Refused by the course exchange" in output(done), (
            attempt,
            output(done),
        )
    # ... and with hand-made requests, which no nbgrader option produces.
    raw = (
        "import socket, sys; from autograder.exchange import protocol as p\n"
        "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "p.send(s, {'op': 'collect', 'assignment': 'ch177', 'student': sys.argv[2]})\n"
        "print(p.receive(s, 1 << 30)[0])"
    )
    socket_path = str(course.root.parent / "sockets" / "exchange.sock")
    done = cat.run(str(cat.python), "-c", raw, socket_path, ANN)
    assert "instructor only" in done.stdout, output(done)

    # ... and through the file system: the store, the submissions in it and the socket.
    ann_submissions = store / "inbound" / ANN / "ch177"
    for command in (
        ["ls", str(store)],
        ["ls", str(ann_submissions)],
        ["cat", str(next(ann_submissions.glob("*.zip")))],
        ["rm", "-rf", str(ann_submissions)],
        ["cp", "/etc/hostname", str(ann_submissions / "20990101T000000.000000Z.zip")],
        ["rm", "-f", socket_path],
    ):
        done = cat.run(*command)
        assert done.returncode != 0 and "Permission denied" in done.stderr, (command, output(done))
    assert len(list(ann_submissions.glob("*.zip"))) == 1 and Path(socket_path).exists()

    # cat backdates: a timestamp.txt of its own in the submission changes nothing.
    mark(cat, "cat's own")
    (cat.home / "ch177" / "timestamp.txt").write_text("2000-01-01 00:00:00.000000 UTC")
    assert cat.nbgrader("submit", "ch177").returncode == 0

    # The instructor collects: the latest submission of each, times stamped by the server.
    done = instructor(course, "collect", "ch177")
    assert done.returncode == 0, output(done)
    finished = dt.datetime.now(dt.UTC)
    marks = {}
    for name in STUDENTS:
        folder = course.root / "submitted" / name / "ch177"
        stamp = dt.datetime.strptime(
            (folder / "timestamp.txt").read_text(), "%Y-%m-%d %H:%M:%S.%f UTC"
        ).replace(tzinfo=dt.UTC)
        assert started <= stamp <= finished, (name, stamp)
        marks[name] = json.loads((folder / "01_param_count.ipynb").read_text())["metadata"]["mark"]
    assert marks == {ANN: "ann's only", BEN: "ben's second", CAT: "cat's own"}

    # Feedback as `nnla feedback` writes it, summary.html included; released, then fetched.
    for name in STUDENTS:
        folder = course.root / "feedback" / name / "ch177"
        folder.mkdir(parents=True)
        shutil.copy(course.root / "submitted" / name / "ch177" / "timestamp.txt", folder)
        (folder / "01_param_count.html").write_text(f"<p>notebook feedback for {name}</p>")
        (folder / "summary.html").write_text(f"<p>summary for {name}</p>")
    done = instructor(course, "release_feedback", "ch177")
    assert done.returncode == 0, output(done)
    done = cat.nbgrader("fetch_feedback", "ch177", "--course", "nnla", "--student", ANN)
    assert done.returncode != 0 and "cannot act as" in output(done)
    for name, student in students.items():
        done = student.nbgrader("fetch_feedback", "ch177", "--course", "nnla")
        assert done.returncode == 0, output(done)
        timestamp = (course.root / "submitted" / name / "ch177" / "timestamp.txt").read_text()
        fetched = student.home / "ch177" / "feedback" / timestamp
        pages = {p.name: p.read_text() for p in fetched.iterdir()}
        assert pages == {
            "01_param_count.html": f"<p>notebook feedback for {name}</p>",
            "summary.html": f"<p>summary for {name}</p>",
        }
        everything = "".join(p.read_text() for p in (student.home / "ch177" / "feedback").rglob("*.html"))
        assert all(other not in everything for other in STUDENTS if other != name)
    assert server.poll() is None

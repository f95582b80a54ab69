"""The gradebook whatever PATH holds: formgrader and nbgrader started from the venv without its
bin folder on PATH, and a gradebook that an earlier failure left half built."""

import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from autograder.grading.gradebook import alembic_head, alembic_in_process, repair_half_built
from tests.browser import free_port
from tests.conftest import ASSIGNMENT, copy_course

VENV_BIN = Path(sys.executable).parent
BARE_PATH = "/usr/bin:/bin"  # no venv on it, as when `.venv/bin/jupyter server` is typed as such


def bare_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(home),
        "PATH": BARE_PATH,
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_DATA_DIR": str(home / ".local/share/jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "MPLBACKEND": "Agg",
    }


def revision(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchall()


def half_built(db: Path, drop_column: str | None = None) -> None:
    """What nbgrader leaves when `alembic` is missing: its tables, no alembic_version."""
    from nbgrader.api import Base

    engine = create_engine(f"sqlite:///{db}")
    Base.metadata.create_all(bind=engine)
    engine.dispose()
    if drop_column:
        table, column = drop_column.split(".")
        with sqlite3.connect(db) as conn:
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


@pytest.mark.e2e
@pytest.mark.parametrize(
    "command",
    [[str(VENV_BIN / "jupyter"), "server"], [str(VENV_BIN / "python"), "-m", "jupyter", "server"]],
    ids=["venv-bin-jupyter", "venv-python-m-jupyter"],
)
def test_formgrader_creates_the_gradebook_without_the_venv_on_path(repo, tmp_path, command):
    course = copy_course(repo, tmp_path / "course")
    port, token = free_port(), "nnla-path-test"
    argv = [*command, "--no-browser", "--ip=127.0.0.1", f"--port={port}", f"--IdentityProvider.token={token}"]
    if os.geteuid() == 0:
        argv.append("--allow-root")
    log_path = tmp_path / "jupyter.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            argv, cwd=course.root, env=bare_env(tmp_path / "home"), stdout=log, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.25)
        with urllib.request.urlopen(f"{url}/formgrader/api/assignments?token={token}", timeout=30) as answer:
            assert answer.status == 200
            assert ASSIGNMENT.encode() in answer.read()
    except urllib.error.HTTPError as error:
        pytest.fail(f"formgrader answered {error.code}: {log_path.read_text()[-3000:]}")
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert "FileNotFoundError" not in log_path.read_text()
    assert revision(course.root / "gradebook.db") == [(alembic_head(),)]


@pytest.mark.e2e
def test_plain_nbgrader_generates_the_assignment_without_the_venv_on_path(repo, tmp_path):
    course = copy_course(repo, tmp_path / "course", with_release=False)
    done = subprocess.run(
        [str(VENV_BIN / "nbgrader"), "generate_assignment", ASSIGNMENT, "--force"],
        cwd=course.root,
        env=bare_env(tmp_path / "home"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in course.release(ASSIGNMENT).glob("*.ipynb")) == sorted(
        p.name for p in repo.release(ASSIGNMENT).glob("*.ipynb")
    )
    assert revision(course.root / "gradebook.db") == [(alembic_head(),)]


@pytest.mark.e2e
def test_nbgrader_db_upgrade_repairs_a_half_built_gradebook_without_the_venv_on_path(repo, tmp_path):
    course = copy_course(repo, tmp_path / "course", with_release=False)
    half_built(course.root / "gradebook.db")
    done = subprocess.run(
        [str(VENV_BIN / "nbgrader"), "db", "upgrade"],
        cwd=course.root,
        env=bare_env(tmp_path / "home"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "half-built gradebook" in done.stderr and "stamped" in done.stderr
    assert revision(course.root / "gradebook.db") == [(alembic_head(),)]


def test_a_half_built_gradebook_is_stamped_with_nbgraders_revision(tmp_path):
    db = tmp_path / "gradebook.db"
    half_built(db)
    said = repair_half_built(db)
    assert said is not None and said.startswith(f"{db}: half-built gradebook") and "\n" not in said
    assert revision(db) == [(alembic_head(),)]
    assert repair_half_built(db) is None  # once only
    assert revision(db) == [(alembic_head(),)]


def test_a_half_built_gradebook_of_another_schema_is_reported_with_the_command(tmp_path):
    db = tmp_path / "gradebook.db"
    half_built(db, drop_column="student.lms_user_id")
    said = repair_half_built(db)
    assert said is not None and "\n" not in said
    assert "student.lms_user_id" in said
    assert "-m nbgrader.dbutil stamp REVISION" in said and "nbgrader db upgrade" in said
    with sqlite3.connect(db) as conn:  # left as it was
        assert not conn.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").fetchall()


def test_no_gradebook_or_a_whole_one_is_left_alone(tmp_path):
    assert repair_half_built(tmp_path / "none.db") is None
    (tmp_path / "empty.db").touch()
    assert repair_half_built(tmp_path / "empty.db") is None
    from nbgrader.api import Gradebook

    alembic_in_process()
    Gradebook(f"sqlite:///{tmp_path / 'whole.db'}").close()
    before = (tmp_path / "whole.db").read_bytes()
    assert repair_half_built(tmp_path / "whole.db") is None
    assert (tmp_path / "whole.db").read_bytes() == before

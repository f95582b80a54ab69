"""nbgrader's gradebook, created and upgraded whatever PATH holds.

nbgrader 0.9 runs the `alembic` executable it finds on PATH: to learn the schema's revision when
it creates a gradebook (`Gradebook()`, so every command and the formgrader) and to migrate one
(`nbgrader db upgrade`). Started as `.venv/bin/jupyter server` or `.venv/bin/nbgrader` without
the venv's bin folder on PATH, creating fails after the tables are made, with
`FileNotFoundError: 'alembic'` (formgrader answers 500), and leaves a half-built gradebook: the
tables but no `alembic_version`, which every later command uses as it is, except
`nbgrader db upgrade`, which then tries to migrate it from the first revision and fails.

`alembic_in_process()`, called by nbgrader_config.py (which every nbgrader app and the formgrader
load before they open the gradebook) and by nnla, makes nbgrader read the revision with
alembic's Python API and run migrations with this interpreter (`python -m alembic`).
`repair_half_built()` stamps a half-built gradebook whose tables are this nbgrader's with the
revision nbgrader would have written, or says in one line what fixes it; `nbgrader db upgrade`
and nnla run it before they use the gradebook.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import nbgrader
import nbgrader.api
import nbgrader.dbutil
from alembic.script import ScriptDirectory


def alembic_head() -> str:
    """The schema revision of the installed nbgrader (what `alembic heads` prints), read in process."""
    return ScriptDirectory(nbgrader.dbutil.ALEMBIC_DIR).get_current_head()


def upgrade(db_url: str, revision: str = "head") -> None:
    """nbgrader.dbutil.upgrade run by this interpreter, after repairing a half-built gradebook."""
    if db_url.startswith("sqlite:///") and (problem := repair_half_built(Path(db_url.split(":///", 1)[1]))):
        print(problem, file=sys.stderr)
    with nbgrader.dbutil._temp_alembic_ini(db_url) as alembic_ini:
        subprocess.check_call([sys.executable, "-m", "alembic", "-c", alembic_ini, "upgrade", revision])


def alembic_in_process() -> None:
    """Make nbgrader's gradebook independent of PATH (idempotent)."""
    nbgrader.api.get_alembic_version = alembic_head
    nbgrader.dbutil.upgrade = upgrade


def _columns(db: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: {row[1] for row in db.execute(f'PRAGMA table_info("{t}")')} for t in tables}


def missing_schema(columns: dict[str, set[str]]) -> list[str]:
    """Tables and columns of this nbgrader's schema that `columns` (table -> column names) lacks."""
    missing = []
    for name, table in nbgrader.api.Base.metadata.tables.items():
        if name not in columns:
            missing.append(name)
        else:
            missing += [f"{name}.{col.name}" for col in table.columns if col.name not in columns[name]]
    return missing


def repair_half_built(path: Path) -> str | None:
    """Stamp a gradebook that has nbgrader's tables but no alembic_version; what was done, or what
    to do, in one line (None when there was nothing to do).

    Its tables come from nbgrader's `create_all`, so when they are the installed nbgrader's
    schema, its revision is the head, exactly what nbgrader would have recorded. Otherwise
    another nbgrader made them, whose revision only the instructor can tell: the line says how
    to record it and upgrade.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return None
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")  # no other process stamps or creates it meanwhile
        columns = _columns(db)
        stamped = "alembic_version" in columns and db.execute("SELECT 1 FROM alembic_version").fetchone()
        if not columns or stamped:
            db.execute("ROLLBACK")
            return None
        if missing := missing_schema(columns):
            db.execute("ROLLBACK")
            python = Path(sys.executable)
            return (
                f"{path}: half-built gradebook (no alembic_version) whose tables are not nbgrader "
                f"{nbgrader.__version__}'s (missing {', '.join(missing[:3])}); in its folder record the "
                f"revision of the nbgrader that made it and upgrade: PATH={python.parent}:$PATH "
                f"{python} -m nbgrader.dbutil stamp REVISION && {python.parent / 'nbgrader'} db upgrade"
            )
        head = alembic_head()
        db.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL)")
        db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))
        db.execute("COMMIT")
        return f"{path}: half-built gradebook (no alembic_version, its creation had failed) stamped {head}"
    finally:
        db.close()

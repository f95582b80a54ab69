"""The `nnla` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from autograder.course import Course


def _autograde(args: argparse.Namespace) -> int:
    from autograder.grading.pool import ClusterRefused
    from autograder.grading.run import grade_class
    from autograder.judge.isolation.sandbox import ISOLATION_WAIVER, IsolationUnavailable, isolation

    if args.without_isolation:
        os.environ[ISOLATION_WAIVER] = "1"  # read by every sandbox the grading starts
    course = Course.find()
    try:
        results = grade_class(
            course, args.assignment, args.student or None, args.jobs, args.force, args.scheduler
        )
    except IsolationUnavailable as refused:
        print(refused, file=sys.stderr)
        return 2
    except ClusterRefused as refused:
        print(f"nnla autograde: {refused}", file=sys.stderr)
        return 2
    failed = [s for s, r in results.items() if r is None or r["extra_data"].get("fingerprint") is None]
    for student, res in sorted(results.items()):
        score = f"{res['score']:>5g} / {res['extra_data']['max_score']:g}" if res else "not graded"
        notes = (
            f"  ({len(res['extra_data']['messages'])} notes)" if res and res["extra_data"]["messages"] else ""
        )
        print(f"{student:<20} {score}{notes}")
    print(f"results.json written under {course.root / 'autograded'}/<student>/{args.assignment}/")
    print(isolation().summary())
    if failed:
        print(f"grading failed for {len(failed)}: {', '.join(failed)}; logs in {course.root / 'logs'}")
    return 1 if failed else 0


def _report(args: argparse.Namespace) -> int:
    from autograder.outputs.report import write_report

    course = Course.find()
    out = Path(args.out).resolve() if args.out else None
    print(write_report(course, args.assignment, out).summary())
    return 0


def _feedback(args: argparse.Namespace) -> int:
    from autograder.outputs.feedback import write_feedback

    course = Course.find()
    pages = write_feedback(course, args.assignment, args.student or None)
    print(f"feedback for {len(pages)} students under {course.root / 'feedback'}/<student>/{args.assignment}/")
    return 0


def _solutions(args: argparse.Namespace) -> int:
    from autograder.outputs.solutions import SolutionsRefused, write_solutions

    course = Course.find()
    out = Path(args.out).resolve() if args.out else None
    try:
        written = write_solutions(course, args.assignment, out, force=args.force)
    except (SolutionsRefused, ValueError, FileNotFoundError) as refused:  # nothing written
        print(f"nnla solutions: {refused}", file=sys.stderr)
        return 2
    print(f"{len(written)} solution notebooks written to {written[0].parent}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from autograder.grading.nbgrader import open_gradebook
    from autograder.outputs.export import ExportRefused, write_export

    course = Course.find()
    try:
        with open_gradebook(course) as gb:
            path, export = write_export(
                gb,
                course,
                args.assignment,
                args.format,
                out=Path(args.out).resolve() if args.out else None,
                roster=Path(args.roster) if args.roster else None,
                column=args.column,
            )
    except ExportRefused as refused:  # nothing written
        print(f"nnla export: {refused}", file=sys.stderr)
        return 2
    for warning in export.warnings:
        print(f"nnla export: warning: {warning}", file=sys.stderr)
    print(f"wrote {path}")
    print(export.summary())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from autograder.demo.run import run_demo

    repo = Course.find()
    folder = Path(args.folder).resolve() if args.folder else repo.root / "demo-class"
    return run_demo(repo, folder, args.assignment)


def _readme(args: argparse.Namespace) -> int:
    from autograder.outputs.student_readme import write_student_readme

    course = Course.find()
    try:
        written = write_student_readme(course, args.assignment)
    except (ValueError, FileNotFoundError) as wrong:
        print(f"nnla readme: {wrong}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path.relative_to(course.root)}")
    return 0


def _exchange(args: argparse.Namespace) -> int:
    from autograder.exchange.settings import exchange_settings, student_config

    course = Course.find()
    settings = exchange_settings(course.root)
    socket_path = Path(args.socket or settings["socket_path"])
    if args.action == "student-config":
        print(student_config(socket_path, settings["course_id"]), end="")
        return 0
    from autograder.exchange.server import serve

    logging.getLogger("nnla.exchange").setLevel(logging.INFO)
    store = Path(args.store).resolve() if args.store else course.root / ".nnla" / "exchange"
    print(f"nnla exchange: socket {socket_path}, store {store} (Ctrl-C stops it)", flush=True)
    serve(store, socket_path)
    return 0


def _gradescope(args: argparse.Namespace) -> int:
    from autograder.gradescope.package import build_autograder_zip

    course = Course.find()
    out = (
        Path(args.out).resolve()
        if args.out
        else course.root / "gradescope" / args.assignment / "autograder.zip"
    )
    try:
        zip_path = build_autograder_zip(course, args.assignment, out)
    except (FileNotFoundError, RuntimeError) as missing:
        print(f"nnla gradescope: {missing}", file=sys.stderr)
        return 2
    print(f"wrote {zip_path}: upload it as the Gradescope assignment's autograder (Ubuntu base image)")
    return 0


def selfcheck_script(assignment: str | None) -> Path | None:
    """The self-check released with the assignment: the one in this folder (an assignment
    folder as students have it), else, given an assignment, the course's source copy."""
    here = Path.cwd() / "selfcheck.py"
    if here.is_file() or assignment is None:
        return here if here.is_file() else None
    try:
        script = Course.find().source(assignment) / "selfcheck.py"
    except FileNotFoundError:
        return None
    return script if script.is_file() else None


def _check(args: argparse.Namespace) -> int:
    """Run the released selfcheck.py on the notebooks in the current folder."""
    import importlib.util

    script = selfcheck_script(args.assignment)
    if script is None:
        print("no selfcheck.py here: run this in the assignment folder (or give --assignment in a course)")
        return 2
    spec = importlib.util.spec_from_file_location("selfcheck", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules["selfcheck"] = module  # the name its public checks import it by
    write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in source/
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = write_bytecode
    return module.main([*args.notebooks, "--timeout", str(args.timeout)])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnla", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="show nbgrader's log")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("autograde", help="grade submitted/<student>/<assignment>/ and write results.json")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", metavar="ID", help="grade only this student (repeatable)")
    p.add_argument(
        "--jobs",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="students graded in parallel (default: cores)",
    )
    p.add_argument("--force", action="store_true", help="regrade students already graded and unchanged")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="grade on the workers of this Dask scheduler (tcp://host:8786), or on a local cluster of "
        "--jobs worker processes (`local`); needs nnla[cluster] and a PostgreSQL gradebook",
    )
    p.add_argument(
        "--without-isolation",
        action="store_true",
        help="grade even where student code cannot be isolated (it can then read and write what you can)",
    )
    p.set_defaults(run=_autograde)

    p = sub.add_parser("report", help="HTML report with plots, grades CSV and a results bundle")
    p.add_argument("assignment")
    p.add_argument("--out", help="folder for the report (default: reports/<assignment>/)")
    p.set_defaults(run=_report)

    p = sub.add_parser("feedback", help="nbgrader feedback, hidden tests masked, plus a summary page each")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    p.set_defaults(run=_feedback)

    p = sub.add_parser("solutions", help="solution notebooks for students, after the due date")
    p.add_argument("assignment")
    p.add_argument("--out", help="folder for the notebooks (default: solutions/<assignment>/)")
    p.add_argument("--force", action="store_true", help="write them even before the due date")
    p.set_defaults(run=_solutions)

    p = sub.add_parser(
        "check", help="student self-check of the notebooks in this folder (public checks only)"
    )
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="default: every notebook in this folder")
    p.add_argument(
        "--assignment", help="the course's copy of this assignment's self-check (default: ./selfcheck.py)"
    )
    p.add_argument("--timeout", type=float, default=3.0, help="seconds per function (default: %(default)g)")
    p.set_defaults(run=_check)

    p = sub.add_parser("demo", help="grade a synthetic class end to end and check its scores")
    p.add_argument("--folder", help="where to build the demo course (default: ./demo-class)")
    p.add_argument("--assignment", help="whose demo class (default: the first assignment that has one)")
    p.set_defaults(run=_demo)

    p = sub.add_parser(
        "exchange", help="serve the course's exchange, or print the nbgrader config students need"
    )
    p.add_argument("action", choices=["serve", "student-config"])
    p.add_argument(
        "--socket", help="its Unix socket (default: NnlaExchange.socket_path in nbgrader_config.py)"
    )
    p.add_argument("--store", help="where it keeps everything (default: .nnla/exchange/ in the course)")
    p.set_defaults(run=_exchange)

    p = sub.add_parser(
        "export",
        help="grades for the LMS: Canvas's gradebook import CSV, or a plain CSV",
        description="Write every gradebook student's total for ASSIGNMENT (written answers graded in "
        "formgrader included, late penalty subtracted, 0 without a submission or for a written answer "
        "not graded yet). Canvas: Grades > Import, then check the preview before applying.",
    )
    p.add_argument("assignment")
    p.add_argument(
        "--format", choices=["canvas", "csv"], default="canvas", help="what to write (default: %(default)s)"
    )
    p.add_argument(
        "--roster",
        metavar="ROSTER.csv",
        help="LMS ids per student, header id,canvas_id,sis_user_id,sis_login_id,section (only id "
        "required); without a row, a student's Canvas ID is nbgrader's lms_user_id",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="where to write (default: exports/<assignment>-canvas.csv or exports/<assignment>-grades.csv)",
    )
    p.add_argument(
        "--column",
        metavar="HEADER",
        help="Canvas column header. Default: '<title> [<assignment>]', which Canvas imports as a new "
        "assignment of that name (and, matching it by name, updates later). To update an assignment "
        "that already exists in Canvas, give its header from Canvas's own gradebook export, the "
        "name with its Canvas id in parentheses: 'Homework 3 (12345)'",
    )
    p.set_defaults(run=_export)

    p = sub.add_parser("gradescope", help="autograder.zip for Gradescope: the same grading, there")
    p.add_argument("assignment")
    p.add_argument("--out", help="where to write it (default: gradescope/<assignment>/autograder.zip)")
    p.set_defaults(run=_gradescope)

    p = sub.add_parser(
        "readme", help="the students' README.md from the manifest and the notebooks (source/ and release/)"
    )
    p.add_argument("assignment")
    p.set_defaults(run=_readme)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(message)s")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())

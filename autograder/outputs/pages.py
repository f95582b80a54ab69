"""HTML pages from Jinja2 templates (templates/), every value escaped unless a template says
otherwise: student ids, messages and feedback reach these pages."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

_pages = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["j2"], default_for_string=True),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def render(template: str, **context: object) -> str:
    return _pages.get_template(template).render(**context)

"""Renders per-target files from jinja2 templates (StrictUndefined: a missing value is an error)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import jinja2

from ..errors import BuildToolsError
from ..targets import Target

TEMPLATES = Path(__file__).parent / "templates"


def _c_ident(value: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in value).upper()


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["c_ident"] = _c_ident
    env.filters["hex"] = lambda v: f"0x{int(v):x}"
    return env


def target_context(target: Target) -> dict[str, Any]:
    ctx = asdict(target)
    ctx.pop("source")
    return {"target": ctx}


def render(template: str, target: Target, **extra: Any) -> str:
    try:
        tmpl = _environment().get_template(template)
        return tmpl.render(**target_context(target), **extra)
    except jinja2.TemplateNotFound as e:
        raise BuildToolsError(f"template {template!r} not found in {TEMPLATES}") from e
    except jinja2.UndefinedError as e:
        raise BuildToolsError(f"template {template}: {e.message} (target {target.name})") from e


def render_to(template: str, target: Target, output: Path, **extra: Any) -> bool:
    """Writes the rendered file only if its content changed (keeps builds incremental)."""
    text = render(template, target, **extra)
    if output.exists() and output.read_text() == text:
        return False
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    return True

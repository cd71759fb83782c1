"""Rendering helpers: the Jinja2 environment, embedded figures and tables as template data.

Every page of :mod:`brainalign.report` is rendered from the templates in
``brainalign/report/templates`` (autoescaped: a value from a results folder
can never inject markup).  Python code here only turns figures and tables
into plain data the templates lay out.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from ..core import atomic_write_text

logger = logging.getLogger("brainalign.report")

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("brainalign.report", "templates"),
    autoescape=True,  # every template is HTML; values come from files a user may not control
    undefined=jinja2.StrictUndefined,  # a misspelt variable is a bug, not an empty cell
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class Figure:
    """A PNG embedded in the page as a ``data:`` URI, with its caption."""

    png: bytes
    caption: str

    @property
    def src(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass
class Table:
    """A table as the templates draw it: formatted cells, an optional highlighted row."""

    columns: list[str]
    rows: list[list[str]]
    highlight: int | None = None
    total: int = 0

    @property
    def cut(self) -> bool:
        return self.total > len(self.rows)


@dataclass
class Section:
    """One section of a page: its anchor, its navigation title, its template and that template's data."""

    id: str
    title: str
    template: str
    data: dict[str, Any] = field(default_factory=dict)


def figure(fig, caption: str) -> Figure:
    """Render a matplotlib figure (or a nilearn display) to PNG and close it."""
    import matplotlib.pyplot as plt

    display = None
    if not hasattr(fig, "savefig") or hasattr(fig, "frame_axes"):
        display, fig = fig, fig.frame_axes.figure
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    if display is not None:
        display.close()
    plt.close(fig)
    return Figure(buffer.getvalue(), caption)


def cell(value: Any) -> str:
    """One table cell: 4 significant digits for floats, empty for NaN."""
    if isinstance(value, (float, np.floating)):
        return "" if not np.isfinite(value) else f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def table(frame: pd.DataFrame, max_rows: int = 60, highlight: int | None = None) -> Table:
    shown = frame.head(max_rows)
    rows = [[cell(v) for v in row] for row in shown.itertuples(index=False, name=None)]
    return Table([str(c) for c in shown.columns], rows, highlight, len(frame))


def kv_table(mapping: dict, key: str, value: str) -> Table:
    return table(pd.DataFrame({key: [str(k) for k in mapping], value: [cell(v) for v in mapping.values()]}), 500)


def interval(value: float, low: float, high: float, digits: int = 4) -> str:
    """``+0.0123 [-0.0040, +0.0290]``; empty when the value is missing."""
    if not np.isfinite(value):
        return ""
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{value:+.{digits}f}"
    return f"{value:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def read_tsv(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path, sep="\t")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        logger.warning("Could not read table %s: %s", path, err)
        return None


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def render(template: str, out: Path, **context: Any) -> Path:
    """Render ``template`` with ``context`` and write it atomically to ``out``."""
    page = _ENV.get_template(template).render(**context)
    atomic_write_text(out, page)
    return out


def render_fragment(template: str, **context: Any) -> str:
    """An HTML fragment (e.g. one section) rendered from ``template``."""
    return _ENV.get_template(template).render(**context)

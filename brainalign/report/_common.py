"""Pieces every page shares: the R² note, the provenance block, the model-comparison section."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..core import BrainalignInputError
from ._render import Section, kv_table, logger, read_tsv, table
from ._stats import model_comparison_summary

#: one line under any table or card showing R², because a negative R² surprises
R2_NOTE = ("R² is the held-out coefficient of determination: it is below 0 when the prediction is worse than "
           "each test fold's own mean, which is common for weak signals (a small r with a mis-scaled "
           "prediction); r is the score used for every ranking here.")


def provenance(summary: dict, *, settings: dict | None = None, models: pd.DataFrame | None = None,
               hashes: dict | None = None, hashes_title: str = "Data hashes (SHA-256)",
               skip: tuple[str, ...] = ()) -> dict:
    """Data of the provenance block every page ends with."""
    config = summary.get("config")
    versions = summary.get("versions") or {}
    hashes = (summary.get("data_hashes") or {}) if hashes is None else hashes
    known = {"kind", "config", "versions", "data_hashes", "headline", "created", *skip}
    extra = {k: summary[k] for k in sorted(set(summary) - known)}
    return {
        "settings": kv_table(settings, "setting", "value") if settings else None,
        "models": table(models, 100) if models is not None and len(models) else None,
        "config": None if config is None else json.dumps(config, indent=2, sort_keys=True, default=str),
        "versions": kv_table(versions, "package", "version") if versions else None,
        "hashes": kv_table(hashes, "data", "sha256") if hashes else None, "hashes_title": hashes_title,
        "extra": json.dumps(extra, indent=2, sort_keys=True, default=str) if extra else None,
    }


def comparison_section(comparison: pd.DataFrame, *, title: str = "Model A vs model B per target",
                       max_rows: int = 60, anchor: str = "comparison") -> Section:
    """The "model A vs model B per target" section: counts of wins and the paired differences per pair.

    ``comparison`` is tidy: ``model_a``, ``model_b``, ``target``, ``difference``
    (A minus B), ``ci_low``, ``ci_high``, ``p_fdr`` (see
    :func:`~brainalign.report.model_comparison_summary`).  Both report pages
    add it for every ``tables/model_comparison*.tsv`` (study folder: also
    ``model_comparison*.tsv`` at the top); callers can render it alone with
    :func:`~brainalign.report.comparison_html`.
    """
    summary = model_comparison_summary(comparison)
    pairs = []
    for (a, b), pair in comparison.groupby(["model_a", "model_b"], sort=False):
        shown = pair.drop(columns=["model_a", "model_b"]).sort_values("difference", ascending=False)
        pairs.append((f"{a} minus {b}, per target", table(shown, max_rows)))
    return Section(anchor, title, "sections/comparison.html",
                   {"level": "95%", "summary": table(summary, max_rows), "pairs": pairs})


def comparison_sections(*folders: Path, max_rows: int = 60) -> list[Section]:
    """A comparison section for each readable ``model_comparison*.tsv`` of ``folders`` (its stem is the anchor)."""
    sections = []
    for folder in folders:
        for path in sorted(folder.glob("model_comparison*.tsv")) if folder.is_dir() else []:
            frame = read_tsv(path)
            if frame is None:
                continue
            name = path.stem.replace("model_comparison", "").strip("_-")
            try:
                sections.append(comparison_section(frame, title="Model A vs model B per target"
                                                   + (f" ({name})" if name else ""),
                                                   max_rows=max_rows, anchor=path.stem))
            except BrainalignInputError as err:  # shown as a plain table instead; the page still gets written
                logger.warning("%s: %s", path, err)
    return sections

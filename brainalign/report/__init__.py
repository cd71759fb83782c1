"""HTML reports of results folders and studies, rendered from Jinja2 templates.

Every page is self-contained (figures embedded as PNG, no network) and
rendered through one base template (navigation, provenance) with autoescape
on.  Figures come from :mod:`brainalign.plotting`; this package lays them out
with the numbers behind them.

- :func:`write_report`: any results folder (``brainalign encode``, a saved
  ``LayerSweep``, ``localize``, ``demo``); a study folder gets :func:`study_report`.
- :func:`study_report`: the models of a study compared, subjects and the group
  average apart, best layers with their uncertainty, "no layer beats the
  baseline" said when so.
- :func:`best_layer_summary`, :func:`subject_gains`, :func:`group_gains`,
  :func:`split_recordings`: the statistics behind the study page.
- :func:`comparison_html`, :func:`model_comparison_summary`: the "model A vs
  model B per target" section, for any tidy table of paired differences.
"""

from ._common import comparison_section
from ._folder import write_report
from ._render import render_fragment
from ._stats import (
    BestLayer,
    best_layer_summary,
    group_gains,
    model_comparison_summary,
    split_recordings,
    subject_gains,
    t_interval,
)
from ._rsa import rsa_layer_profiles
from ._study import fold_instructions, study_report, study_settings, write_study_report


def comparison_html(comparison, *, title: str = "Model A vs model B per target") -> str:
    """The model-comparison section alone, as an HTML fragment (see :func:`model_comparison_summary`).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"model_a": "deep", "model_b": "linear", "target": ["a"], "difference": [0.1],
    ...                   "ci_low": [0.05], "ci_high": [0.15], "p_fdr": [0.01]})
    >>> "deep minus linear" in comparison_html(t)
    True
    """
    section = comparison_section(comparison, title=title)
    return render_fragment("section.html", section=section)


__all__ = [
    "BestLayer",
    "best_layer_summary",
    "comparison_html",
    "comparison_section",
    "fold_instructions",
    "group_gains",
    "model_comparison_summary",
    "split_recordings",
    "rsa_layer_profiles",
    "study_report",
    "study_settings",
    "subject_gains",
    "t_interval",
    "write_report",
    "write_study_report",
]

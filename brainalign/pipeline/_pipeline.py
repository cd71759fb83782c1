"""One model on one recording from a config: the 0.1.0 ``run_pipeline``, now a one-cell study."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def run_pipeline(config: dict[str, Any], *, base_dir: str | Path = ".", output: str | Path | None = None,
                 **run_options):
    """Run a config through :func:`run_study` and return the LayerSweep of its first cell.

    The first cell is the first model on the group average when
    ``group_average`` is set, else on the first subject.  The whole study
    (every model and subject of the config) is run and written all the same;
    open it with :class:`StudyResults`.

    Returns
    -------
    LayerSweep
    """
    from ._execute import run_study
    from ._results import StudyResults

    run = run_study(config, output=output, base_dir=base_dir, **run_options)
    results = StudyResults.load(run.output)
    recording = "group" if "group" in results.recordings else results.recordings[0]
    return results.sweep(results.models[0], recording)

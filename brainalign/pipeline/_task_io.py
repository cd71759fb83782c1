"""What a study task reads: its input folders, the designs of its bands, the gain-test flags of the study.

Shared by the task runners of ``_tasks`` and ``_compare_tasks`` (kept apart so
neither imports the other).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core import DesignMatrix
from ..encoding import sweep_layers
from ._config import StudyConfig
from ._work import load_design


def task_inputs(task: dict, kind: str) -> list[Path]:
    return [Path(i["folder"]) for i in task["inputs"] if i["kind"] == kind]


def one_input(task: dict, *kinds: str) -> Path:
    found = [Path(i["folder"]) for i in task["inputs"] if i["kind"] in kinds]
    if len(found) != 1:
        raise RuntimeError(f"task {task['label']} expected one {kinds} input, got {len(found)}")
    return found[0]


def band_designs(task: dict) -> dict[str, DesignMatrix]:
    """The designs of a task fitting several model layers together, by band (``model:layer``), in order."""
    return {band: load_design(folder / "design") for band, folder in zip(task["params"]["bands"],
                                                                          task_inputs(task, "design"))}


def study_flags(config: StudyConfig) -> dict[str, Any]:
    """sweep_layers' options, with its defaults (so a study cell equals a sweep_layers call)."""
    import inspect

    defaults = inspect.signature(sweep_layers).parameters
    enc = config.encoding_options()
    n_boot = int(enc.get("gain_bootstraps", defaults["gain_bootstraps"].default))
    return {"autocorrelation": bool(enc.get("autocorrelation", defaults["autocorrelation"].default)),
            "gain_test": n_boot > 0, "n_bootstraps": n_boot}

"""Intracranial sweep outputs: a per-electrode table and glass-brain markers of the best layer's r.

Scalp topomaps (the ``-ave.fif`` of EEG/MEG sweeps) mean nothing for depth
contacts, so an ``ieeg`` sweep writes ``maps/electrodes.tsv`` and
``maps/electrodes_best_r.png`` instead, from the channel positions the
recording carries (an ``mne.Info`` space, or ``metadata["electrodes"]``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import Recording, atomic_write_text

logger = logging.getLogger("brainalign.pipeline")

ELECTRODES_TSV = "electrodes.tsv"
ELECTRODES_PNG = "electrodes_best_r.png"


def _positions(recording: Recording) -> pd.DataFrame | None:
    """name, x, y, z (mm) of the recording's targets, or None when it carries no positions."""
    import mne

    from ..recordings import electrode_table

    if isinstance(recording.space, mne.Info):
        table = electrode_table(recording.space)
    elif recording.metadata.get("electrodes"):
        table = pd.DataFrame(recording.metadata["electrodes"])
    else:
        return None
    if not {"name", "x", "y", "z"} <= set(table.columns):
        return None
    table = table.set_index("name").reindex(recording.target_names)
    if table[["x", "y", "z"]].isna().all().all():
        return None
    return table[["x", "y", "z"]].rename_axis("channel").reset_index()


def write_electrode_outputs(sweep, recording: Recording, folder: Path) -> list[str]:
    """``maps/electrodes.tsv`` (channel, x, y, z, best layer, best r, region) and the glass-brain PNG.

    Returns the written paths (none when the recording has no channel positions).
    """
    table = _positions(recording)
    if table is None:
        logger.info("iEEG sweep %s: no channel positions, no electrode map.", folder)
        return []
    r = np.asarray(sweep.score_matrix("r"), dtype=float)  # layers x targets
    filled = np.where(np.isfinite(r), r, -np.inf)
    best = filled.argmax(0)
    table["best_layer"] = [sweep.layer_names[i] for i in best]
    table["best_r"] = r[best, np.arange(r.shape[1])]
    try:  # the coordinate atlas ships with nilearn (offline); a broken install only loses the labels
        from ..recordings import coordinate_atlas_labels

        table["region"] = coordinate_atlas_labels(table[["x", "y", "z"]].to_numpy(float))
    except Exception as err:  # noqa: BLE001 - the table is still useful without labels
        logger.warning("iEEG sweep %s: no atlas labels (%s).", folder, err)
        table["region"] = "unknown"
    maps = Path(folder) / "maps"
    maps.mkdir(parents=True, exist_ok=True)
    atomic_write_text(maps / ELECTRODES_TSV, table.to_csv(sep="\t", index=False, float_format="%.6g"))
    written = [str(maps / ELECTRODES_TSV)]

    import matplotlib.pyplot as plt

    from ..core import atomic_suffixed_path
    from ..plotting import plot_electrodes

    display = plot_electrodes(table["best_r"].to_numpy(float), table, title="best-layer r per contact")
    with atomic_suffixed_path(maps / ELECTRODES_PNG, ".png") as named:
        display.savefig(str(named), dpi=80)
    display.close()
    plt.close("all")
    written.append(str(maps / ELECTRODES_PNG))
    return written

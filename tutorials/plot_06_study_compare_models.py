"""
Compare models across participants: a study
===========================================

Is a trained language model more brain-like than the same architecture with
random weights, and at which depth? Answering needs every layer of several
models against every participant, per participant (for the spread) and for
the group. In brainalign that is one config and one call:
:func:`~brainalign.pipeline.run_study` plans the work as content-addressed
tasks (features once per model, designs once per layer and scan grid, one fit
per model x layer x participant), runs them here or on Dask, and writes one
results folder per model and participant plus a tidy study table.

The data are the Alice fMRI ROI time courses of Brennan et al. (2016); without
them, the same study runs on simulated participants.
"""

# %%
import os
import tempfile
from pathlib import Path

import numpy as np

from brainalign.datasets import DataUnavailableError, list_subjects_alice
from brainalign.pipeline import parse_config, plan_study, run_study
from brainalign.plotting import plot_model_profiles
from brainalign.report import study_report

FAST = os.environ.get("BRAINALIGN_FAST") == "1"
work = Path(tempfile.mkdtemp(prefix="brainalign-study-"))

# %%
# The study config
# ----------------
# The same as a TOML file (see ``examples/alice_study.toml``); here a dict.
# Two models: the bundled all-MiniLM-L6-v2, and an *untrained* GPT-2-style
# network of the same width built here (random weights: the usual control for
# "is it the architecture or the training?").
try:
    subjects = [s for s in list_subjects_alice() if s != "s33"]
    dataset = {"name": "alice_brennan2016", "subjects": subjects[:4] if FAST else "all", "group_average": True}
except DataUnavailableError as err:
    print("Alice data not found, simulating participants instead:", err)
    from brainalign.core import Recording
    from brainalign.pipeline import DatasetAdapter, SubjectData, register_adapter

    class SimulatedListeners(DatasetAdapter):
        """Four participants listening to one story: a shared word-rate response plus their own noise."""

        name = "tutorial_listeners"

        def list_subjects(self, root, options):
            return ["sim-1", "sim-2", "sim-3", "sim-4"]

        def grid_id(self, subject, options):
            return "one-scan-protocol"

        def load(self, subject, root, options):
            from importlib import resources

            from brainalign.alignment import event_rate_design
            from brainalign.stimuli import synthetic_speech_timeline

            text = resources.files("brainalign").joinpath("data", "story_lighthouse.txt").read_text("utf-8")
            timeline = synthetic_speech_timeline(text, run="run-1")
            n = int(timeline.offsets.max() / 2.0) + 12
            rng = np.random.default_rng(int(subject[-1]))
            grid = Recording(np.ones((n, 1)) + np.arange(n)[:, None], 2.0, kind="roi")
            rate = event_rate_design(timeline, grid)
            signal = (rate.X[:, 0] - rate.X[:, 0].mean()) / rate.X[:, 0].std()
            data = signal[:, None] * [1.0, 0.5, 0.0] + rng.normal(size=(n, 3))
            recording = Recording(data, 2.0, kind="roi", subject=subject, target_names=["A", "B", "C"])
            return SubjectData(timeline, recording, rate)

    register_adapter(SimulatedListeners(), replace=True)
    dataset = {"name": "tutorial_listeners", "group_average": True}

config = {
    "name": "trained-vs-untrained",
    "output": str(work / "study"),
    "dataset": dataset,
    "features": {"context_tokens": 32 if FAST else 128},
    "models": [
        {"name": "minilm", "model": "bundled:all-MiniLM-L6-v2", "options": {"future_context": True}},
        {"name": "untrained", "random": {"architecture": "gpt2", "n_layers": 6, "hidden_size": 384, "n_heads": 6,
                                         "max_positions": 256}},
    ],
    "encoding": {"gain_bootstraps": 200 if FAST else 1000},
    "execution": {"threads_per_worker": 1},
}
study = parse_config(config)

# %%
# The plan
# --------
# Nothing is read yet: the planner lists participants, asks the dataset's
# adapter which of them share a stimulus and a scan grid, and keys every task
# by its content. ``brainalign run study.toml --dry-run`` prints the same.
plan = plan_study(study)
print(plan.describe())

# %%
# Run it
# ------
# In this process here; ``executor="dask"`` runs the same tasks on a local
# cluster (``n_workers``), an existing scheduler or a SLURM/PBS cluster, with
# bit-identical scores at equal thread counts.
run = run_study(study)
print(f"{run.wall_s:.1f} s; tasks run: {run.ran}")

# %%
# A second run finds every task done (that is also how an interrupted study
# resumes: only unfinished tasks run again).
again = run_study(study)
print("second run:", again.ran or "nothing to do")

# %%
# The study table
# ---------------
# One row per model, layer, participant (or ``group``) and ROI, with the gain
# over the baseline (word rate + sound power) and its paired block-bootstrap
# interval and FDR-corrected p.
results = run.results()
table = results.table
columns = ["model", "layer", "depth", "subject", "target", "r", "gain", "ci_low", "ci_high", "p_fdr"]
print(table[columns].head(8).round(3).to_string())

# %%
# Layer profiles of both models on one axis of normalised depth (0 =
# embeddings, 1 = last block), mean and 95 % CI over participants, with the
# baseline alone (dotted): a layer only matters above it. The group average is
# a recording of its own, never pooled with the participants.
fig = plot_model_profiles(table)

# %%
# The verdict per model: the best layer with its interval over participants
# and the layers not distinguishable from it, or a plain "no layer beats the
# baseline" when no layer's gain interval lies above 0.
for line in results.verdicts():
    print(line)

# %%
# Per ROI, each layer's gain over the baseline: mean and 95 % CI over
# participants (the group average has its own table, ``recordings="group"``).
per_roi = results.gains(by_target=True)
print(per_roi.round(3).to_string())

# %%
# Each cell of the study is an ordinary results folder: the group average of
# the trained model opens as a :class:`~brainalign.encoding.LayerSweep`.
group = results.sweep("minilm", "group")
print(group.layer_profile().round(3))

# %%
# ``brainalign report`` (or :func:`~brainalign.report.study_report`)
# puts the comparison on one self-contained HTML page.
page = study_report(results.folder)
print("report:", page.name, f"({page.stat().st_size // 1024} KB)")

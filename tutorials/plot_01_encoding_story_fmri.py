"""
Fit an encoding model on story-listening fMRI
=============================================

Participants of Brennan et al. (2016) listened to the first chapter of *Alice
in Wonderland* in the scanner. For six left-hemisphere and temporal regions of
interest (ROIs) we ask: how well does each layer of a language model predict
the BOLD signal, compared with what a trivial model of "speech is happening"
already explains, and compared with how well the signal could be predicted at
all?

The steps are those of any encoding analysis:

1. a word timeline on the scanner's clock, and the recording;
2. layerwise features of the real all-MiniLM-L6-v2;
3. HRF-convolved design matrices;
4. cross-validated ridge regression with **contiguous** folds, side by side
   with a **baseline** (word rate + sound power);
5. a **noise ceiling** from the other participants.

The data ship with the project's example data (``$BRAINALIGN_SHARED_DATA``).
Without them, the tutorial runs on a simulated participant instead, with the
same steps.
"""

# %%
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from brainalign.alignment import hrf_design
from brainalign.core import BrainalignInputError, Recording
from brainalign.encoding import cross_validate, intersubject_ceiling
from brainalign.features import bundled_model_dir, extract_text_features
from brainalign.plotting import plot_layer_profile, plot_prediction, plot_score_vs_baseline

FAST = os.environ.get("BRAINALIGN_FAST") == "1"
N_SUBJECTS = 4 if FAST else 8
WORK = Path(tempfile.mkdtemp(prefix="brainalign-tutorial-"))
CACHE = WORK / "features"  # features are cached by content: the study below reuses them

# %%
# Data: the Alice ROI time courses
# --------------------------------
# :func:`~brainalign.datasets.load_alice` returns the word timeline (the
# TextGrid's times shifted by the 20 s of silence before the first kept scan),
# the ROI recording (detrended and z-scored per run) and the authors' baseline
# regressors. Participant ``s33``'s file is all zeros: the loader refuses it
# with an error naming the problem, so we skip it.
from brainalign.datasets import DataUnavailableError, list_subjects_alice, load_alice  # noqa: E402

try:
    subjects = list_subjects_alice()
except (DataUnavailableError, BrainalignInputError) as err:
    subjects = []
    print("Alice data not found, using a simulated participant:", err)

participants = {}
for subject in subjects:
    try:
        participants[subject] = load_alice(subject=subject)
    except BrainalignInputError as err:
        print(f"skipping {subject}: {err}")
    if len(participants) == N_SUBJECTS:
        break

# %%
if participants:
    first = next(iter(participants.values()))
    timeline = first.timeline
    print(timeline.n_events, "words;", first.recording)
    print(timeline.to_frame().iloc[100:105])

# %%
# Features
# --------
# One vector per word and layer; every word sees up to ``context_tokens``
# tokens of the story before it. The features depend on the stimulus only, so
# all participants share them.
CONTEXT = 64 if FAST else 256
if participants:
    features = extract_text_features(timeline, bundled_model_dir(), context_tokens=CONTEXT, cache_dir=CACHE)
else:  # a simulated participant with six "ROIs" and a word-rate baseline
    from importlib import resources

    from brainalign.alignment import event_rate_design
    from brainalign.simulation import simulate_fmri
    from brainalign.stimuli import synthetic_speech_timeline

    text = resources.files("brainalign").joinpath("data", "story_lighthouse.txt").read_text(encoding="utf-8")
    timeline = synthetic_speech_timeline(text, run="run-1")
    features = extract_text_features(timeline, bundled_model_dir(), context_tokens=CONTEXT, cache_dir=CACHE)
    # one shared stimulus-driven signal, independent noise per participant
    clean, _ = simulate_fmri(features, n_targets=6, tr=2.0, snr=np.inf, seed=0)
    baseline = event_rate_design(timeline, clean)
    noise_rng = np.random.default_rng(1)
    for s in range(3):
        noisy = clean.data + 2.0 * noise_rng.normal(size=clean.data.shape)
        recording = Recording(noisy, clean.sampling_period, clean.runs, clean.target_names, "roi", subject=f"sim-{s}")
        participants[f"sim-{s}"] = SimpleNamespace(recording=recording, baseline_design=baseline)
print(features)

# %%
# Designs: from words to scans
# ----------------------------
# Each layer's word vectors are placed at the word onsets, convolved with the
# Glover haemodynamic response and sampled every TR (2 s).
first = next(iter(participants.values()))
designs = hrf_design(features, first.recording)
print(designs["layer.3"])

# %%
# Why contiguous folds
# --------------------
# BOLD samples 2 s apart share most of their signal and noise. With shuffled
# folds, every test scan has training neighbours that give its answer away.
# Compare the same layer, scored with shuffled folds and with contiguous
# blocks separated by a gap (the default for a single run):
contiguous = cross_validate(designs["layer.3"], first.recording)
shuffled = cross_validate(designs["layer.3"], first.recording, shuffle=True)
print(pd.DataFrame({"contiguous": contiguous.mean_r, "shuffled": shuffled.mean_r},
                   index=first.recording.target_names).round(3))

# %%
# Every layer, against the baseline, for every participant
# ---------------------------------------------------------
# Fitting every layer for every participant is a *study*:
# :func:`~brainalign.pipeline.run_study` fits the baseline alone (word rate +
# sound power) and every layer *together with* the baseline regressors, so a
# layer's gain over the baseline is what it adds to "speech is happening". It
# runs each (layer, participant) fit as its own resumable task, here or on
# Dask, and writes one results folder per participant.
from brainalign.pipeline import DatasetAdapter, SubjectData, parse_config, register_adapter, run_study  # noqa: E402

if subjects:
    dataset = {"name": "alice_brennan2016", "subjects": list(participants)}
else:
    class SimulatedParticipants(DatasetAdapter):
        """The simulated participants above, served to the study (a dataset is one adapter)."""

        name = "tutorial_simulated"

        def list_subjects(self, root, options):
            return list(participants)

        def load(self, subject, root, options):
            data = participants[subject]
            return SubjectData(timeline, data.recording, data.baseline_design)

    register_adapter(SimulatedParticipants(), replace=True)
    dataset = {"name": "tutorial_simulated"}
study = parse_config({
    "name": "alice-minilm", "output": str(WORK / "study"), "cache_dir": str(CACHE), "dataset": dataset,
    "models": [{"name": "all-MiniLM-L6-v2", "model": "bundled:all-MiniLM-L6-v2"}],
    "features": {"context_tokens": CONTEXT},
    "encoding": {"autocorrelation": False, "gain_bootstraps": 200},
})
results = run_study(study).results()
sweeps = {subject: results.sweep("all-MiniLM-L6-v2", subject) for subject in results.recordings}
scores = pd.concat([sweep.to_frame() for sweep in sweeps.values()], ignore_index=True)
print(scores.head())

# %%
# The layer profile of each ROI, mean ± SEM across participants, with the
# baseline's mean score as a dotted line:
layer_scores = scores[scores["kind"] == "layer"]
baseline_mean = scores[scores["kind"] == "baseline"].groupby("target")["r"].mean().to_dict()
fig = plot_layer_profile(layer_scores, group="target", across="subject", baseline=baseline_mean,
                         title="Alice: layer profiles (mean ± SEM across participants)")

# %%
# Per participant and ROI: the best layer against the baseline. Points above
# the diagonal are predicted better by the language model (plus baseline) than
# by the baseline alone.
model_r, base_r = [], []
for subject, sweep in sweeps.items():
    best = sweep.score_matrix().mean(axis=1).argmax()
    model_r.extend(sweep.score_matrix()[best])
    base_r.extend(sweep.baseline_scores("baseline"))
fig = plot_score_vs_baseline(model_r, base_r, baseline_label="word rate + sound power", model_label="best layer")

# %%
# Noise ceiling
# -------------
# How well could any stimulus model do? The inter-subject ceiling correlates
# each participant's ROI time course with the average of the others, within the
# same test folds as the encoding scores. Model scores are then reported as a
# fraction of that ceiling.
recordings = [data.recording for data in participants.values()]
with_predictions = cross_validate(designs["layer.3"], first.recording, return_predictions=True)
ceiling = intersubject_ceiling(recordings, folds=with_predictions.folds)
table = pd.DataFrame({
    "best layer r": np.mean([s.score_matrix().max(axis=0) for s in sweeps.values()], axis=0),
    "baseline r": np.mean([s.baseline_scores("baseline") for s in sweeps.values()], axis=0),
    "noise ceiling": ceiling.mean(axis=0),
}, index=first.recording.target_names)
table["fraction of ceiling"] = table["best layer r"] / table["noise ceiling"]
print(table.round(3))

# %%
# Read these numbers with their uncertainty in mind. The average of a handful
# of other participants is itself noisy, so the inter-subject ceiling is
# conservative (too low) with few participants: a fraction above 1 means the
# ceiling was underestimated, not that the model beats the data. The best of
# seven layers is also an optimistic pick. With more participants
# (``BRAINALIGN_FAST`` unset uses twice as many) both estimates tighten.

# %%
# Predicted and measured
# ----------------------
# The held-out prediction of one ROI by one layer, fold by fold, over the
# measured signal:
roi = int(np.argmax(with_predictions.mean_r))
fig = plot_prediction(first.recording.data[:, roi], with_predictions.predictions[:, roi],
                      first.recording.sample_times(), folds=with_predictions.folds,
                      label=first.recording.target_names[roi])
plt.show()

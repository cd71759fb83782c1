"""Localize language-selective (or multiple-demand, theory-of-mind) units in language models.

The functional-localizer logic of neuroscience applied to a model: present
two conditions (sentences vs non-word lists), t-test every unit, keep the
top 1%, then ablate those units and compare with random units of the same
size (next-token loss, minimal pairs) and test their brain alignment.

- stimuli: :class:`LocalizerStimuli`, :func:`language_localizer`,
  :func:`load_fedorenko2010`, :func:`fetch_fedorenko2010`,
  :func:`multiple_demand_localizer`, :func:`theory_of_mind_localizer`;
- selection: :func:`localize_units` -> :class:`UnitMask`,
  :func:`random_unit_mask`;
- ablation: :func:`ablate_units`, :func:`measure_deficit` ->
  :class:`DeficitReport`, :func:`load_blimp_jsonl`,
  :func:`builtin_minimal_pairs`, :func:`builtin_heldout_texts`;
- brain alignment: :func:`unit_brain_alignment`;
- frequency tagging (HFTP): :func:`tag_units` -> :class:`FrequencyTags`
  (:func:`stream_unit_series`, :func:`unit_spectra`, :func:`permutation_null`,
  :func:`tag_frequencies`);
- brain-derived axes and steering: :func:`fit_brain_axes` -> :class:`BrainAxes`,
  :func:`steer`, :func:`generate_steered`, :func:`evaluate_steering` ->
  :class:`SteeringReport`;
- results folder: :func:`save_localize_results`.
"""

from ._ablate import DeficitReport, ablate_units, has_lm_head, lm_scoring_method, measure_deficit, sequence_logprobs
from ._axes import BrainAxes, fit_brain_axes
from ._alignment import UnitAlignment, unit_brain_alignment
from ._localize import load_language_model, localize_units, unit_activations
from ._mask import UnitMask, n_to_select, random_unit_mask
from ._minimal_pairs import MinimalPair, builtin_heldout_texts, builtin_minimal_pairs, load_blimp_jsonl
from ._results import save_localize_results
from ._tagging import (
    FrequencyTags,
    TaggingOptions,
    permutation_null,
    spectra_rsa,
    stream_unit_series,
    tag_frequencies,
    tag_units,
    unit_spectra,
)
from ._steering import SteeringReport, evaluate_steering, generate_steered, steer
from ._units import model_fingerprint
from ._stimuli import (
    LocalizerStimuli,
    fetch_fedorenko2010,
    language_localizer,
    load_fedorenko2010,
    localize_stimuli,
    multiple_demand_localizer,
    theory_of_mind_localizer,
)

__all__ = [
    "BrainAxes",
    "FrequencyTags",
    "TaggingOptions",
    "localize_stimuli",
    "model_fingerprint",
    "DeficitReport",
    "LocalizerStimuli",
    "MinimalPair",
    "SteeringReport",
    "UnitAlignment",
    "UnitMask",
    "ablate_units",
    "builtin_heldout_texts",
    "builtin_minimal_pairs",
    "evaluate_steering",
    "fetch_fedorenko2010",
    "fit_brain_axes",
    "generate_steered",
    "language_localizer",
    "lm_scoring_method",
    "load_blimp_jsonl",
    "load_fedorenko2010",
    "load_language_model",
    "localize_units",
    "has_lm_head",
    "measure_deficit",
    "multiple_demand_localizer",
    "n_to_select",
    "permutation_null",
    "random_unit_mask",
    "save_localize_results",
    "sequence_logprobs",
    "spectra_rsa",
    "steer",
    "stream_unit_series",
    "tag_frequencies",
    "tag_units",
    "theory_of_mind_localizer",
    "unit_activations",
    "unit_brain_alignment",
    "unit_spectra",
]

"""Figures of encoding and localization results (the HTML reports are in :mod:`brainalign.report`).

Every function takes plain arrays, tidy tables (``scores.tsv``) or core objects
(:class:`~brainalign.EncodingResult`, :class:`~brainalign.Recording`) and
returns a matplotlib figure (or a nilearn display for volume maps).
"""

from ._brain import best_layer, draw_layer_labels, plot_best_layer_map, plot_score_map, plot_surface_map
from ._deep import plot_routing_maps
from ._electrodes import plot_electrodes
from ._multimodal import plot_layer_modality_map, plot_variance_partition
from ._localize import plot_deficit, plot_localizer_tvalues, plot_units_per_layer
from ._profiles import layer_profile_table, plot_layer_profile, plot_prediction, plot_score_vs_baseline
from ._sensors import plot_sensor_topomap, sensor_info
from ._study import model_profiles, plot_gain_profile, plot_model_profiles

__all__ = [
    "best_layer",
    "draw_layer_labels",
    "layer_profile_table",
    "model_profiles",
    "plot_best_layer_map",
    "plot_deficit",
    "plot_electrodes",
    "plot_gain_profile",
    "plot_layer_modality_map",
    "plot_layer_profile",
    "plot_localizer_tvalues",
    "plot_model_profiles",
    "plot_prediction",
    "plot_routing_maps",
    "plot_score_map",
    "plot_score_vs_baseline",
    "plot_sensor_topomap",
    "plot_surface_map",
    "plot_units_per_layer",
    "plot_variance_partition",
    "sensor_info",
]

"""Figures of encoding and localization results, and the HTML report.

Every function takes plain arrays, tidy tables (``scores.tsv``) or core objects
(:class:`~brainalign.EncodingResult`, :class:`~brainalign.Recording`) and
returns a matplotlib figure (or a nilearn display for volume maps).
"""

from ._brain import best_layer, plot_best_layer_map, plot_score_map, plot_surface_map
from ._multimodal import plot_layer_modality_map, plot_variance_partition
from ._localize import plot_deficit, plot_localizer_tvalues, plot_units_per_layer
from ._profiles import layer_profile_table, plot_layer_profile, plot_prediction, plot_score_vs_baseline
from ._report import write_report
from ._sensors import plot_sensor_topomap, sensor_info
from ._study import model_profiles, plot_model_profiles, write_study_report

__all__ = [
    "best_layer",
    "layer_profile_table",
    "model_profiles",
    "plot_best_layer_map",
    "plot_deficit",
    "plot_layer_modality_map",
    "plot_layer_profile",
    "plot_localizer_tvalues",
    "plot_model_profiles",
    "plot_prediction",
    "plot_score_map",
    "plot_score_vs_baseline",
    "plot_sensor_topomap",
    "plot_surface_map",
    "plot_units_per_layer",
    "plot_variance_partition",
    "sensor_info",
    "write_report",
    "write_study_report",
]

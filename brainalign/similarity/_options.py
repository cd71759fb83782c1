"""The ``[rsa]`` options of a study: how rows become RSA conditions, which RDMs, which comparison, which intervals."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field, model_validator

from ..core import Options

__all__ = ["RSAOptions"]


class RSAOptions(Options):
    """Options of a study's representational-similarity analysis (``[analysis] kinds = [..., "rsa"]``).

    Examples
    --------
    >>> RSAOptions(conditions="segments", segment_s=20.0).comparison
    'spearman'
    >>> RSAOptions(conditions="events", segment_s=10.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: ...
    """

    conditions: Literal["segments", "events"] = Field(
        "segments", description=(
            "segments: model features (after the encoding alignment) and brain responses averaged over consecutive "
            "non-overlapping segments of segment_s seconds within each run (naturalistic data); events: one "
            "condition per event label of the timeline, rows = one per event (trial/block data, e.g. Haxby)"))
    segment_s: Optional[float] = Field(None, gt=0, description="segment length in seconds (conditions = 'segments'; "
                                                              "default 20 s)")
    event_delay_s: Optional[float] = Field(
        None, ge=0, description="conditions = 'events' on a continuous recording: rows in [onset + delay, offset + "
                                "delay) of an event are its condition (the response's lag; default 5 s)")
    rois: Optional[dict[str, list[Union[str, int]]]] = Field(
        None, description="regions as lists of target names or column indices, e.g. {left = ['LATL', 'LIFG']} "
                          "(default: the dataset's ROIs, else all targets as one region 'all')")
    rdm_method: Literal["correlation", "euclidean", "crossnobis"] = Field(
        "correlation", description="brain and model RDM distance; crossnobis cross-validates over runs and needs "
                                   "every condition in at least two runs (events only)")
    comparison: Literal["spearman", "tau-a", "cosine", "corr"] = Field(
        "spearman", description="model RDM vs brain RDM similarity (tau-a for categorical models with ties)")
    n_bootstraps: int = Field(1000, ge=0, description="bootstrap resamples of the conditions (whole runs together) "
                                                      "for the interval and the p-value; 0 = none")
    bootstrap: Literal["stimuli", "subjects", "both"] = Field(
        "stimuli", description=(
            "every recording's interval resamples its conditions (stimuli, whole runs at a time); 'subjects' / "
            "'both' add an 'all-subjects' row set per stimulus shared by >= 2 subjects: the mean over their RDMs "
            "with an interval resampling subjects (and conditions)"))
    ci: float = Field(0.95, gt=0, lt=1, description="coverage of the bootstrap interval")
    q: float = Field(0.05, gt=0, lt=1, description="false-discovery rate marked in the report (BH across layers x "
                                                   "ROIs per recording)")
    seed: int = Field(0, description="seed of the bootstrap resamples")

    @model_validator(mode="after")
    def _applies(self):
        if self.conditions == "events" and self.segment_s is not None:
            raise ValueError("config [rsa]: key 'segment_s' applies to conditions = 'segments' only; remove it or "
                             "set conditions = 'segments'")
        empty = [name for name, members in (self.rois or {}).items() if not members]
        if empty:
            raise ValueError(f"config [rsa]: key 'rois' has empty region(s) {empty}; list target names or indices")
        if self.conditions == "segments" and self.event_delay_s is not None:
            raise ValueError("config [rsa]: key 'event_delay_s' applies to conditions = 'events' only; remove it or "
                             "set conditions = 'events'")
        if self.conditions == "segments" and self.rdm_method == "crossnobis":
            raise ValueError("config [rsa]: key 'rdm_method' = 'crossnobis' needs conditions repeated across runs; "
                             "segments are unique to their run: use conditions = 'events' or another rdm_method")
        return self

    @property
    def segment_seconds(self) -> float:
        return 20.0 if self.segment_s is None else float(self.segment_s)

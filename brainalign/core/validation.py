"""Input checks shared by every stage: each raises :class:`BrainalignInputError` naming the value and the fix.

Public so that stages (and user extensions: estimators, adapters) import them
from here rather than from the private module that implements them.
"""

from ._timeline import check_events_in_runs
from ._validation import (
    BrainalignInputError,
    as_1d_float,
    as_2d_float,
    as_float_array,
    as_path,
    check_finite,
    check_runs_contiguous,
    check_same_length,
    count_by_run,
    ordered_unique,
    positive_int,
    positive_or_zero,
    positive_seconds,
    run_labels,
)

__all__ = [
    "BrainalignInputError",
    "as_1d_float",
    "as_2d_float",
    "as_float_array",
    "as_path",
    "check_events_in_runs",
    "check_finite",
    "check_runs_contiguous",
    "check_same_length",
    "count_by_run",
    "ordered_unique",
    "positive_int",
    "positive_or_zero",
    "positive_seconds",
    "run_labels",
]

"""The data model shared by every stage: timelines, features, designs, recordings, results."""

from ._design import Band, DesignMatrix, seconds_to_samples
from ._features import FeatureSet
from ._io import (
    atomic_path,
    atomic_suffixed_path,
    atomic_write_text,
    canonical_json,
    content_key,
    hash_array,
    hash_file,
    load_arrays,
    load_json,
    package_versions,
    save_arrays,
    save_json,
)
from ._levels import BestLevel, best_level
from ._options import Options, closest_key, format_validation_error, options_from_signature, validate_options
from ._recording import Recording
from ._result import EncodingResult
from ._timeline import Timeline
from ._validation import BrainalignInputError

__all__ = [
    "Band",
    "BestLevel",
    "BrainalignInputError",
    "DesignMatrix",
    "EncodingResult",
    "Options",
    "FeatureSet",
    "Recording",
    "Timeline",
    "atomic_path",
    "best_level",
    "atomic_suffixed_path",
    "atomic_write_text",
    "canonical_json",
    "closest_key",
    "content_key",
    "format_validation_error",
    "hash_array",
    "hash_file",
    "load_arrays",
    "load_json",
    "options_from_signature",
    "package_versions",
    "save_arrays",
    "save_json",
    "seconds_to_samples",
    "validate_options",
]

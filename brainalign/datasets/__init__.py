"""Datasets: cards, local lookup, fetchers and loaders.

Each dataset has a registry entry (:data:`REGISTRY`) and a card
``datasets/<name>.md`` at the top of the repository.  Downloads go to
:func:`get_data_home` (``$BRAINALIGN_DATA``, default ``~/brainalign_data``);
the loaders also find the team's shared copies (``$BRAINALIGN_SHARED_DATA``).
"""

from ._fetch import (
    DataUnavailableError,
    check_dataset,
    fetch,
    fetch_alice_brennan2016,
    fetch_broderick2018,
    fetch_lebel2023,
    fetch_meg_masc,
    fetch_narratives,
    fetch_pereira2018,
    find_dataset_dir,
    get_data_home,
    shared_data_home,
)
from ._loaders import (
    AliceData,
    EEGLABData,
    HaxbyData,
    list_subjects_alice,
    load_alice,
    load_eeglab_tutorial,
    load_haxby_subset,
)
from ._loaders_public import (
    BroderickData,
    LeBelData,
    MEGMASCData,
    NarrativesData,
    PereiraData,
    load_broderick2018,
    load_lebel2023,
    load_meg_masc,
    load_narratives,
    load_pereira2018,
)
from ._registry import REGISTRY, DatasetInfo, RemoteFile, get_dataset_info, list_datasets

__all__ = [
    "AliceData",
    "BroderickData",
    "DataUnavailableError",
    "DatasetInfo",
    "EEGLABData",
    "HaxbyData",
    "LeBelData",
    "MEGMASCData",
    "NarrativesData",
    "PereiraData",
    "REGISTRY",
    "RemoteFile",
    "check_dataset",
    "fetch",
    "fetch_alice_brennan2016",
    "fetch_broderick2018",
    "fetch_lebel2023",
    "fetch_meg_masc",
    "fetch_narratives",
    "fetch_pereira2018",
    "find_dataset_dir",
    "get_data_home",
    "get_dataset_info",
    "list_datasets",
    "list_subjects_alice",
    "load_alice",
    "load_broderick2018",
    "load_eeglab_tutorial",
    "load_haxby_subset",
    "load_lebel2023",
    "load_meg_masc",
    "load_narratives",
    "load_pereira2018",
    "shared_data_home",
]

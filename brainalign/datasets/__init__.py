"""Datasets: one module per dataset, each returning :class:`SubjectData`.

Each dataset lives in one module (``alice_brennan2016``, ``narratives``,
``lebel2023``, ``pereira2018``, ``meg_masc``, ``broderick2018``,
``haxby2001_subset``, ``eeglab_tutorial``) holding its card facts
(``INFO``: TR or sampling rate, citation, licence, URL, files), its fetcher,
its loader and its study adapter, registered by name: :func:`get_dataset`.
The long-form card is ``datasets/<name>.md`` at the top of the repository.
Downloads go to :func:`get_data_home` (``$BRAINALIGN_DATA``, default
``~/brainalign_data``); the loaders also find the team's shared copies
(``$BRAINALIGN_SHARED_DATA``).
"""

from ._registry import REGISTRY, DatasetInfo, RemoteFile, get_dataset_info, list_datasets  # noqa: I001
from ._fetch import (
    DataUnavailableError,
    check_dataset,
    fetch,
    find_dataset_dir,
    get_data_home,
    shared_data_home,
)
from ._base import DatasetAdapter, DatasetOptionsError, SubjectData, get_dataset, register_dataset, registered_datasets

# Importing a dataset module registers its card facts and its adapter.
from .alice_brennan2016 import fetch_alice_brennan2016, list_subjects_alice, load_alice
from .broderick2018 import fetch_broderick2018, load_broderick2018
from .eeglab_tutorial import load_eeglab_tutorial
from .haxby2001_subset import load_haxby_subset
from .lebel2023 import fetch_lebel2023, load_lebel2023
from .meg_masc import fetch_meg_masc, load_meg_masc
from .narratives import fetch_narratives, load_narratives
from .pereira2018 import fetch_pereira2018, load_pereira2018

__all__ = [
    "DataUnavailableError",
    "DatasetAdapter",
    "DatasetInfo",
    "DatasetOptionsError",
    "REGISTRY",
    "RemoteFile",
    "SubjectData",
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
    "get_dataset",
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
    "register_dataset",
    "registered_datasets",
    "shared_data_home",
]

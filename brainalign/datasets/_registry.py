"""What brainalign knows about each dataset: source, licence, citation, sampling, files, checksums.

Each dataset module (``brainalign/datasets/<name>.py``) registers its
:class:`DatasetInfo` here; it is the one place its TR / sampling rate is
written.  The long-form description of each entry is its card,
``datasets/<name>.md`` at the top of the repository (checked against these
facts by the tests).  ``sha256`` values marked as coming from the
shared copy are the checksums of the files the test-suite reads; files
without a known checksum are fetched unchecked and their hash is logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it lives in the local folder and where to get it.

    ``url=None`` means there is no stable direct link: download it by hand
    from the dataset's landing page.
    """

    path: str
    url: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    landing_url: str
    licence: str
    citation: str
    modality: str  # "fmri", "fmri-roi", "meg", "eeg", "fmri-betas"
    folder: str  # sub-folder of the data home
    tr: float | None = None
    sfreq: float | None = None
    files: tuple[RemoteFile, ...] = ()
    shared_folder: str | None = None  # name under $BRAINALIGN_SHARED_DATA when a copy is there
    notes: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def card(self) -> str:
        return f"datasets/{self.name}.md"


_OPENNEURO_S3 = "https://s3.amazonaws.com/openneuro.org"


def openneuro_files(dataset_id: str, *paths: str) -> tuple[RemoteFile, ...]:
    """Files of an OpenNeuro dataset, fetched from its public S3 bucket at the same relative paths."""
    return tuple(RemoteFile(path, f"{_OPENNEURO_S3}/{dataset_id}/{path}") for path in paths)


REGISTRY: dict[str, DatasetInfo] = {}


def register_info(info: DatasetInfo) -> DatasetInfo:
    """Add a dataset's card facts to :data:`REGISTRY` (each dataset module registers its own)."""
    REGISTRY[info.name] = info
    return info


def get_dataset_info(name: str) -> DatasetInfo:
    """Registry entry of ``name`` (raises listing the known names)."""
    if name not in REGISTRY:
        raise KeyError(f"Unknown dataset {name!r}; known datasets are {sorted(REGISTRY)}.")
    return REGISTRY[name]


def list_datasets() -> list[str]:
    return sorted(REGISTRY)
